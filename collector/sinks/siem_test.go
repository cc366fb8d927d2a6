package sinks

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// TestSlackMessage: a Slack output posts text and blocks, the alert's
// text escaped.
func TestSlackMessage(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			t.Errorf("slack body: %v", err)
		}
		if r.Header.Get(HeaderSignature) != "" {
			t.Errorf("a Slack post carries a webhook signature")
		}
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	st := openStore(t, t.TempDir())
	defer st.Close()
	log := newFakeLog()
	startOutbox(t, mustParse(t, "outputs:\n  - name: chat\n    type: slack\n    url: "+srv.URL+"/services/T/B/X\n"), log, st, Options{})
	log.add("farm", "opened", 0.91, func(ev *pb.AlertEvent) { ev.Alert.Summary = "<!channel> hostname <http://evil|click> & more" })
	log.add("farm", "review_crossed", 0.95)
	waitFor(t, "two Slack posts", 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 2 })
	mu.Lock()
	defer mu.Unlock()
	text, _ := got[0]["text"].(string)
	if !strings.Contains(text, "farm alert al-1 opened, score 0.91") || strings.Contains(text, "<!channel>") ||
		!strings.Contains(text, "&lt;!channel&gt;") || !strings.Contains(text, "&amp; more") {
		t.Errorf("text %q", text)
	}
	blocks, _ := got[0]["blocks"].([]any)
	if len(blocks) != 2 {
		t.Fatalf("blocks %v", got[0]["blocks"])
	}
	if b, _ := json.Marshal(blocks); strings.Contains(string(b), "<http://evil") {
		t.Errorf("blocks carry an unescaped link: %s", b)
	}
	if text, _ := got[1]["text"].(string); !strings.Contains(text, "review crossed, score 0.95 (was 0.00)") {
		t.Errorf("second text %q", text)
	}
}

// TestJSONLRotation: the JSON-lines output rotates by size; every event is
// one whole ECS line in the current file or a backup.
func TestJSONLRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "alerts.jsonl")
	st := openStore(t, filepath.Join(dir, "data"))
	defer st.Close()
	log := newFakeLog()
	o := startOutbox(t, mustParse(t, "outputs:\n  - name: siem-file\n    type: jsonl\n    path: "+path+"\n    max_size_mb: 1\n    max_backups: 5\n"), log, st, Options{})
	const n = 1500 // about 1.5 MB of lines with the long summary below
	long := strings.Repeat("evidence ", 80)
	for i := 0; i < n; i++ {
		log.add("farm", "opened", 0.8, func(ev *pb.AlertEvent) {
			ev.Alert.Summary = long
			ev.Alert.MemberDevices = []string{"dev-a", "dev-b"}
		})
	}
	waitFor(t, "every line written", 60*time.Second, func() bool { s, _ := o.Sinks("siem-file"); return s[0].GetCursor() == n })
	o.Stop()
	files, _ := filepath.Glob(filepath.Join(dir, "alerts*.jsonl"))
	if len(files) < 2 {
		t.Fatalf("files %v: want the current file and at least one backup", files)
	}
	seen := map[uint64]bool{}
	for _, f := range files {
		fi, _ := os.Stat(f)
		if fi.Size() > 1<<20 {
			t.Errorf("%s is %d bytes, over max_size_mb 1", f, fi.Size())
		}
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var e ECSEvent
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("%s: a line that is not JSON: %v", f, err)
			}
			if seen[e.Event.Sequence] {
				t.Errorf("event %d written twice", e.Event.Sequence)
			}
			seen[e.Event.Sequence] = true
			if e.Event.Kind != "alert" || e.Event.Action != "opened" || e.Rule.Name != "farm" || e.Event.RiskScoreNorm != 80 ||
				e.Host == nil || len(e.Related.Hosts) != 3 || e.Message != long || e.Timestamp == "" || e.ECS.Version == "" {
				t.Fatalf("ECS fields of event %d: %+v", e.Event.Sequence, e)
			}
			var alert map[string]any
			if err := json.Unmarshal(e.Farmwatch.Alert, &alert); err != nil || alert["id"] != fmt.Sprintf("al-%d", e.Event.Sequence) {
				t.Fatalf("farmwatch.alert of event %d: %s", e.Event.Sequence, e.Farmwatch.Alert)
			}
		}
		fh.Close()
	}
	if len(seen) != n {
		t.Errorf("%d events in the files, want %d", len(seen), n)
	}
}

// syslogReceiver reads octet-counted RFC 5424 frames; it drops the first
// connection after one message when dropFirst is set.
type syslogReceiver struct {
	mu    sync.Mutex
	msgs  []string
	conns int
	// dropped is closed once the first connection is closed (dropFirst).
	dropped chan struct{}
}

func (r *syslogReceiver) serve(t *testing.T, lis net.Listener, dropFirst bool) {
	for {
		c, err := lis.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		r.conns++
		first := r.conns == 1
		r.mu.Unlock()
		go func() {
			defer c.Close()
			br := bufio.NewReader(c)
			for {
				ls, err := br.ReadString(' ')
				if err != nil {
					return
				}
				n, err := strconv.Atoi(strings.TrimSuffix(ls, " "))
				if err != nil {
					t.Errorf("frame length %q: %v", ls, err)
					return
				}
				b := make([]byte, n)
				if _, err := io.ReadFull(br, b); err != nil {
					t.Errorf("frame of %d: %v", n, err)
					return
				}
				r.mu.Lock()
				r.msgs = append(r.msgs, string(b))
				r.mu.Unlock()
				if first && dropFirst {
					c.Close()
					close(r.dropped)
					return
				}
			}
		}()
	}
}

