package collect

import (
	"context"
	"reflect"
	"testing"
	"time"
)

func TestCollectFixtureLaptop(t *testing.T) {
	tests := []struct {
		name   string
		now    time.Time
		offset int32
	}{
		{"january is CST", january, -6 * 3600},
		{"july is CDT", july, -5 * 3600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := fixtureEnv(t, "laptop", tt.now)
			env.Getenv = func(k string) string {
				if k == "LANG" {
					return "en_US.UTF-8"
				}
				return ""
			}
			r := Collect(context.Background(), env, Options{Only: []string{"gateway", "dns", "locale"}})
			if len(r.GetErrors()) != 0 {
				t.Fatalf("errors: %v", r.GetErrors())
			}
			n := r.GetNetwork()
			if n.GetDefaultGateway() != "192.168.1.1" || n.GetGatewayMac() != "a4:2b:b0:c1:7e:02" {
				t.Errorf("gateway %q %q, want 192.168.1.1 a4:2b:b0:c1:7e:02", n.GetDefaultGateway(), n.GetGatewayMac())
			}
			if want := []string{"192.168.1.1", "1.1.1.1", "fe80::1"}; !reflect.DeepEqual(n.GetDnsServers(), want) {
				t.Errorf("dns %q, want %q", n.GetDnsServers(), want)
			}
			l := r.GetLocale()
			if l.GetTimeZone() != "America/Chicago" || l.GetUtcOffsetSeconds() != tt.offset || l.GetLocale() != "en_US.UTF-8" {
				t.Errorf("locale %q %d %q, want America/Chicago %d en_US.UTF-8",
					l.GetTimeZone(), l.GetUtcOffsetSeconds(), l.GetLocale(), tt.offset)
			}
			if len(r.GetHealth().GetCollectors()) != 3 {
				t.Errorf("health: %v", r.GetHealth().GetCollectors())
			}
			for _, c := range r.GetHealth().GetCollectors() {
				if !c.GetOk() {
					t.Errorf("collector %s not ok", c.GetName())
				}
			}
		})
	}
}

func TestCollectFixturePlain(t *testing.T) {
	r := Collect(context.Background(), fixtureEnv(t, "plain", january),
		Options{Only: []string{"gateway", "dns", "locale"}})
	if len(r.GetErrors()) != 1 || r.GetErrors()[0].GetCollector() != "gateway" {
		t.Errorf("errors = %v, want only the gateway's (no /proc/net/route)", r.GetErrors())
	}
	if r.GetNetwork().GetDefaultGateway() != "" {
		t.Errorf("gateway %q from a root without routes", r.GetNetwork().GetDefaultGateway())
	}
	if want := []string{"8.8.8.8", "2001:4860:4860::8888"}; !reflect.DeepEqual(r.GetNetwork().GetDnsServers(), want) {
		t.Errorf("dns %q, want %q", r.GetNetwork().GetDnsServers(), want)
	}
	if l := r.GetLocale(); l.GetTimeZone() != "Asia/Seoul" || l.GetUtcOffsetSeconds() != 9*3600 {
		t.Errorf("locale %q %d, want Asia/Seoul +9h", l.GetTimeZone(), l.GetUtcOffsetSeconds())
	}
}
