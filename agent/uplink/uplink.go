package uplink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/farmwatch/farmwatch/collector/pki"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// EnrollOptions are what `farmwatch-agent enroll` is given.
type EnrollOptions struct {
	Collector string
	Token     string
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

// Enroll trades a token for a device identity, within EnrollTimeout.
func Enroll(ctx context.Context, o EnrollOptions) (*Identity, string, error) {
	ctx, cancel := context.WithTimeout(ctx, EnrollTimeout)
	defer cancel()
	keyPEM, csrPEM, err := pki.NewKeyAndCSR(o.Hostname)
	if err != nil {
		return nil, "", err
	}
	want := pki.NormalizeFingerprint(o.CAFingerprint)
	var seenCA *x509.Certificate
	tcfg := &tls.Config{
		MinVersion: tls.VersionTLS13,
		// The chain is checked below against the CA the server presents,
		// which must match the pinned fingerprint when one is given.
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
		ServerName: hostOf(o.Collector),
	}
	opts := append([]grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(tcfg)), keepaliveParams}, o.DialOptions...)
	conn, err := grpc.NewClient(o.Collector, opts...)
	if err != nil {
		return nil, "", fmt.Errorf("connect to %s: %w", o.Collector, err)
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
	id := &Identity{DeviceID: resp.GetDeviceId(), HireID: resp.GetHireId(), Collector: o.Collector,
		ReportIntervalSeconds: resp.GetReportIntervalSeconds(),
		CertPEM:               resp.GetCertificatePem(), KeyPEM: keyPEM, CAPEM: resp.GetCaPem()}
	return id, pki.Fingerprint(ca), nil
}

// Conn is an authenticated connection to the collector.
type Conn struct {
	// CallTimeout bounds each Send (DefaultCallTimeout when zero). Set it
	// before the first call.
	CallTimeout time.Duration

	target string
	opts   []grpc.DialOption

	mu     sync.Mutex
	cc     *grpc.ClientConn
	client pb.AgentServiceClient
}

// Dial connects with the device identity.
func Dial(id *Identity, opts ...grpc.DialOption) (*Conn, error) {
	tcfg, err := id.TLSConfig(hostOf(id.Collector))
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
	c := &Conn{target: id.Collector, opts: opts}
	if err := c.connect(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Conn) connect() error {
	cc, err := grpc.NewClient(c.target, c.opts...)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", c.target, err)
	}
	c.cc, c.client = cc, pb.NewAgentServiceClient(cc)
	return nil
}

// Send delivers a batch and returns the collector's answer, within the
// call timeout.
func (c *Conn) Send(ctx context.Context, reports []*pb.Report) (*pb.ReportResponse, error) {
	c.mu.Lock()
	cc, client := c.cc, c.client
	c.mu.Unlock()
	timeout := c.CallTimeout
	if timeout <= 0 {
		timeout = DefaultCallTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := client.Report(cctx, &pb.ReportRequest{Reports: reports})
	if status.Code(err) == codes.DeadlineExceeded && ctx.Err() == nil {
		// Our own deadline ran out: the connection may be a dead path that
		// keepalive has not caught yet, so the next call starts a new one.
		c.reconnect(cc)
	}
	return resp, err
}

// reconnect replaces the connection stale, unless another call already has.
func (c *Conn) reconnect(stale *grpc.ClientConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cc != stale {
		return
	}
	if c.connect() == nil { // on failure the old connection stays: better than none
		stale.Close()
	}
}

// Close closes the connection.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cc.Close()
}

func hostOf(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return strings.Trim(addr, "[]")
	}
	return h
}
