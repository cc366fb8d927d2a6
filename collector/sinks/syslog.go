package sinks

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// SDID is the structured-data element of farmwatch's syslog messages. 32473
// is the private enterprise number RFC 5612 sets aside for documentation
// and examples; farmwatch has none of its own.
const SDID = "farmwatch@32473"

// syslogFacility is local0 (16).
const syslogFacility = 16

// Severities by event type: an alert opened or crossing review is a
// warning (4), its evidence changing a notice (5), a reviewer's
// acknowledgement or resolution informational (6).
func severity(eventType string) int {
	switch eventType {
	case "opened", "review_crossed":
		return 4
	case "evidence_changed":
		return 5
	}
	return 6
}

// SyslogMessage formats an event as an RFC 5424 message (without framing):
// <PRI>1 TIMESTAMP HOSTNAME farmwatch PROCID MSGID [farmwatch@32473 ...]
// BOM summary. MSGID is the event type.
func SyslogMessage(ev *pb.AlertEvent, hostname string, pid int) []byte {
	a := ev.GetAlert()
	var b strings.Builder
	fmt.Fprintf(&b, "<%d>1 %s %s farmwatch %d %s [%s", syslogFacility*8+severity(ev.GetType()),
		ev.GetAt().AsTime().UTC().Format("2006-01-02T15:04:05.000000Z"), headerField(hostname, 255), pid,
		headerField(ev.GetType(), 32), SDID)
	param := func(name, value string) {
		if value != "" {
			fmt.Fprintf(&b, ` %s="%s"`, name, sdEscape(value))
		}
	}
	param("event_id", strconv.FormatUint(ev.GetId(), 10))
	param("type", ev.GetType())
	param("alert_id", a.GetId())
	param("kind", a.GetKind())
	param("status", a.GetStatus())
	param("score", strconv.FormatFloat(a.GetScore(), 'f', 4, 64))
	param("previous_score", strconv.FormatFloat(ev.GetPreviousScore(), 'f', 4, 64))
	param("peak_score", strconv.FormatFloat(a.GetPeakScore(), 'f', 4, 64))
	param("device_id", a.GetDeviceId())
	param("hire_id", a.GetHireId())
	param("cluster_id", a.GetClusterId())
	param("applicant_id", a.GetApplicantId())
	param("verdict", a.GetVerdict())
	param("actor", ev.GetActor())
	b.WriteString("] \ufeff")
	b.WriteString(a.GetSummary())
	return []byte(b.String())
}

// headerField makes a header field RFC 5424 PRINTUSASCII (33-126) of at
// most max characters; an empty one is the NILVALUE "-".
func headerField(s string, max int) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 33 && r <= 126 {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
		if b.Len() >= max {
			break
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

var sdEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`)

func sdEscape(s string) string { return sdEscaper.Replace(strings.ToValidUTF8(s, "\ufffd")) }

// syslogSink sends octet-counted messages (RFC 6587 over TCP, RFC 5425 over
// TLS) on one connection, dialled again after any failure. TCP gives no
// acknowledgement: a message counts as delivered once the kernel took it.
type syslogSink struct {
	out      *Output
	hostname string
	mu       sync.Mutex
	conn     net.Conn
}

func newSyslog(o *Output) *syslogSink {
	h, _ := os.Hostname()
	return &syslogSink{out: o, hostname: h}
}

func (s *syslogSink) dial(ctx context.Context) (net.Conn, error) {
	d := &net.Dialer{Timeout: s.out.Timeout, KeepAlive: 30 * time.Second}
	if !s.out.TLS {
		return d.DialContext(ctx, "tcp", s.out.Address)
	}
	host, _, _ := net.SplitHostPort(s.out.Address)
	td := &tls.Dialer{NetDialer: d, Config: &tls.Config{ServerName: host, RootCAs: s.out.roots, MinVersion: tls.VersionTLS12}}
	return td.DialContext(ctx, "tcp", s.out.Address)
}

func (s *syslogSink) deliver(ctx context.Context, ev *pb.AlertEvent) (int, error) {
	msg := SyslogMessage(ev, s.hostname, os.Getpid())
	frame := append([]byte(strconv.Itoa(len(msg))+" "), msg...)
	s.mu.Lock()
	defer s.mu.Unlock()
	// A receiver that closed the connection shows it only on a read: look
	// (without waiting) so the message goes on a new connection rather
	// than into a dead one.
	if s.conn != nil && peerClosed(s.conn) {
		s.conn.Close()
		s.conn = nil
	}
	if s.conn == nil {
		c, err := s.dial(ctx)
		if err != nil {
			return 0, fmt.Errorf("syslog %s: %w", s.out.Address, err)
		}
		s.conn = c
	}
	deadline := time.Now().Add(s.out.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	s.conn.SetWriteDeadline(deadline)
	if _, err := s.conn.Write(frame); err != nil {
		s.conn.Close()
		s.conn = nil
		return 0, fmt.Errorf("syslog %s: %w", s.out.Address, err)
	}
	return 0, nil
}

// peerClosed tells whether the receiver has closed its end; syslog
// receivers never send, so anything readable is the close.
func peerClosed(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(time.Millisecond))
	var b [1]byte
	_, err := c.Read(b[:])
	c.SetReadDeadline(time.Time{})
	if err == nil {
		return false
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true
}

func (s *syslogSink) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		err := s.conn.Close()
		s.conn = nil
		return err
	}
	return nil
}
