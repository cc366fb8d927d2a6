package uplink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/farmwatch/farmwatch/collector/pki"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// EnrollOptions are what `farmwatch-agent enroll` is given.
type EnrollOptions struct {
	Collector string
	// Collectors, when set, are the collector addresses in order of
	// preference (Collector is then not used): enrollment goes to the first
	// that answers, and the identity keeps them all.
	Collectors []string
	Token      string
	// CAFingerprint pins the collector CA (SHA-256 of its certificate). When
	// empty the CA presented at enrollment is trusted on first use and
	// pinned from then on.
	CAFingerprint string
	Hostname      string
	OS            string
	AgentVersion  string
	// DialOptions are added to the connection's (a custom dialer, say).
	DialOptions []grpc.DialOption
}

// Deadlines and keepalive of the agent's calls: a dead network path must fail
// a call, not stall collection, and the spool keeps what was not delivered.
const (
	// EnrollTimeout bounds enrollment: one small call, and a signature.
	EnrollTimeout = 30 * time.Second
	// DefaultCallTimeout bounds one report call. A batch is at most a few
	// hundred KiB, acknowledged after one commit; a call still unanswered
	// after a minute is on a path that is gone or a collector that is stuck,
	// and the agent retries later either way.
	DefaultCallTimeout = time.Minute
	// KeepaliveTime: while a call is in flight and the connection has been
	// silent this long, the agent pings the collector, and closes the
	// connection when no answer comes within KeepaliveTimeout. The
	// collector disconnects clients that ping more often than its
	// server.KeepaliveMinTime (20 s), so this must not go below it. Idle
	// connections are not pinged: an agent calls every few minutes anyway.
	KeepaliveTime    = 30 * time.Second
	KeepaliveTimeout = 15 * time.Second
)

var keepaliveParams = grpc.WithKeepaliveParams(keepalive.ClientParameters{
	Time: KeepaliveTime, Timeout: KeepaliveTimeout, PermitWithoutStream: false})

// Enroll trades a token for a device identity, within EnrollTimeout for
// each collector tried. With several collectors (which share one store,
// and so one set of tokens), an unreachable or unavailable one is passed
// over for the next.
func Enroll(ctx context.Context, o EnrollOptions) (*Identity, string, error) {
	targets := o.Collectors
	if len(targets) == 0 {
		targets = []string{o.Collector}
	}
	keyPEM, csrPEM, err := pki.NewKeyAndCSR(o.Hostname)
	if err != nil {
		return nil, "", err
	}
	var errs []error
	for _, target := range targets {
		id, fp, err := enrollWith(ctx, target, o, keyPEM, csrPEM)
		if err == nil {
			id.Collector = targets[0]
			if len(targets) > 1 {
				id.Collectors = targets
			}
			return id, fp, nil
		}
		if len(targets) == 1 {
			return nil, "", err
		}
		errs = append(errs, fmt.Errorf("%s: %w", target, err))
		if ctx.Err() != nil || !failoverCode(err) {
			break
		}
	}
	return nil, "", errors.Join(errs...)
}

func enrollWith(ctx context.Context, target string, o EnrollOptions, keyPEM, csrPEM []byte) (*Identity, string, error) {
	ctx, cancel := context.WithTimeout(ctx, EnrollTimeout)
	defer cancel()
	want := pki.NormalizeFingerprint(o.CAFingerprint)
	var seenCA *x509.Certificate
	tcfg := &tls.Config{
		MinVersion: tls.VersionTLS13,
		// The chain is checked below against the CA the server presents,
		// which must match the pinned fingerprint when one is given. The
		// server name is the target's host, which gRPC sets.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) < 2 {
				return errors.New("collector did not present its CA certificate")
			}
			ca := cs.PeerCertificates[len(cs.PeerCertificates)-1]
			if want != "" && pki.Fingerprint(ca) != want {
				return fmt.Errorf("collector CA fingerprint %s does not match the pinned %s", pki.Fingerprint(ca), want)
			}
			pool := x509.NewCertPool()
			pool.AddCert(ca)
			if _, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool, DNSName: cs.ServerName}); err != nil {
				return fmt.Errorf("collector certificate: %w", err)
			}
			seenCA = ca
			return nil
		},
	}
	opts := append([]grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(tcfg)), keepaliveParams}, o.DialOptions...)
	conn, err := grpc.NewClient(target, opts...)
	if err != nil {
		return nil, "", fmt.Errorf("connect to %s: %w", target, err)
	}
	defer conn.Close()
	resp, err := pb.NewAgentServiceClient(conn).Enroll(ctx, &pb.EnrollRequest{
		Token: o.Token, CsrPem: csrPEM, Hostname: o.Hostname, Os: o.OS, AgentVersion: o.AgentVersion})
	if err != nil {
		return nil, "", err
	}
	ca, err := pki.ParseCertPEM(resp.GetCaPem())
	if err != nil {
		return nil, "", fmt.Errorf("collector CA in response: %w", err)
	}
	if seenCA == nil || !ca.Equal(seenCA) {
		return nil, "", errors.New("the CA in the enrollment response differs from the one the collector presented")
	}
	id := &Identity{DeviceID: resp.GetDeviceId(), HireID: resp.GetHireId(), Collector: target,
		ReportIntervalSeconds: resp.GetReportIntervalSeconds(),
		CertPEM:               resp.GetCertificatePem(), KeyPEM: keyPEM, CAPEM: resp.GetCaPem()}
	return id, pki.Fingerprint(ca), nil
}

