// Package server is the collector's gRPC front: the agent service (enroll,
// report) and the admin service the CLI uses, behind mutual TLS.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/analysis"
	"github.com/farmwatch/farmwatch/collector/pki"
	"github.com/farmwatch/farmwatch/collector/sinks"
	"github.com/farmwatch/farmwatch/collector/store"
	"github.com/farmwatch/farmwatch/geo"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// AnalysisConfigFile is the analysis config in the data dir, used when
// --config names none; `farmwatch model fit --apply` writes weights there.
const AnalysisConfigFile = "analysis.yaml"

// AddrFile is written into the data dir once the collector listens, so the
// CLI and scripts on the same host find it.
const AddrFile = "collector.addr"

// Config configures a collector.
type Config struct {
	DataDir string
	// StoreURL, when set, keeps the store in a PostgreSQL-protocol database
	// (postgres://...) that any number of collectors share; the data dir then
	// holds only this collector's own files (its TLS certificates, the local
	// admin certificate, the address file). Empty: bbolt in the data dir.
	StoreURL string
	Listen   string
	// TrustedProxies are the addresses of L4 load balancers whose PROXY
	// protocol header names the client of a connection. Nobody else's is
	// read (see proxyListener).
	TrustedProxies []netip.Prefix
	GeoCity        string
	GeoASN         string
	// GeoCheckInterval is how often replaced geo databases are looked for
	// and reloaded (default DefaultGeoCheckInterval).
	GeoCheckInterval time.Duration
	// TLSHosts are extra names and IPs for the server certificate.
	TLSHosts       []string
	AnalysisConfig string
	ReportInterval time.Duration
	TokenTTL       time.Duration
	// SweepInterval is how often silent agents are looked for (default 1 min).
	SweepInterval time.Duration
	// Retention: stored reports older than this are deleted in the
	// background; 0 keeps them.
	Retention time.Duration
	// RateLimits; zero means DefaultRateLimits.
	RateLimits RateLimits
	// Conns bound connections (certificate-less ones above all); zero
	// fields take their defaults.
	Conns ConnLimits
	// CACert and CAKey name an operator-supplied CA instead of the one the
	// collector creates in DATA/tls.
	CACert, CAKey string
	// DeviceDailyBudget is the bytes of reports one device may add to the
	// store per UTC day: 0 means DefaultDeviceDailyBudget, below 0 none.
	DeviceDailyBudget int64
	// Outputs is the alert outputs file (webhooks, Slack, JSON lines,
	// syslog; collector/sinks); empty: none.
	Outputs string
	// OutputLeaseTTL is how long a collector's lease on an output lasts
	// unrenewed on a shared store, which bounds how long an output waits
	// after its collector died (0: sinks.DefaultLeaseTTL).
	OutputLeaseTTL time.Duration
	// MetricsListen is the address of the plain-HTTP /metrics, /healthz and
	// /readyz listener; empty serves none.
	MetricsListen string
	// Version is the collector's version, for farmwatch_build_info.
	Version string
	// Now is the collector's clock (tests replace it).
	Now func() time.Time
	// Store tunes the store (tests: NoSync to replay days of reports that
	// do not test durability; never in production, where no flag sets it);
	// the server sets its Analyze, Event and DailyBudget.
	Store store.Options
}

// Server is a running collector.
type Server struct {
	cfg     Config
	store   *store.Store
	geo     *geo.Resolver
	ca      *pki.CA
	engine  *analysis.Engine
	grpc    *grpc.Server
	health  *health.Server
	lis     net.Listener
	log     *slog.Logger
	limits  Limits
	limiter *limiter
	// certless counts and times out connections without a client certificate.
	certless *certlessCreds
	// csrsSigned counts CSRs the collector set out to sign.
	csrsSigned atomic.Uint64
	// screening holds the applicants in memory for screening.
	screening *applicantScreening
	// outbox delivers the alert event log to the outputs (nil: none).
	outbox *sinks.Outbox
	// metrics are the Prometheus metrics; metricsHTTP serves them (nil: off);
	// phase is starting, serving or stopping, for /readyz.
	metrics     *Metrics
	metricsHTTP *metricsServer
	phase       atomic.Int32

	stopSweep chan struct{}
	sweepDone chan struct{}
}

