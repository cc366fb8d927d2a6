//go:build linux || darwin

package collect

import (
	"context"
	"testing"
)

func TestTimeZone(t *testing.T) {
	withTZ := func(tz string) *Env {
		env := rootEnv(t.TempDir(), january)
		env.Getenv = func(k string) string {
			if k == "TZ" {
				return tz
			}
			return ""
		}
		return env
	}
	notZoneinfo := t.TempDir()
	writeFiles(t, notZoneinfo, map[string]string{
		"etc/localtime": "->/etc/alternatives/localtime",
		"etc/timezone":  "Europe/Lisbon\n",
	})
	tests := []struct {
		name    string
		env     *Env
		want    string
		wantErr bool
	}{
		{name: "relative zoneinfo link", env: fixtureEnv(t, "laptop", january), want: "America/Chicago"},
		{name: "Debian /etc/timezone", env: fixtureEnv(t, "plain", january), want: "Asia/Seoul"},
		{name: "link outside zoneinfo falls back to /etc/timezone", env: rootEnv(notZoneinfo, january), want: "Europe/Lisbon"},
		{name: "TZ with a leading colon", env: withTZ(":Europe/Paris"), want: "Europe/Paris"},
		{name: "TZ as a file path is no IANA name", env: withTZ("/usr/share/zoneinfo/Europe/Paris"), wantErr: true},
		{name: "nothing", env: withTZ(""), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := timeZone(context.Background(), tt.env)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
