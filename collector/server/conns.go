package server

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/credentials"
)

// ConnLimits bound what connections may hold on the collector. An enrolled
// agent keeps one connection with its device certificate and calls once per
// report interval; a connection without a client certificate can only enroll
// (one short call) or check health, so it gets little time and a fixed
// number of places. Zero fields take the defaults.
type ConnLimits struct {
	// CertlessMax caps open TLS connections without a client certificate;
	// past it a new one is closed right after its handshake (default 1024).
	CertlessMax int
	// CertlessLifetime is how long such a connection may stay open after
	// its handshake (default 30 s: an enrollment takes well under a second).
	CertlessLifetime time.Duration
	// IdleTimeout closes any connection without a call for this long
	// (grpc's MaxConnectionIdle; default three report intervals).
	IdleTimeout time.Duration
	// HandshakeTimeout bounds a new connection's PROXY header, TLS
	// handshake and HTTP/2 greeting (grpc's ConnectionTimeout; default 20 s).
	HandshakeTimeout time.Duration
}

// KeepaliveMinTime is the shortest interval between a client's keepalive
// pings the collector accepts; a client pinging faster is disconnected with
// "too_many_pings". The agent pings less often (uplink.KeepaliveTime).
const KeepaliveMinTime = 20 * time.Second

func (l ConnLimits) withDefaults(reportInterval time.Duration) ConnLimits {
	if l.CertlessMax <= 0 {
		l.CertlessMax = 1024
	}
	if l.CertlessLifetime <= 0 {
		l.CertlessLifetime = 30 * time.Second
	}
	if l.IdleTimeout <= 0 {
		// An agent calls every interval (jittered by 10 %); three intervals
		// of silence mean it is gone or asleep, and it simply reconnects.
		l.IdleTimeout = 3 * reportInterval
	}
	if l.HandshakeTimeout <= 0 {
		l.HandshakeTimeout = 20 * time.Second
	}
	return l
}

// errCertlessFull is the handshake error of a certificate-less connection
// over the cap.
var errCertlessFull = errors.New("too many connections without a client certificate; retry shortly")

// certlessCreds wraps the server's TLS credentials: after each handshake it
// sees whether the client presented a certificate, and a connection that did
// not is counted against a cap and closed after a short lifetime. Connections
// with a certificate pass untouched.
type certlessCreds struct {
	credentials.TransportCredentials
	max      int
	lifetime time.Duration
	log      *slog.Logger

	open     atomic.Int64
	lastWarn atomic.Int64 // unix seconds of the last "at the cap" log line
}

func (c *certlessCreds) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := c.TransportCredentials.ServerHandshake(raw)
	if err != nil {
		return nil, nil, err
	}
	if ti, ok := info.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 {
		return conn, info, nil
	}
	if c.open.Add(1) > int64(c.max) {
		c.open.Add(-1)
		conn.Close()
		if now := time.Now().Unix(); c.lastWarn.Load() < now-60 {
			c.lastWarn.Store(now)
			c.log.Warn("certificate-less connections at their cap: new ones are closed after the handshake",
				"cap", c.max, "from", addrOf(raw.RemoteAddr()))
		}
		return nil, nil, errCertlessFull
	}
	lc := &certlessConn{Conn: conn, creds: c}
	lc.mu.Lock()
	lc.timer = time.AfterFunc(c.lifetime, func() { lc.Close() })
	lc.mu.Unlock()
	return lc, info, nil
}

func (c *certlessCreds) Clone() credentials.TransportCredentials {
	return &certlessCreds{TransportCredentials: c.TransportCredentials.Clone(), max: c.max, lifetime: c.lifetime, log: c.log}
}

// certlessConn is a TLS connection without a client certificate; its Close
// frees its place under the cap, once.
type certlessConn struct {
	net.Conn
	creds *certlessCreds
	once  sync.Once
	mu    sync.Mutex // guards timer, set just after the connection is made
	timer *time.Timer
}

func (c *certlessConn) Close() error {
	c.once.Do(func() {
		c.mu.Lock()
		c.timer.Stop() // so a closed connection is not kept until the timer fires
		c.mu.Unlock()
		c.creds.open.Add(-1)
	})
	return c.Conn.Close()
}

// CertlessConns is the number of open connections without a client
// certificate.
func (s *Server) CertlessConns() int { return int(s.certless.open.Load()) }