// New opens the store, the CA and the geo databases and listens; Serve then
// accepts calls.
func New(cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("a data dir is required (--data DIR)")
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:7443"
	}
	if cfg.ReportInterval == 0 {
		cfg.ReportInterval = 5 * time.Minute
	}
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = 72 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AnalysisConfig == "" {
		cfg.AnalysisConfig = filepath.Join(cfg.DataDir, AnalysisConfigFile)
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = time.Minute
	}
	if cfg.GeoCheckInterval == 0 {
		cfg.GeoCheckInterval = DefaultGeoCheckInterval
	}
	cfg.Conns = cfg.Conns.withDefaults(cfg.ReportInterval)
	acfg, err := analysis.LoadConfig(cfg.AnalysisConfig)
	if err != nil {
		return nil, err
	}
	// The outputs file is read (secrets too) before anything opens: a bad
	// one stops the collector at start, not at its first alert.
	var outputs *sinks.Config
	if cfg.Outputs != "" {
		if outputs, err = sinks.LoadConfig(cfg.Outputs); err != nil {
			return nil, err
		}
	}
	var resolver *geo.Resolver
	if cfg.GeoCity != "" || cfg.GeoASN != "" {
		resolver, err = geo.Open(cfg.GeoCity, cfg.GeoASN)
		if err != nil {
			return nil, err
		}
	}
	// One report interval: the collector's, which every agent adopts from
	// its enrollment and report responses, and in which silence counts.
	acfg.ReportInterval = cfg.ReportInterval
	engine := analysis.NewEngine(acfg)
	storeOpts := cfg.Store
	storeOpts.Analyze, storeOpts.Event = engine.Analyze, engine.RecordEvent
	storeOpts.DailyBudget = dailyBudget(cfg.DeviceDailyBudget)
	// The alert event log: review_crossed at the analysis's review
	// threshold, events stamped by the collector's clock and logged once
	// committed (watch.go).
	storeOpts.ReviewThreshold = func() float64 { return engine.Config().ReviewThreshold }
	storeOpts.Now = cfg.Now
	storeOpts.OnAlertEvents = chainAlertEvents(logAlertEvents, cfg.Store.OnAlertEvents)
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	metrics := newMetrics(cfg.Version)
	storeOpts.OnCommit = metrics.observeCommit
	// The store's file lock comes before any other write to the data dir: a
	// second collector on a dir in use must not replace the running one's
	// certificates.
	st, err := openStore(cfg, storeOpts)
	if err != nil {
		return nil, err
	}
	metrics.watchStore(st)
	s, err := newServer(cfg, st, resolver, engine, metrics)
	if err != nil {
		st.Close()
		return nil, err
	}
	if err := s.startOutputs(outputs); err != nil {
		s.Stop(context.Background()) // ends the loops, closes the store
		s.lis.Close()
		return nil, err
	}
	return s, nil
}

// openStore opens the bbolt store in the data dir, or the shared database
// of cfg.StoreURL.
func openStore(cfg Config, opts store.Options) (*store.Store, error) {
	if cfg.StoreURL != "" {
		return store.OpenPostgres(context.Background(), cfg.StoreURL, opts)
	}
	st, err := store.Open(cfg.DataDir, opts)
	if err != nil {
		if errors.Is(err, store.ErrLocked) {
			return nil, lockedError(cfg.DataDir, err)
		}
		return nil, err
	}
	return st, nil
}

