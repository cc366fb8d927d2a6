package collect

import "testing"

func TestZoneFromLink(t *testing.T) {
	tests := []struct{ in, want string }{
		{"../usr/share/zoneinfo/America/Chicago", "America/Chicago"},
		{"/usr/share/zoneinfo/Europe/Berlin", "Europe/Berlin"},
		{"/usr/share/zoneinfo/America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires"},
		{"/usr/share/zoneinfo/UTC", "UTC"},
		{"/usr/share/zoneinfo/posix/Asia/Kolkata", "Asia/Kolkata"},
		{"/usr/share/zoneinfo/right/America/New_York", "America/New_York"},
		{"/usr/lib/zoneinfo/Asia/Manila", "Asia/Manila"},
		// macOS: /etc/localtime -> /var/db/timezone/zoneinfo/..., itself a link
		// into a versioned tz tree.
		{"/var/db/timezone/zoneinfo/America/Los_Angeles", "America/Los_Angeles"},
		{"/var/db/timezone/tz/2025b.1.0/zoneinfo/Asia/Seoul", "Asia/Seoul"},
		{"/etc/alternatives/localtime", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := zoneFromLink(tt.in); got != tt.want {
			t.Errorf("zoneFromLink(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLocaleName(t *testing.T) {
	vars := map[string]string{"LANG": "en_US.UTF-8", "LC_MESSAGES": "ko_KR.UTF-8"}
	env := &Env{Getenv: func(k string) string { return vars[k] }}
	if got := localeName(env); got != "ko_KR.UTF-8" {
		t.Errorf("LC_MESSAGES over LANG: got %q", got)
	}
	vars["LC_ALL"] = "C.UTF-8"
	if got := localeName(env); got != "C.UTF-8" {
		t.Errorf("LC_ALL first: got %q", got)
	}
}
