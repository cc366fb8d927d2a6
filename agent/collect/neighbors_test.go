package collect

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/farmwatch/farmwatch/agent/collect/internal/ouigen"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// testdataFile reads a captured command output under testdata/<os>/.
func testdataFile(t *testing.T, osName, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", osName, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// commandEnv answers commands from outputs keyed by "name arg ...";
// a missing key fails like a command that is not installed.
func commandEnv(root string, outputs map[string][]byte) *Env {
	env := rootEnv(root, january)
	env.Command = func(_ context.Context, name string, args ...string) ([]byte, error) {
		key := strings.Join(append([]string{name}, args...), " ")
		if out, ok := outputs[key]; ok {
			return out, nil
		}
		return nil, fmt.Errorf("%s: executable file not found", name)
	}
	return env
}

func nb(ip, mac, ifc string) *pb.Neighbor { return &pb.Neighbor{Ip: ip, Mac: mac, Interface: ifc} }

func equalNeighbors(t *testing.T, got, want []*pb.Neighbor) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d neighbours %v, want %d %v", len(got), got, len(want), want)
	}
	for i := range got {
		if !proto.Equal(got[i], want[i]) {
			t.Errorf("neighbour %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestNormalizeMAC(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"f0:18:98:5:d8:39", "f0:18:98:05:d8:39", true},
		{"1:0:5e:0:0:fb", "01:00:5e:00:00:fb", true},
		{"F0-18-98-05-D8-39", "f0:18:98:05:d8:39", true},
		{`A4\:2B\:B0\:C1\:7E\:03`, "a4:2b:b0:c1:7e:03", true},
		{" aa:bb:cc:dd:ee:ff\n", "aa:bb:cc:dd:ee:ff", true},
		{"(incomplete)", "", false},
		{"aa:bb:cc:dd:ee", "", false},
		{"aa:bb:cc:dd:ee:ff:00:11", "", false},
		{"aa:bb:cc:dd:ee:fff", "", false},
		{"aa::cc:dd:ee:ff", "", false},
		{"gg:bb:cc:dd:ee:ff", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := normalizeMAC(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("normalizeMAC(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestNeighborMAC(t *testing.T) {
	for in, want := range map[string]bool{
		"a4:2b:b0:c1:7e:02": true,
		"02:42:ac:11:00:02": true, // locally administered unicast is still a host
		"00:00:00:00:00:00": false,
		"ff:ff:ff:ff:ff:ff": false,
		"1:0:5e:0:0:fb":     false,
		"33:33:00:00:00:01": false,
	} {
		if _, ok := neighborMAC(in); ok != want {
			t.Errorf("neighborMAC(%q) ok = %v, want %v", in, ok, want)
		}
	}
}

func TestParseArpAn(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []*pb.Neighbor
	}{
		{name: "fixture: unpadded octets padded; incomplete, own, broadcast and multicast dropped",
			in: string(testdataFile(t, "darwin", "arp-an.txt")), want: []*pb.Neighbor{
				nb("192.168.1.20", "30:52:53:0a:09:87", "en0"),
				nb("192.168.1.31", "b8:27:eb:01:02:03", "en0"),
				nb("192.168.1.254", "f0:18:98:05:d8:39", "en0"),
				nb("169.254.12.7", "94:83:c4:12:ab:01", "en0"),
			}},
		{name: "resolved host names are ignored", in: "router.lan (192.168.1.1) at 0:11:22:33:44:55 on en1 ifscope [ethernet]\n",
			want: []*pb.Neighbor{nb("192.168.1.1", "00:11:22:33:44:55", "en1")}},
		{name: "with expiry (macOS 10.x)", in: "? (10.0.0.1) at a:b:c:d:e:f on en0 expires in 1185 seconds [ethernet]\n",
			want: []*pb.Neighbor{nb("10.0.0.1", "0a:0b:0c:0d:0e:0f", "en0")}},
		{name: "bridge neighbours keep their interface", in: "? (192.168.2.5) at 3c:22:fb:8a:51:d4 on bridge100 ifscope [bridge]\n",
			want: []*pb.Neighbor{nb("192.168.2.5", "3c:22:fb:8a:51:d4", "bridge100")}},
		{name: "garbage", in: "arp: bogus: Unknown host\n\n? () at  on\n", want: nil},
		{name: "empty", in: "", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { equalNeighbors(t, parseArpAn([]byte(tt.in)), tt.want) })
	}
}

func TestParseProcNeighbors(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "linux", "laptop", "proc", "net", "arp"))
	if err != nil {
		t.Fatal(err)
	}
	equalNeighbors(t, parseProcNeighbors(b), []*pb.Neighbor{
		nb("192.168.1.1", "a4:2b:b0:c1:7e:02", "wlp2s0"),
		nb("192.168.1.23", "3c:22:fb:8a:51:d4", "wlp2s0"),
		nb("172.17.0.2", "02:42:ac:11:00:02", "docker0"),
		nb("192.168.1.40", "30:52:53:0a:09:87", "wlp2s0"),
		nb("192.168.1.41", "dc:a6:32:4e:7b:10", "wlp2s0"),
	})
}

func TestWindowsNeighbors(t *testing.T) {
	addr := netip.MustParseAddr
	rows := []winNeighbor{
		{IfIndex: 12, Addr: addr("192.168.1.1"), MAC: []byte{0xa4, 0x2b, 0xb0, 0xc1, 0x7e, 0x02}, State: 5},  // reachable
		{IfIndex: 12, Addr: addr("192.168.1.40"), MAC: []byte{0x30, 0x52, 0x53, 0x0a, 0x09, 0x87}, State: 4}, // stale
		{IfIndex: 12, Addr: addr("192.168.1.57"), MAC: make([]byte, 6), State: nlnsUnreachable},
		{IfIndex: 12, Addr: addr("192.168.1.58"), MAC: []byte{1, 2, 3, 4, 5, 6}, State: nlnsIncomplete},
		{IfIndex: 12, Addr: addr("192.168.1.255"), MAC: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, State: nlnsPermanent},
		{IfIndex: 12, Addr: addr("224.0.0.22"), MAC: []byte{0x01, 0x00, 0x5e, 0x00, 0x00, 0x16}, State: nlnsPermanent},
		{IfIndex: 12, Addr: addr("192.168.1.60"), MAC: make([]byte, 6), State: 4},             // zero MAC
		{IfIndex: 7, Addr: addr("172.20.0.9"), MAC: []byte{0, 0x15, 0x5d, 1, 2, 3}, State: 2}, // probe, unnamed interface
		{IfIndex: 12, Addr: addr("10.0.0.1"), MAC: []byte{1, 2, 3, 4}, State: 5},              // not Ethernet
		{IfIndex: 12, Addr: netip.Addr{}, MAC: []byte{0, 1, 2, 3, 4, 5}, State: 5},
	}
	got := windowsNeighbors(rows, map[uint32]string{12: "Wi-Fi"})
	equalNeighbors(t, got, []*pb.Neighbor{
		nb("192.168.1.1", "a4:2b:b0:c1:7e:02", "Wi-Fi"),
		nb("192.168.1.40", "30:52:53:0a:09:87", "Wi-Fi"),
		nb("172.20.0.9", "00:15:5d:01:02:03", "7"),
	})
	if mac := neighborFor(got, "192.168.1.1", "Wi-Fi"); mac != "a4:2b:b0:c1:7e:02" {
		t.Errorf("neighborFor gateway = %q", mac)
	}
	if mac := neighborFor(got, "192.168.1.1", "Ethernet"); mac != "" {
		t.Errorf("neighborFor on another interface = %q, want empty", mac)
	}
}

func TestKVMVendorList(t *testing.T) {
	l, err := loadKVMVendors()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range l {
		if v.Source == "" || v.Organization == "" {
			t.Errorf("%s: every entry needs its source and organisation", v.Prefix)
		}
	}
	tests := []struct {
		mac, vendor, confidence string
	}{
		{"30:52:53:0a:09:87", "jetkvm", "high"},
		{"30:52:53:a:9:87", "jetkvm", "high"},
		{"94:83:C4:12:AB:01", "gl.inet (GL-RM1 Comet KVM or GL.iNet router)", "medium"},
		{"dc:a6:32:4e:7b:10", "raspberry-pi (PiKVM/TinyPilot hardware)", "low"},
		{"b8:27:eb:01:02:03", "raspberry-pi (PiKVM/TinyPilot hardware)", "low"},
		{"2c:cf:67:00:00:01", "raspberry-pi (PiKVM/TinyPilot hardware)", "low"},
		{"a4:2b:b0:c1:7e:02", "", ""},
		{"32:52:53:0a:09:87", "", ""}, // locally administered: no vendor
		{"30:52:54:0a:09:87", "", ""},
		// TinyPilot's MA-M block: the first 28 bits, not the first 24.
		{"04:c9:8b:1a:00:07", "tinypilot", "high"},
		{"04:C9:8B:1F:FF:FF", "tinypilot", "high"},
		{"04:c9:8b:20:00:07", "", ""},
		{"04:c9:8b:0f:ff:ff", "", ""},
		{"not a mac", "", ""},
	}
	for _, tt := range tests {
		v, ok := l.match(tt.mac)
		if ok != (tt.vendor != "") || v.Vendor != tt.vendor || v.Confidence != tt.confidence {
			t.Errorf("match(%q) = %q %q %v, want %q %q", tt.mac, v.Vendor, v.Confidence, ok, tt.vendor, tt.confidence)
		}
	}
}

func TestParseKVMVendorsRejects(t *testing.T) {
	const head = `{"version":"1","registry":{"source":"s","date":"2022-08-27"},"vendors":[`
	for name, doc := range map[string]string{
		"not json":       `{`,
		"no registry":    `{"version":"1","vendors":[]}`,
		"bad prefix":     head + `{"prefix":"30:52","bits":16,"vendor":"x","confidence":"high","source":"s"}]}`,
		"32-bit prefix":  head + `{"prefix":"30:52:53:01","bits":32,"vendor":"x","confidence":"high","source":"s"}]}`,
		"bits disagree":  head + `{"prefix":"30:52:53:1","bits":24,"vendor":"x","confidence":"high","source":"s"}]}`,
		"not hex":        head + `{"prefix":"30:52:5g","bits":24,"vendor":"x","confidence":"high","source":"s"}]}`,
		"no source":      head + `{"prefix":"30:52:53","bits":24,"vendor":"x","confidence":"high"}]}`,
		"no vendor":      head + `{"prefix":"30:52:53","bits":24,"confidence":"high","source":"s"}]}`,
		"bad confidence": head + `{"prefix":"30:52:53","bits":24,"vendor":"x","confidence":"sure","source":"s"}]}`,
		"duplicate": head + `{"prefix":"30:52:53","bits":24,"vendor":"x","confidence":"high","source":"s"},
			{"prefix":"30:52:53","bits":24,"vendor":"y","confidence":"low","source":"s"}]}`,
	} {
		if _, err := parseKVMVendors([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// An MA-S block inside an MA-L of another organization belongs to the MA-S
// owner; the rest of the MA-L stays the MA-L owner's.
func TestKVMVendorLongestPrefix(t *testing.T) {
	l, err := parseKVMVendors([]byte(`{"version":"1","registry":{"source":"s","date":"2022-08-27"},"vendors":[
		{"prefix":"70:b3:d5","bits":24,"vendor":"router-maker","confidence":"low","source":"s"},
		{"prefix":"70:b3:d5:e","bits":28,"vendor":"mam-owner","confidence":"medium","source":"s"},
		{"prefix":"70:b3:d5:f2:f","bits":36,"vendor":"mas-owner","confidence":"high","source":"s"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for mac, want := range map[string]string{
		"70:b3:d5:f2:f1:23": "mas-owner",
		"70:b3:d5:e1:23:45": "mam-owner",
		"70:b3:d5:f3:f1:23": "router-maker",
		"70:b3:d4:f2:f1:23": "",
	} {
		if v, _ := l.match(mac); v.Vendor != want {
			t.Errorf("match(%s) = %q, want %q", mac, v.Vendor, want)
		}
	}
}

// The committed list is what the generator makes of the curated list and
// the installed IEEE registry (Debian's ieee-data).
func TestKVMVendorListMatchesRegistry(t *testing.T) {
	const dir = "/usr/share/ieee-data"
	if _, err := os.Stat(filepath.Join(dir, "oui.csv")); err != nil {
		t.Skipf("IEEE registry not installed (%v): install the ieee-data package (scripts/ci-packages.sh) to check kvm_vendors.json", err)
	}
	snap, err := ouigen.ReadRegistry(dir)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := parseKVMVendorsDoc(kvmVendorsJSON)
	if err != nil {
		t.Fatal(err)
	}
	if committed.Registry.Date != snap.Date {
		t.Skipf("kvm_vendors.json was generated from the registry of %s, %s is installed: rerun go generate to compare",
			committed.Registry.Date, snap.Date)
	}
	cur, err := ouigen.ParseCurated(readFixtureFile(t, "kvm_vendors_curated.json"))
	if err != nil {
		t.Fatal(err)
	}
	list, err := ouigen.Generate(cur, snap)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ouigen.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != string(kvmVendorsJSON) {
		t.Errorf("kvm_vendors.json differs from the generator's output on the installed registry: rerun go generate ./agent/collect/")
	}
	// Every block the registry gives a curated organization is listed.
	l, err := loadKVMVendors()
	if err != nil {
		t.Fatal(err)
	}
	orgs := map[string]bool{}
	for _, o := range cur.Organizations {
		orgs[o.Organization] = true
	}
	for _, a := range snap.Assignments {
		if orgs[a.Organization] {
			if v, ok := l[a.Prefix]; !ok || v.Organization != a.Organization {
				t.Errorf("%s %s of %s missing from kvm_vendors.json", a.Registry, a.Prefix, a.Organization)
			}
		}
	}
}

func readFixtureFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFlagAndSortNeighbors(t *testing.T) {
	ns := parseArpAn(testdataFile(t, "darwin", "arp-an.txt"))
	ns = append(ns, nb("10.0.0.9", "30:52:53:00:00:01", "bridge100"))
	if err := flagKVMVendors(ns); err != nil {
		t.Fatal(err)
	}
	sortNeighbors(ns)
	var got []string
	for _, n := range ns {
		got = append(got, n.GetInterface()+" "+n.GetIp()+" "+n.GetFlaggedVendor()+"/"+n.GetFlagConfidence())
	}
	want := []string{
		"bridge100 10.0.0.9 jetkvm/high",
		"en0 169.254.12.7 gl.inet (GL-RM1 Comet KVM or GL.iNet router)/medium",
		"en0 192.168.1.20 jetkvm/high",
		"en0 192.168.1.31 raspberry-pi (PiKVM/TinyPilot hardware)/low",
		"en0 192.168.1.254 /",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