// newServer sets up TLS and gRPC over an open (locked) store.
func newServer(cfg Config, st *store.Store, resolver *geo.Resolver, engine *analysis.Engine, metrics *Metrics) (*Server, error) {
	var err error
	tlsDir := filepath.Join(cfg.DataDir, "tls")
	var ca *pki.CA
	created := false
	if cfg.CACert != "" || cfg.CAKey != "" {
		if cfg.CACert == "" || cfg.CAKey == "" {
			return nil, errors.New("an operator CA needs both --ca-cert and --ca-key")
		}
		ca, err = pki.LoadCA(cfg.CACert, cfg.CAKey)
		if err == nil {
			err = os.MkdirAll(tlsDir, 0o700)
		}
		if err == nil {
			err = pki.WriteFileAtomic(filepath.Join(tlsDir, pki.CAFile), ca.PEM, 0o644)
		}
	} else {
		ca, created, err = pki.LoadOrCreateCA(tlsDir)
	}
	if err != nil {
		return nil, fmt.Errorf("collector CA: %w", err)
	}
	log := slog.Default().With("component", "collector")
	if created {
		log.Info("created collector CA", "fingerprint", ca.Fingerprint(), "dir", tlsDir)
	}
	if err := ensureLocalAdmin(ca, tlsDir); err != nil {
		return nil, err
	}

	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	hosts := append([]string{"localhost", "127.0.0.1", "::1"}, cfg.TLSHosts...)
	// An unspecified address (0.0.0.0, ::) is no name anyone dials.
	if h, _, err := net.SplitHostPort(cfg.Listen); err == nil && h != "" && !isUnspecified(h) {
		hosts = append(hosts, h)
	}
	if hn, err := os.Hostname(); err == nil {
		hosts = append(hosts, hn)
	}
	serverCert, err := ca.IssueServer(tlsDir, hosts)
	if err != nil {
		lis.Close()
		return nil, fmt.Errorf("server certificate: %w", err)
	}

	acfg := engine.Config()
	for _, p := range acfg.Check() {
		log.Warn("analysis config: "+p, "config", cfg.AnalysisConfig)
	}
	if err := registerLocalAdmin(st, ca, tlsDir, cfg.Now()); err != nil {
		lis.Close()
		return nil, err
	}

	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	tlsCfg := &tls.Config{
		Certificates: []tls.Certificate{serverCert},
		ClientCAs:    pool,
		// Enrollment happens before the agent has a certificate; every other
		// method demands one (see the auth interceptor).
		ClientAuth: tls.VerifyClientCertIfGiven,
		MinVersion: tls.VersionTLS13,
	}
	s := &Server{cfg: cfg, store: st, geo: resolver, ca: ca, engine: engine, lis: lis, log: log,
		limits: DefaultLimits(), stopSweep: make(chan struct{}), sweepDone: make(chan struct{}), metrics: metrics}
	if cfg.RateLimits == (RateLimits{}) {
		cfg.RateLimits = DefaultRateLimits()
	}
	s.limiter = newLimiter(cfg.RateLimits, cfg.Now)
	if err := s.loadApplicants(); err != nil {
		lis.Close()
		return nil, err
	}
	// Before anything else starts: an address in use fails the start.
	if cfg.MetricsListen != "" {
		if err := s.startMetrics(cfg.MetricsListen); err != nil {
			lis.Close()
			return nil, err
		}
	}
	s.certless = &certlessCreds{TransportCredentials: credentials.NewTLS(tlsCfg), max: cfg.Conns.CertlessMax,
		lifetime: cfg.Conns.CertlessLifetime, log: log}
	s.grpc = grpc.NewServer(
		grpc.Creds(s.certless),
		grpc.ConnectionTimeout(cfg.Conns.HandshakeTimeout),
		grpc.MaxRecvMsgSize(s.limits.MaxMessageBytes),
		grpc.ForceServerCodecV2(newWireCodec()), // unknown fields dropped, bad UTF-8 named (codec.go)
		grpc.ChainUnaryInterceptor(s.recoverInterceptor, s.authInterceptor, s.limitInterceptor),
		grpc.ChainStreamInterceptor(s.streamAuthInterceptor),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: cfg.Conns.IdleTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: KeepaliveMinTime, PermitWithoutStream: true}),
		// Fixed flow-control windows. grpc-go's default estimates each
		// connection's bandwidth-delay product with a PING after the first
		// data of every call on an idle connection: for an agent's one small
		// call every few minutes that is an extra frame, write and reply per
		// call for a window that never needs to grow. 1 MiB covers a report
		// several hundred times over and a spool flush in a few round trips.
		grpc.StaticStreamWindowSize(1<<20),
		grpc.StaticConnWindowSize(1<<20),
		// Calls run on long-lived worker goroutines whose stacks have
		// already grown to what a report needs, not on a new goroutine per
		// call that grows its stack (and copies it) on every report. Past
		// streamWorkers concurrent calls, grpc-go starts goroutines as usual.
		grpc.NumStreamWorkers(streamWorkers),
		// No read buffer of grpc-go's own: the TLS connection under it
		// already keeps what it has decrypted, and a second, 32 KiB buffer
		// per connection was half the live heap with 10,000 agents
		// connected (RssAnon 2.6 GiB before, 1.5 GiB after, at the same
		// report rate).
		grpc.ReadBufferSize(0),
	)
	go s.sweepLoop()
	s.logGeoAtStart()
	if s.geo != nil {
		go s.geoLoop(s.stopSweep, cfg.Now())
	}
	pb.RegisterAgentServiceServer(s.grpc, &agentService{s: s})
	pb.RegisterAdminServiceServer(s.grpc, &adminService{s: s})
	s.health = health.NewServer()
	healthpb.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc) // v1 and v1alpha; admin certificates only (auth.go)
	if err := pki.WriteFileAtomic(filepath.Join(cfg.DataDir, AddrFile), []byte(boundDialAddr(cfg.Listen, lis.Addr())+"\n"), 0o644); err != nil {
		lis.Close()
		s.stopMetrics()
		return nil, err
	}
	// Logged here, once the socket is bound (connections wait in its
	// backlog until Serve), not in Serve: `farmwatch serve` announces the
	// address as New returns, and a stop that follows at once must not
	// find the record missing from the log.
	s.log.Info("collector listening", "addr", s.Addr(), "data", s.cfg.DataDir,
		"ca_fingerprint", s.ca.Fingerprint(), "geo", s.geo != nil, "report_interval", s.cfg.ReportInterval)
	return s, nil
}

