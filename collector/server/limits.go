package server

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// RateLimits bound how hard one device, one enrollment token or one client
// address can push the collector. An agent calls once per report interval
// (minutes); the defaults leave room for spool flushes after an outage.
//
// What the enrollment limits protect is CPU and the store, not the token
// space: a token is 128 random bits, so guessing one is hopeless at any rate
// a network carries. A token that does not exist costs one read and nothing
// else (no CSR is parsed or signed, nothing is written), so a guesser's cost
// to the collector is its TLS handshakes, which the certificate-less
// connection limits bound (ConnLimits). Signing and the write happen only for
// an existing, unspent token, at most TokenAttempts times per token. Failures
// from one client address (the PROXY-derived one) put that address in a
// growing backoff in which its failing attempts are answered "wait" and no
// longer logged; a valid token is served from any address at any time, so a
// guesser behind a NAT or a balancer cannot lock out the laptops beside it.
type RateLimits struct {
	// DeviceRate and DeviceBurst: Report calls per second per device.
	DeviceRate  float64
	DeviceBurst int
	// TokenAttempts per TokenWindow: enrollment attempts with one existing
	// token, whatever its state.
	TokenAttempts int
	TokenWindow   time.Duration
	// BadTokenLimit failed enrollments from one address within
	// BadTokenWindow are free; each further one doubles the address's
	// backoff, from BackoffBase up to BackoffMax.
	BadTokenLimit  int
	BadTokenWindow time.Duration
	BackoffBase    time.Duration
	BackoffMax     time.Duration
}

// DefaultRateLimits are the collector's defaults.
func DefaultRateLimits() RateLimits {
	return RateLimits{DeviceRate: 10, DeviceBurst: 100, TokenAttempts: 5, TokenWindow: time.Minute,
		BadTokenLimit: 10, BadTokenWindow: 10 * time.Minute, BackoffBase: 5 * time.Second, BackoffMax: 15 * time.Minute}
}

// maxTrackedAddrs bounds the per-address failure state; past it a new
// address goes untracked, which costs nothing but the courtesy of a backoff.
const maxTrackedAddrs = 1 << 16

type limiter struct {
	cfg RateLimits
	now func() time.Time

	mu      sync.Mutex
	devices map[string]*rate.Limiter
	tokens  map[[32]byte][]time.Time // attempts per existing token's hash
	addrs   map[netip.Prefix]*addrFailures
	lastGC  time.Time
}

// addrFailures is one client address's recent failed enrollments.
type addrFailures struct {
	failures []time.Time
	backoff  time.Duration // the last step; 0 before the first
	until    time.Time
}

func newLimiter(cfg RateLimits, now func() time.Time) *limiter {
	return &limiter{cfg: cfg, now: now, devices: map[string]*rate.Limiter{}, tokens: map[[32]byte][]time.Time{},
		addrs: map[netip.Prefix]*addrFailures{}}
}

func (l *limiter) allowDevice(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.devices[id]
	if lim == nil {
		lim = rate.NewLimiter(rate.Limit(l.cfg.DeviceRate), l.cfg.DeviceBurst)
		l.devices[id] = lim
	}
	return lim.AllowN(l.now(), 1)
}

// tokenAttempt records an attempt with an existing token (by its hash) and
// refuses it past TokenAttempts in TokenWindow.
func (l *limiter) tokenAttempt(hash [32]byte) error {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gc(now)
	recent := within(l.tokens[hash], now, l.cfg.TokenWindow)
	if len(recent) >= l.cfg.TokenAttempts {
		l.tokens[hash] = recent
		return status.Errorf(codes.ResourceExhausted, "too many attempts with this token: retry after %s", l.cfg.TokenWindow)
	}
	l.tokens[hash] = append(recent, now)
	return nil
}

// enrollFailed counts a failed enrollment from ip. It says how many
// failures the address has in the window, whether it was already backing off
// when this one came (its answer becomes "wait"), until when it backs off
// now (zero within the free allowance), and whether this failure started
// the backoff.
func (l *limiter) enrollFailed(ip netip.Addr) (n int, backingOff bool, until time.Time, started bool) {
	now := l.now()
	key := addrKey(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gc(now)
	a := l.addrs[key]
	if a == nil {
		if len(l.addrs) >= maxTrackedAddrs {
			return 0, false, time.Time{}, false
		}
		a = &addrFailures{}
		l.addrs[key] = a
	}
	backingOff = now.Before(a.until)
	a.failures = append(within(a.failures, now, l.cfg.BadTokenWindow), now)
	if len(a.failures) <= l.cfg.BadTokenLimit {
		return len(a.failures), backingOff, time.Time{}, false
	}
	a.backoff = min(max(2*a.backoff, l.cfg.BackoffBase), l.cfg.BackoffMax)
	a.until = now.Add(a.backoff)
	return len(a.failures), backingOff, a.until, !backingOff
}

// addrKey is the unit a client address is limited by: an IPv4 address, or
// an IPv6 /64 (one host or home usually holds a whole /64).
func addrKey(ip netip.Addr) netip.Prefix {
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}

func within(ts []time.Time, now time.Time, window time.Duration) []time.Time {
	out := ts[:0]
	for _, t := range ts {
		if now.Sub(t) < window {
			out = append(out, t)
		}
	}
	return out
}

// gc drops state older than any window, at most once a minute.
func (l *limiter) gc(now time.Time) {
	if now.Sub(l.lastGC) < time.Minute {
		return
	}
	l.lastGC = now
	for k, v := range l.tokens {
		if len(within(v, now, l.cfg.TokenWindow)) == 0 {
			delete(l.tokens, k)
		}
	}
	for k, a := range l.addrs {
		if a.failures = within(a.failures, now, l.cfg.BadTokenWindow); len(a.failures) == 0 && !now.Before(a.until) {
			delete(l.addrs, k)
		}
	}
	if len(l.devices) > 200000 {
		l.devices = map[string]*rate.Limiter{} // a reset costs only burst allowance
	}
}

func (s *Server) limitInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	// Enrollment is limited inside Enroll: its limits depend on what the
	// token turns out to be.
	if info.FullMethod == pb.AgentService_Report_FullMethodName {
		id := identityFrom(ctx)
		if !s.limiter.allowDevice(id.Name) {
			n := 0
			if r, ok := req.(*pb.ReportRequest); ok {
				n = len(r.GetReports())
			}
			return nil, s.metrics.reject(RejectRateLimited, n,
				status.Errorf(codes.ResourceExhausted, "device %s is over %g calls a second: back off and retry", id.Name, s.limiter.cfg.DeviceRate))
		}
	}
	return handler(ctx, req)
}