// DefaultReturnInterval is how long an agent that failed over to a fallback
// collector delivers there before it checks whether a collector earlier in
// its list, the preferred one first, is reachable again.
const DefaultReturnInterval = 5 * time.Minute

// probeTimeout bounds that check: a new connection, TCP and TLS, nothing
// sent. A collector not reachable within it is left alone for another
// return interval, and delivery goes on where it is.
const probeTimeout = 10 * time.Second

// Conn is an authenticated connection to the collectors: the addresses the
// agent was given, in order of preference, of which one, the current one,
// takes the reports. The collectors share one store that deduplicates
// reports by device, spool epoch and seq, so a batch whose answer was lost
// on one collector is safely sent again to the next.
//
// Each address has its own gRPC connection: a host name is resolved by
// gRPC's DNS resolver, its addresses are tried in order by the pick_first
// balancer, and each is verified against that host name. Between the
// entries of the list, Conn does the failover itself: gRPC would stay on a
// collector that accepts connections but answers UNAVAILABLE or not at all,
// and would not leave a working fallback for the preferred collector.
type Conn struct {
	// CallTimeout bounds each call (DefaultCallTimeout when zero). Set it
	// before the first call.
	CallTimeout time.Duration
	// ReturnInterval is how often, jittered by 20%, an agent on a fallback
	// collector checks the ones ahead of it in its list
	// (DefaultReturnInterval when zero). Set it before the first call.
	ReturnInterval time.Duration
	// Log says when the agent changes collector (slog.Default() when nil).
	Log *slog.Logger

	targets []string
	opts    []grpc.DialOption

	// send serializes Send: one delivery at a time picks and changes the
	// current collector.
	send sync.Mutex

	mu  sync.Mutex
	ccs []*grpc.ClientConn
	cur int
	// returnAt is when, on a fallback, the collectors ahead of it are
	// checked next.
	returnAt time.Time
}

// Dial prepares the connections to the identity's collectors with the
// device identity; nothing connects before the first call.
func Dial(id *Identity, opts ...grpc.DialOption) (*Conn, error) {
	targets := id.Targets()
	if len(targets) == 0 {
		return nil, errors.New("the device identity names no collector: enroll again")
	}
	// No server name here: gRPC takes it from each address's host, so every
	// collector is verified against the name it was given by.
	tcfg, err := id.TLSConfig("")
	if err != nil {
		return nil, err
	}
	opts = append([]grpc.DialOption{
		grpc.WithTransportCredentials(credentials.NewTLS(tcfg)),
		// The reporter has its own backoff between cycles; the connection
		// should not wait minutes to retry once the collector is back.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: time.Second, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 30 * time.Second},
			MinConnectTimeout: 10 * time.Second,
		}),
		// Fixed flow-control windows: the collector's answers are a few
		// bytes, so grpc-go's bandwidth estimate (a PING after the first data
		// of each call on an idle connection) would cost a frame and a reply
		// per report for nothing.
		grpc.WithStaticStreamWindowSize(64 << 10),
		grpc.WithStaticConnWindowSize(64 << 10),
		keepaliveParams,
	}, opts...)
	c := &Conn{targets: targets, opts: opts, ccs: make([]*grpc.ClientConn, len(targets))}
	for i := range targets {
		cc, err := c.newClient(i)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.ccs[i] = cc
	}
	return c, nil
}

func (c *Conn) newClient(i int) (*grpc.ClientConn, error) {
	cc, err := grpc.NewClient(c.targets[i], c.opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", c.targets[i], err)
	}
	return cc, nil
}

// Collectors are the collector addresses, the preferred one first.
func (c *Conn) Collectors() []string { return append([]string(nil), c.targets...) }

// Current is the collector the next call goes to.
func (c *Conn) Current() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.targets[c.cur]
}