// Addr is the address the collector listens on.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// CA is the collector's certificate authority.
func (s *Server) CA() *pki.CA { return s.ca }

// Store is the collector's store (tests read it after Stop).
func (s *Server) Store() *store.Store { return s.store }

// Serve accepts calls until Stop.
func (s *Server) Serve() error {
	s.phase.CompareAndSwap(phaseStarting, phaseServing)
	err := s.grpc.Serve(proxyListener(s.lis, s.cfg.TrustedProxies))
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// Stop finishes in-flight calls (so every batch being written is committed
// and acknowledged), then closes the store.
func (s *Server) Stop(ctx context.Context) {
	s.phase.Store(phaseStopping)
	defer s.stopMetrics()
	s.health.Shutdown()
	select {
	case <-s.stopSweep:
	default:
		close(s.stopSweep)
	}
	done := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.grpc.Stop()
	}
	select {
	case <-s.sweepDone:
	case <-time.After(10 * time.Second):
	}
	if s.outbox != nil {
		s.outbox.Stop()
	}
	if err := s.store.Close(); err != nil {
		s.log.Error("close store", "err", err)
	}
	if s.geo != nil {
		s.geo.Close()
	}
	os.Remove(filepath.Join(s.cfg.DataDir, AddrFile))
}

// ensureLocalAdmin gives the operator on the collector host a reviewer
// certificate in DATA/tls, readable only by the collector's user.
func ensureLocalAdmin(ca *pki.CA, dir string) error {
	certPath := filepath.Join(dir, pki.AdminFile)
	if b, err := os.ReadFile(certPath); err == nil {
		if c, err := pki.ParseCertPEM(b); err == nil && c.CheckSignatureFrom(ca.Cert) == nil && time.Now().Before(c.NotAfter) {
			return nil
		}
		// Issued by another CA (the operator supplied a new one) or expired.
	}
	return issueLocalAdmin(ca, dir)
}

