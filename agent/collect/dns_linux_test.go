package collect

import (
	"context"
	"reflect"
	"testing"
)

func TestDNSServers(t *testing.T) {
	stubOnly := t.TempDir()
	writeFiles(t, stubOnly, map[string]string{"etc/resolv.conf": "nameserver 127.0.0.53\noptions edns0 trust-ad\n"})
	emptyUpstream := t.TempDir()
	writeFiles(t, emptyUpstream, map[string]string{
		"etc/resolv.conf":                 "nameserver 127.0.0.53\n",
		"run/systemd/resolve/resolv.conf": "# no uplink yet\n",
	})
	stubAndOther := t.TempDir()
	writeFiles(t, stubAndOther, map[string]string{
		"etc/resolv.conf":                 "nameserver 127.0.0.53\nnameserver 10.0.0.1\n",
		"run/systemd/resolve/resolv.conf": "nameserver 192.168.1.1\n",
	})
	noServer := t.TempDir()
	writeFiles(t, noServer, map[string]string{"etc/resolv.conf": "search lan\n"})

	tests := []struct {
		name    string
		env     *Env
		want    []string
		wantErr bool
	}{
		{name: "stub resolved through the upstream file", env: fixtureEnv(t, "laptop", january),
			want: []string{"192.168.1.1", "1.1.1.1", "fe80::1"}},
		{name: "plain resolv.conf", env: fixtureEnv(t, "plain", january),
			want: []string{"8.8.8.8", "2001:4860:4860::8888"}},
		{name: "stub without upstream file", env: rootEnv(stubOnly, january), want: []string{"127.0.0.53"}},
		{name: "stub with empty upstream file", env: rootEnv(emptyUpstream, january), want: []string{"127.0.0.53"}},
		{name: "stub among other servers is kept as written", env: rootEnv(stubAndOther, january),
			want: []string{"127.0.0.53", "10.0.0.1"}},
		{name: "no nameserver", env: rootEnv(noServer, january), wantErr: true},
		{name: "no resolv.conf", env: rootEnv(t.TempDir(), january), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := dnsServers(context.Background(), tt.env)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