func (r *syslogReceiver) count() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.msgs) }

var rfc5424 = regexp.MustCompile(`^<(\d{1,3})>1 (\S+) (\S+) farmwatch (\d+) (\S+) \[farmwatch@32473((?: [a-z_]+="(?:[^"\\\]]|\\.)*")+)\] \x{feff}(.*)$`)
var sdParam = regexp.MustCompile(`([a-z_]+)="((?:[^"\\\]]|\\.)*)"`)

func checkSyslog(t *testing.T, msgs []string, n int) {
	t.Helper()
	ids := map[string]bool{}
	for _, m := range msgs {
		p := rfc5424.FindStringSubmatch(m)
		if p == nil {
			t.Fatalf("not an RFC 5424 message: %q", m)
		}
		if _, err := time.Parse(time.RFC3339Nano, p[2]); err != nil {
			t.Errorf("timestamp %q: %v", p[2], err)
		}
		params := map[string]string{}
		for _, kv := range sdParam.FindAllStringSubmatch(p[6], -1) {
			params[kv[1]] = strings.NewReplacer(`\"`, `"`, `\\`, `\`, `\]`, `]`).Replace(kv[2])
		}
		if params["type"] != p[5] || params["alert_id"] != "al-"+params["event_id"] || params["kind"] != "device" || params["score"] != "0.7000" {
			t.Errorf("structured data %v of %q", params, m)
		}
		if pri, _ := strconv.Atoi(p[1]); pri != 16*8+4 {
			t.Errorf("PRI %d, want local0.warning (132)", pri)
		}
		if !strings.Contains(p[7], `quote " and ] bracket`) {
			t.Errorf("message %q", p[7])
		}
		ids[params["event_id"]] = true
	}
	if len(ids) != n {
		t.Errorf("%d distinct events, want %d", len(ids), n)
	}
}

// TestSyslogTCP: RFC 5424 over plain TCP with octet counting, read back
// and parsed; the receiver drops the connection and the output reconnects.
func TestSyslogTCP(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	rcv := &syslogReceiver{dropped: make(chan struct{})}
	go rcv.serve(t, lis, true)
	st := openStore(t, t.TempDir())
	defer st.Close()
	log := newFakeLog()
	startOutbox(t, mustParse(t, "outputs:\n  - name: siem\n    type: syslog\n    address: "+lis.Addr().String()+"\n"), log, st, Options{})
	const n = 20
	edit := func(ev *pb.AlertEvent) { ev.Alert.Summary = `quote " and ] bracket` }
	log.add("device", "opened", 0.7, edit)
	select { // the receiver drops the connection after the first message
	case <-rcv.dropped:
	case <-time.After(10 * time.Second):
		t.Fatal("no first message")
	}
	time.Sleep(10 * time.Millisecond) // the close reaches the output's end
	for i := 1; i < n; i++ {
		log.add("device", "opened", 0.7, edit)
	}
	waitFor(t, "every syslog message", 10*time.Second, func() bool { return rcv.count() >= n })
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.conns < 2 {
		t.Errorf("%d connections: the output should have reconnected after the drop", rcv.conns)
	}
	checkSyslog(t, rcv.msgs, n)
}

// TestSyslogTLS: the same over TLS, the receiver's certificate checked
// against ca_file.
func TestSyslogTLS(t *testing.T) {
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "siem"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	lis, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	rcv := &syslogReceiver{}
	go rcv.serve(t, lis, false)
	st := openStore(t, filepath.Join(dir, "data"))
	defer st.Close()
	log := newFakeLog()
	o := startOutbox(t, mustParse(t, "outputs:\n  - name: siem\n    type: syslog\n    address: "+lis.Addr().String()+
		"\n    tls: true\n    ca_file: "+caFile+"\n"), log, st, Options{})
	const n = 10
	for i := 0; i < n; i++ {
		log.add("device", "opened", 0.7, func(ev *pb.AlertEvent) { ev.Alert.Summary = `quote " and ] bracket` })
	}
	waitFor(t, "every syslog message over TLS", 10*time.Second, func() bool { return rcv.count() >= n })
	rcv.mu.Lock()
	checkSyslog(t, rcv.msgs, n)
	rcv.mu.Unlock()

	// Without the CA the receiver's certificate is refused.
	o.Stop()
	cfg := mustParse(t, "outputs:\n  - name: siem-untrusted\n    type: syslog\n    address: "+lis.Addr().String()+"\n    tls: true\n    max_attempts: 1\n")
	o = startOutbox(t, cfg, log, st, Options{})
	resp, err := o.Test(t.Context(), "siem-untrusted")
	if err != nil || !strings.Contains(resp.GetError(), "certificate") {
		t.Errorf("test against an untrusted receiver: %v %v", resp, err)
	}
}
