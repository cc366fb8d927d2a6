package collect

import "testing"

func TestHashSerial(t *testing.T) {
	const want = "9c360b62ed6d45f539b1990ee23e0716b2b19c37e46de6e0d9335ad0b1204fd0" // SHA-256 of "7H3KQ74"
	for _, in := range []string{"7H3KQ74", "7H3KQ74\n", "  7H3KQ74 "} {
		if got := hashSerial(in); got != want {
			t.Errorf("hashSerial(%q) = %s, want %s", in, got, want)
		}
	}
	if hashSerial("7H3KQ75") == want {
		t.Error("different serials hash alike")
	}
}

func TestPlaceholderSerial(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"To Be Filled By O.E.M.", true},
		{"Default string\n", true},
		{"System Serial Number", true},
		{"Not Specified", true},
		{"0", true},
		{"00000000", true},
		{"FFFFFFFF", true},
		{"0123456789", true},
		{"", true},
		{"7H3KQ74", false},
		{"C02XK1ZXJG5J", false},
		{"PF3ABCDE", false},
		{"VMware-56 4d 8e 1a 2b 3c 4d 5e-6f 70 81 92 a3 b4 c5 d6", false},
	}
	for _, tt := range tests {
		if got := placeholderSerial(tt.in); got != tt.want {
			t.Errorf("placeholderSerial(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseOSRelease(t *testing.T) {
	kv := parseOSRelease([]byte("# comment\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\nID_LIKE='rhel fedora'\nbroken line\n"))
	if kv["ID"] != "debian" || kv["VERSION_ID"] != "12" || kv["ID_LIKE"] != "rhel fedora" || kv["PRETTY_NAME"] != "Debian GNU/Linux 12 (bookworm)" {
		t.Fatalf("parsed %v", kv)
	}
}