func issueLocalAdmin(ca *pki.CA, dir string) error {
	certPEM, keyPEM, err := ca.IssueAdmin("local-operator", pki.RoleReviewer, 5*365*24*time.Hour)
	if err != nil {
		return err
	}
	if err := pki.WriteFileAtomic(filepath.Join(dir, pki.AdminKeyFile), keyPEM, 0o600); err != nil {
		return err
	}
	return pki.WriteFileAtomic(filepath.Join(dir, pki.AdminFile), certPEM, 0o600)
}

// registerLocalAdmin lists the host operator's certificate with the others,
// so that it can be revoked too; a revoked one is replaced by a new key and
// certificate, since whoever runs the collector holds its CA key anyway and
// a copy of the old key, wherever it went, stays refused.
func registerLocalAdmin(st *store.Store, ca *pki.CA, dir string, now time.Time) error {
	for range 2 {
		b, err := os.ReadFile(filepath.Join(dir, pki.AdminFile))
		if err != nil {
			return fmt.Errorf("local admin certificate: %w", err)
		}
		c, err := pki.ParseCertPEM(b)
		if err != nil {
			return fmt.Errorf("local admin certificate: %w", err)
		}
		serial := store.NormalizeSerial(c.SerialNumber.Text(16))
		revoked := false
		err = st.Update(func(tx *store.Tx) error {
			rec, err := tx.AdminCert(serial)
			if err == nil {
				revoked = rec.GetRevokedAt() != nil
				return nil
			}
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			return tx.PutAdminCert(&pb.AdminCertificate{Serial: serial, Name: c.Subject.CommonName, Role: pki.Role(c),
				IssuedBy: "farmwatch serve", IssuedAt: timestamppb.New(now), ExpiresAt: timestamppb.New(c.NotAfter)})
		})
		if err != nil || !revoked {
			return err
		}
		slog.Warn("the local admin certificate was revoked: issuing a new one", "serial", serial, "dir", dir)
		if err := issueLocalAdmin(ca, dir); err != nil {
			return err
		}
	}
	return nil
}

// streamWorkers is comfortably above the calls a collector has in flight
// at its measured capacity (about 128 at 10,000 reports/s and 13 ms each).
const streamWorkers = 256

// sweepLoop looks for silent agents every SweepInterval.
func (s *Server) sweepLoop() {
	defer close(s.sweepDone)
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stopSweep:
			return
		case <-t.C:
			if _, err := s.Sweep(); err != nil {
				s.log.Error("silence sweep", "err", err)
			}
			if n, err := s.PruneReports(); err != nil {
				s.log.Error("retention", "err", err)
			} else if n > 0 {
				s.log.Info("retention: deleted old reports", "reports", n, "older_than", s.cfg.Retention)
			}
		}
	}
}

// Sweep marks silent agents now; it returns how many were newly marked.
func (s *Server) Sweep() (int, error) {
	var n int
	err := s.store.Update(func(tx *store.Tx) (err error) {
		n, err = s.engine.Sweep(tx, s.cfg.Now())
		return err
	})
	return n, err
}

// PruneReports deletes reports past the retention period, in batches so
// ingest is never held up for long.
func (s *Server) PruneReports() (int, error) {
	if s.cfg.Retention <= 0 {
		return 0, nil
	}
	cutoff := s.cfg.Now().Add(-s.cfg.Retention)
	total := 0
	for {
		n, err := s.store.Prune(cutoff, 5000)
		total += n
		if err != nil {
			return total, err
		}
		if n < 5000 {
			break
		}
	}
	// The alert event log is kept as long as the reports (never its
	// newest event: ids go on after it).
	if n, err := s.store.PruneAlertEvents(cutoff); err != nil {
		return total, fmt.Errorf("prune alert events: %w", err)
	} else if n > 0 {
		s.log.Info("retention: deleted old alert events", "events", n, "older_than", s.cfg.Retention)
	}
	return total, nil
}
