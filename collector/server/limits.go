package server

import (
	"context"
	"crypto/sha256"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// RateLimits bound how hard one device, one enrollment token or one source
// address can push the collector. An agent calls once per report interval
// (minutes); the defaults leave room for spool flushes after an outage.
type RateLimits struct {
	// DeviceRate and DeviceBurst: Report calls per second per device.
	DeviceRate  float64
	DeviceBurst int
	// TokenAttempts per TokenWindow: enrollment attempts with one token.
	TokenAttempts int
	TokenWindow   time.Duration
	// After BadTokenLimit failed enrollments from one address within
	// BadTokenWindow, that address is locked out for Lockout.
	BadTokenLimit  int
	BadTokenWindow time.Duration
	Lockout        time.Duration
}

// DefaultRateLimits are the collector's defaults.
func DefaultRateLimits() RateLimits {
	return RateLimits{DeviceRate: 10, DeviceBurst: 100, TokenAttempts: 5, TokenWindow: time.Minute,
		BadTokenLimit: 10, BadTokenWindow: 10 * time.Minute, Lockout: 15 * time.Minute}
}

type limiter struct {
	cfg RateLimits
	now func() time.Time

	mu       sync.Mutex
	devices  map[string]*rate.Limiter
	tokens   map[[32]byte][]time.Time // attempts per token hash
	failures map[netip.Addr][]time.Time
	locked   map[netip.Addr]time.Time
	lastGC   time.Time
}

func newLimiter(cfg RateLimits, now func() time.Time) *limiter {
	return &limiter{cfg: cfg, now: now, devices: map[string]*rate.Limiter{}, tokens: map[[32]byte][]time.Time{},
		failures: map[netip.Addr][]time.Time{}, locked: map[netip.Addr]time.Time{}}
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

// enrollGate refuses an enrollment attempt from a locked-out address or
// with a token tried too often; it records the attempt.
func (l *limiter) enrollGate(ip netip.Addr, token string) error {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gc(now)
	if until, ok := l.locked[ip]; ok && now.Before(until) {
		return status.Errorf(codes.ResourceExhausted, "too many failed enrollments from %s: locked out until %s", ip, until.UTC().Format(time.RFC3339))
	}
	h := sha256.Sum256([]byte(token))
	recent := within(l.tokens[h], now, l.cfg.TokenWindow)
	if len(recent) >= l.cfg.TokenAttempts {
		return status.Errorf(codes.ResourceExhausted, "too many attempts with this token: retry after %s", l.cfg.TokenWindow)
	}
	l.tokens[h] = append(recent, now)
	return nil
}

// enrollFailed counts a failed enrollment (bad, spent or expired token).
func (l *limiter) enrollFailed(ip netip.Addr) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	f := append(within(l.failures[ip], now, l.cfg.BadTokenWindow), now)
	l.failures[ip] = f
	if len(f) >= l.cfg.BadTokenLimit {
		l.locked[ip] = now.Add(l.cfg.Lockout)
		delete(l.failures, ip)
	}
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
	for k, v := range l.failures {
		if len(within(v, now, l.cfg.BadTokenWindow)) == 0 {
			delete(l.failures, k)
		}
	}
	for k, until := range l.locked {
		if now.After(until) {
			delete(l.locked, k)
		}
	}
	if len(l.devices) > 200000 {
		l.devices = map[string]*rate.Limiter{} // a reset costs only burst allowance
	}
}

func (s *Server) limitInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	switch info.FullMethod {
	case pb.AgentService_Report_FullMethodName:
		id := identityFrom(ctx)
		if !s.limiter.allowDevice(id.Name) {
			return nil, status.Errorf(codes.ResourceExhausted, "device %s is over %g calls a second: back off and retry", id.Name, s.limiter.cfg.DeviceRate)
		}
	case pb.AgentService_Enroll_FullMethodName:
		ip := clientAddr(ctx)
		if err := s.limiter.enrollGate(ip, req.(*pb.EnrollRequest).GetToken()); err != nil {
			return nil, err
		}
		resp, err := handler(ctx, req)
		if status.Code(err) == codes.Unauthenticated {
			s.limiter.enrollFailed(ip)
		}
		return resp, err
	}
	return handler(ctx, req)
}
