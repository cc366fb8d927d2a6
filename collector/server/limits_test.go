package server

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestAddrKey(t *testing.T) {
	for in, want := range map[string]string{
		"198.51.100.7":        "198.51.100.7/32",
		"2001:db8:1:2:3::9":   "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::": "2001:db8:1:2::/64",
	} {
		if got := addrKey(netip.MustParseAddr(in)).String(); got != want {
			t.Errorf("addrKey(%s) = %s, want %s", in, got, want)
		}
	}
}

// Failures beyond the free allowance back an address off, doubling up to
// the cap, and the backoff ends when it runs out; other addresses are
// untouched.
func TestEnrollFailureBackoff(t *testing.T) {
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	l := newLimiter(RateLimits{BadTokenLimit: 3, BadTokenWindow: time.Hour, BackoffBase: time.Second, BackoffMax: 4 * time.Second},
		func() time.Time { return now })
	nat := netip.MustParseAddr("198.51.100.20")
	for i := range 3 {
		if _, backingOff, until, _ := l.enrollFailed(nat); backingOff || !until.IsZero() {
			t.Fatalf("failure %d, within the allowance: backing off %v until %s", i+1, backingOff, until)
		}
	}
	_, backingOff, until, started := l.enrollFailed(nat)
	if backingOff || !started || until != now.Add(time.Second) {
		t.Fatalf("4th failure: backing off %v, started %v, until %s; want a 1 s backoff starting", backingOff, started, until)
	}
	var steps []time.Duration
	for range 4 {
		_, backingOff, until, _ = l.enrollFailed(nat)
		if !backingOff {
			t.Fatal("a failure during the backoff was not answered as backing off")
		}
		steps = append(steps, until.Sub(now))
	}
	if want := []time.Duration{2 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second}; !slices.Equal(steps, want) {
		t.Fatalf("backoff steps %v, want %v", steps, want)
	}
	if _, backingOff, _, _ := l.enrollFailed(netip.MustParseAddr("198.51.100.21")); backingOff {
		t.Fatal("a neighbouring address backs off too")
	}
	now = now.Add(5 * time.Second)
	if _, backingOff, _, started := l.enrollFailed(nat); backingOff || !started {
		t.Fatalf("after the backoff ran out: backing off %v, started %v; want a new backoff starting", backingOff, started)
	}
}