// Send delivers a batch and returns the collector's answer, within the
// call timeout. When the current collector is unreachable, answers
// UNAVAILABLE or lets the call time out, the batch goes to the next
// collector of the list, each tried at most once per Send: the reporter's
// backoff spaces the retries once every collector has failed.
func (c *Conn) Send(ctx context.Context, reports []*pb.Report) (*pb.ReportResponse, error) {
	c.send.Lock()
	defer c.send.Unlock()
	c.maybeReturn(ctx)
	var err error
	for range c.targets {
		c.mu.Lock()
		i, cc := c.cur, c.ccs[c.cur]
		c.mu.Unlock()
		var resp *pb.ReportResponse
		if resp, err = c.call(ctx, cc, reports); err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		// Our own deadline ran out: the connection may be a dead path that
		// keepalive has not caught yet.
		timedOut := status.Code(err) == codes.DeadlineExceeded
		if len(c.targets) == 1 {
			if timedOut {
				c.renew(0) // the next call starts a new connection
			}
			return nil, err
		}
		if !timedOut && status.Code(err) != codes.Unavailable {
			// An answer about the batch or the device, which another
			// collector of the same store would give as well.
			return nil, err
		}
		c.failover(i, err)
	}
	return nil, err
}

func (c *Conn) call(ctx context.Context, cc *grpc.ClientConn, reports []*pb.Report) (*pb.ReportResponse, error) {
	timeout := c.CallTimeout
	if timeout <= 0 {
		timeout = DefaultCallTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return pb.NewAgentServiceClient(cc).Report(cctx, &pb.ReportRequest{Reports: reports})
}

// failover makes the collector after i the current one. The failed
// collector's connection is replaced by a new, idle one: the old one may be
// a dead path, and would otherwise keep reconnecting in the background.
func (c *Conn) failover(i int, err error) {
	c.renew(i)
	next := (i + 1) % len(c.targets)
	c.mu.Lock()
	c.cur = next
	switch {
	case next == 0:
		c.returnAt = time.Time{}
	case c.returnAt.IsZero():
		c.returnAt = time.Now().Add(jitter(c.returnInterval(), 0.2))
	}
	c.mu.Unlock()
	c.log().Warn("collector failed; trying the next one", "collector", c.targets[i], "next", c.targets[next], "err", err)
}

// maybeReturn, on a fallback collector once the return interval has
// passed, makes the first collector ahead of it that accepts a connection
// the current one.
func (c *Conn) maybeReturn(ctx context.Context) {
	c.mu.Lock()
	cur, due := c.cur, c.cur > 0 && !time.Now().Before(c.returnAt)
	c.mu.Unlock()
	if !due {
		return
	}
	for j := range cur {
		cc, err := c.newClient(j)
		if err != nil {
			continue
		}
		if !reachable(ctx, cc) {
			cc.Close()
			if ctx.Err() != nil {
				return // the caller gave up: no verdict on the collector
			}
			continue
		}
		c.mu.Lock()
		old := c.ccs[j]
		c.ccs[j], c.cur = cc, j
		c.returnAt = time.Time{}
		if j > 0 {
			c.returnAt = time.Now().Add(jitter(c.returnInterval(), 0.2))
		}
		c.mu.Unlock()
		old.Close()
		c.renew(cur) // the fallback's connection is not needed now
		c.log().Info("collector reachable again; reports go to it", "collector", c.targets[j], "from", c.targets[cur])
		return
	}
	c.mu.Lock()
	c.returnAt = time.Now().Add(jitter(c.returnInterval(), 0.2))
	c.mu.Unlock()
	c.log().Info("preferred collector still unreachable; staying on the fallback",
		"preferred", c.targets[0], "current", c.targets[cur], "next_check", c.returnAt.Format(time.RFC3339))
}

// reachable connects cc and says whether it got ready within probeTimeout.
func reachable(ctx context.Context, cc *grpc.ClientConn) bool {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	cc.Connect()
	for {
		s := cc.GetState()
		switch s {
		case connectivity.Ready:
			return true
		case connectivity.TransientFailure, connectivity.Shutdown:
			return false
		}
		if !cc.WaitForStateChange(ctx, s) {
			return false
		}
	}
}

// renew replaces collector i's connection by a new, idle one; should that
// fail the old one stays: better than none.
func (c *Conn) renew(i int) {
	cc, err := c.newClient(i)
	if err != nil {
		return
	}
	c.mu.Lock()
	old := c.ccs[i]
	c.ccs[i] = cc
	c.mu.Unlock()
	old.Close()
}

func (c *Conn) returnInterval() time.Duration {
	if c.ReturnInterval > 0 {
		return c.ReturnInterval
	}
	return DefaultReturnInterval
}

func (c *Conn) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.Default()
}

// Close closes the connections.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, cc := range c.ccs {
		if cc != nil {
			errs = append(errs, cc.Close())
		}
	}
	return errors.Join(errs...)
}

// failoverCode: the call failed for the collector, not for what was sent,
// and another collector may take it.
func failoverCode(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	return false
}

func jitter(d time.Duration, frac float64) time.Duration {
	return time.Duration(float64(d) * (1 + frac*(2*rand.Float64()-1)))
}
