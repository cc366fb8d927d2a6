package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/collector/pki"
	"github.com/farmwatch/farmwatch/internal/cli"
	"github.com/farmwatch/farmwatch/internal/console"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/sim"
)

const scriptTag = "<script>alert(1)</script>"

// consoleSession is a running `farmwatch console` and a browser-like client
// of it that does not follow redirects.
type consoleSession struct {
	t      *testing.T
	url    *url.URL // the printed URL, secret included
	base   string   // http://127.0.0.1:PORT
	secret string
	cookie *http.Cookie
	client *http.Client
}

// startConsole runs the real command in this process until the test ends
// and reads the URL it prints.
func startConsole(t *testing.T, args ...string) *consoleSession {
	t.Helper()
	var out, errOut lockedLog
	root := newRoot()
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append(args, "console", "--open=false"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("console did not stop")
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "\n") {
		select {
		case err := <-done:
			t.Fatalf("console ended: %v\n%s", err, errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("console printed no URL:\n%s", errOut.String())
		}
	}
	printed := strings.TrimSpace(out.String())
	if !regexp.MustCompile(`^http://127\.0\.0\.1:\d+/\?k=[A-Za-z0-9_-]{43}$`).MatchString(printed) {
		t.Fatalf("console printed %q", printed)
	}
	if strings.Contains(errOut.String(), printed[strings.Index(printed, "k=")+2:]) {
		t.Fatal("the launch secret went to standard error")
	}
	u, _ := url.Parse(printed)
	return &consoleSession{t: t, url: u, base: "http://" + u.Host, secret: u.Query().Get("k"),
		client: &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request, with the session cookie when there is one.
func (s *consoleSession) do(method, path string, form url.Values, header http.Header) (*http.Response, string) {
	s.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, s.base+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if s.cookie != nil {
		req.AddCookie(s.cookie)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(b), scriptTag) {
		s.t.Errorf("%s %s: the page holds a raw %s", method, path, scriptTag)
	}
	return resp, string(b)
}

// login opens the printed URL and keeps the cookie it sets.
func (s *consoleSession) login() {
	s.t.Helper()
	resp, _ := s.do("GET", s.url.RequestURI(), nil, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		s.t.Fatalf("opening the printed URL: %s, Location %q", resp.Status, resp.Header.Get("Location"))
	}
	for _, c := range resp.Cookies() {
		if c.Value == s.secret {
			s.cookie = c
		}
	}
	if s.cookie == nil || !s.cookie.HttpOnly || s.cookie.SameSite != http.SameSiteStrictMode {
		s.t.Fatalf("session cookie %+v: want HttpOnly and SameSite=Strict", s.cookie)
	}
}

// page GETs a page that must answer 200 and returns its body.
func (s *consoleSession) page(path string) string {
	s.t.Helper()
	resp, body := s.do("GET", path, nil, nil)
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("GET %s: %s\n%s", path, resp.Status, body)
	}
	for h, want := range map[string]string{
		"Content-Security-Policy": "default-src 'self'", "X-Frame-Options": "DENY",
		"Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
	} {
		if !strings.Contains(resp.Header.Get(h), want) {
			s.t.Errorf("GET %s: %s %q, want %q", path, h, resp.Header.Get(h), want)
		}
	}
	return body
}

// post sends a form from the console's own origin with the page's token.
func (s *consoleSession) post(path string, form url.Values) (*http.Response, string) {
	s.t.Helper()
	return s.do("POST", path, form, http.Header{"Origin": {s.base}})
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func TestConsoleListenLoopbackOnly(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:0", "192.0.2.1:8080", "localhost:0", ":0", "nonsense"} {
		_, _, err := runCLI(t, t.TempDir(), "console", "--open=false", "--listen", listen)
		if err == nil || cli.ExitCode(err) != cli.ExitUsage || !strings.Contains(err.Error(), "--listen") {
			t.Errorf("--listen %s: %v (exit %d), want a usage error", listen, err, cli.ExitCode(err))
		}
	}
}

func TestConsole(t *testing.T) {
	c := testcollector.Start(t, nil)
	ctx := context.Background()
	fp, _ := c.Options().CAFingerprint()
	fleet, farmDev, farm, device, alerts := simulatedFarm(t, c, fp)
	defer fleet.Close()

	s := startConsole(t, "--data", c.Data)

	t.Run("launch secret", func(t *testing.T) {
		s.t = t
		for _, path := range []string{"/", "/alerts/" + device.GetId(), "/static/console.css", "/?k=wrong", "/?k=" + s.secret + "x"} {
			if resp, _ := s.do("GET", path, nil, nil); resp.StatusCode != http.StatusForbidden {
				t.Errorf("GET %s without the secret: %s", path, resp.Status)
			}
		}
		if resp, _ := s.do("GET", "/", nil, http.Header{"Cookie": {s.cookieName() + "=" + s.secret[:20]}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("a wrong cookie: %s", resp.Status)
		}
		// DNS rebinding: the right secret under another host name.
		req, _ := http.NewRequest("GET", s.url.String(), nil)
		req.Host = "evil.example:" + s.url.Port()
		resp, err := s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("another Host: %s", resp.Status)
		}
		s.login()
		s.page("/")
	})
	if s.cookie == nil {
		t.FailNow()
	}

	t.Run("queue and filters", func(t *testing.T) {
		s.t = t
		body := s.page("/")
		for _, a := range alerts {
			if !strings.Contains(body, `href="/alerts/`+a.GetId()+`"`) {
				t.Errorf("the queue lacks %s", a.GetId())
			}
		}
		for _, want := range []string{`<th scope="col">`, `<label for="f-kind">`, ">open<"} {
			if !strings.Contains(body, want) {
				t.Errorf("the queue lacks %q", want)
			}
		}
		body = s.page("/?kind=farm")
		if !strings.Contains(body, farm.GetId()) || strings.Contains(body, `href="/alerts/`+device.GetId()+`"`) {
			t.Errorf("kind=farm: want %s and not %s", farm.GetId(), device.GetId())
		}
		body = s.page("/?min_peak=1")
		if strings.Contains(body, `href="/alerts/`) {
			t.Errorf("min_peak=1 shows alerts")
		}
		body = s.page("/?status=resolved&sort=newest")
		if strings.Contains(body, `href="/alerts/`) {
			t.Errorf("status=resolved shows alerts before any is resolved")
		}
		// Sorted by peak, the highest first.
		body = s.page("/?sort=peak")
		peaks := regexp.MustCompile(`<td class="num">(\d\.\d\d)</td>\s*<td class="num">`).FindAllStringSubmatch(body, -1)
		if len(peaks) < 2 {
			t.Errorf("sort=peak: %d scores found in the queue", len(peaks))
		}
		for i := 1; i < len(peaks); i++ {
			if peaks[i][1] > peaks[i-1][1] {
				t.Errorf("sort=peak: %s after %s", peaks[i][1], peaks[i-1][1])
			}
		}
		for _, bad := range []string{"/?sort=loudest", "/?kind=x", "/?min_score=2", "/?status=closed"} {
			if resp, _ := s.do("GET", bad, nil, nil); resp.StatusCode != http.StatusBadRequest {
				t.Errorf("GET %s: %s, want 400", bad, resp.Status)
			}
		}
	})

	t.Run("pages", func(t *testing.T) {
		s.t = t
		body := s.page("/alerts/" + device.GetId())
		for _, ev := range device.GetEvidence() {
			if !strings.Contains(body, "<th scope=\"row\">"+ev.GetRule()+"</th>") {
				t.Errorf("the alert page lacks the evidence line %s", ev.GetRule())
			}
		}
		for _, want := range []string{"Contribution", "First seen", "Last seen", "Timeline", "opened", `action="/alerts/` + device.GetId() + `/resolve"`,
			`<label for="resolve-note">`} {
			if !strings.Contains(body, want) {
				t.Errorf("the alert page lacks %q", want)
			}
		}
		body = s.page("/alerts/" + farm.GetId())
		for _, d := range farm.GetMemberDevices() {
			if !strings.Contains(body, `href="/devices/`+d+`"`) {
				t.Errorf("the farm alert lacks member %s", d)
			}
		}
		body = s.page("/devices/" + farmDev.ID())
		if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(body, "DB-IP") {
			t.Errorf("the device page lacks its escaped hostname or the attribution:\n%s", body)
		}
		s.page("/hires/" + farmDev.Hire.GetId())
		body = s.page("/clusters")
		if !strings.Contains(body, farm.GetClusterId()) {
			t.Errorf("the farm list lacks %s", farm.GetClusterId())
		}
		body = s.page("/clusters/" + farm.GetClusterId())
		if !strings.Contains(body, "&lt;script&gt;") {
			t.Errorf("the cluster page lacks the escaped hostname and hire name")
		}
		for _, d := range fleet.Devices {
			s.page("/hires/" + d.Hire.GetId())
		}
		if resp, body := s.do("GET", "/alerts/A-999999", nil, nil); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "not found") {
			t.Errorf("a missing alert: %s\n%s", resp.Status, body)
		}
	})

	t.Run("maps", func(t *testing.T) {
		s.t = t
		cl, err := c.Admin.GetCluster(ctx, &pb.GetClusterRequest{Id: farm.GetClusterId()})
		if err != nil {
			t.Fatal(err)
		}
		if cl.GetObservedLatitude() == 0 && cl.GetObservedLongitude() == 0 {
			t.Fatalf("the simulated farm has no observed place: %v", cl)
		}
		homes := map[string]bool{}
		for _, m := range cl.GetMembers() {
			h, err := c.Admin.GetHire(ctx, &pb.GetHireRequest{Id: m.GetHireId()})
			if err == nil && (h.GetHome().GetLatitude() != 0 || h.GetHome().GetLongitude() != 0) {
				homes[h.GetId()] = true
			}
		}
		if len(homes) < 2 {
			t.Fatalf("want at least two member homes with coordinates, got %d", len(homes))
		}
		for _, path := range []string{"/clusters/" + cl.GetId(), "/alerts/" + farm.GetId()} {
			body := s.page(path)
			svg := mapSVG(t, path, body)
			if n := strings.Count(svg, `class="mark mark-home"`); n != len(homes) {
				t.Errorf("%s: %d home markers, want one per member hire, %d", path, n, len(homes))
			}
			if n := strings.Count(svg, `class="mark mark-observed"`); n != 1 {
				t.Errorf("%s: %d observed places, want 1", path, n)
			}
			if n := strings.Count(svg, `<line class="link"`); n != len(homes) {
				t.Errorf("%s: %d lines, want %d converging on the observed place", path, n, len(homes))
			}
			// The CSP forbids inline style: the map draws with presentation attributes only.
			if strings.Contains(svg, "style=") || strings.Contains(svg, "<style") {
				t.Errorf("%s: the map uses inline style, which the console's CSP blocks", path)
			}
			if strings.Contains(svg, "<script") || !strings.Contains(svg, "&lt;script&gt;") {
				t.Errorf("%s: the hire named %s is not escaped in the map", path, scriptTag)
			}
			if !strings.Contains(body, `IP geolocation by <a href="https://db-ip.com">DB-IP</a>`) || !strings.Contains(body, "claimed home (circle)") {
				t.Errorf("%s: the map lacks its legend or the DB-IP attribution", path)
			}
		}
		body := s.page("/devices/" + farmDev.ID())
		svg := mapSVG(t, "device", body)
		if !strings.Contains(svg, "mark-observed") || !strings.Contains(svg, `<circle class="accuracy"`) || strings.Contains(svg, "<script") {
			t.Errorf("the device map lacks the observed place or its accuracy, or an escape")
		}
		// A farm member's device alert draws its own laptop, not the farm:
		// the peer abroad its evidence names is on it.
		body = s.page("/alerts/" + device.GetId())
		svg = mapSVG(t, "device alert", body)
		if !strings.Contains(svg, "mark-observed") || strings.Count(svg, `class="mark mark-home"`) > 1 {
			t.Errorf("the device alert's map is not its laptop's (observed place, at most one home)")
		}
		for _, e := range device.GetEvidence() {
			if e.GetRule() == "geo.high_risk_peer" && !strings.Contains(svg, `class="mark mark-peer"`) {
				t.Errorf("the device alert names a peer abroad (%s) that its map does not draw", e.GetExplanation())
			}
		}
		body = s.page("/hires/" + farmDev.Hire.GetId())
		svg = mapSVG(t, "hire", body)
		if !strings.Contains(svg, "mark-home") || !strings.Contains(svg, "mark-observed") {
			t.Errorf("the hire map lacks the claimed home or the observed place")
		}
	})

	t.Run("csrf and origin", func(t *testing.T) {
		s.t = t
		body := s.page("/alerts/" + device.GetId())
		m := csrfField.FindStringSubmatch(body)
		if m == nil {
			t.Fatal("no CSRF token in the review forms")
		}
		path := "/alerts/" + device.GetId() + "/ack"
		for name, tc := range map[string]struct {
			form   url.Values
			header http.Header
		}{
			"no token":        {url.Values{"note": {"x"}}, http.Header{"Origin": {s.base}}},
			"wrong token":     {url.Values{"note": {"x"}, "csrf": {m[1] + "A"}}, http.Header{"Origin": {s.base}}},
			"other origin":    {url.Values{"note": {"x"}, "csrf": {m[1]}}, http.Header{"Origin": {"http://evil.example"}}},
			"no origin":       {url.Values{"note": {"x"}, "csrf": {m[1]}}, nil},
			"null cross-site": {url.Values{"note": {"x"}, "csrf": {m[1]}}, http.Header{"Origin": {"null"}, "Sec-Fetch-Site": {"cross-site"}}},
		} {
			if resp, _ := s.do("POST", path, tc.form, tc.header); resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s: %s", name, resp.Status)
			}
		}
		saved := s.cookie
		s.cookie = nil
		if resp, _ := s.post(path, url.Values{"note": {"x"}, "csrf": {m[1]}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("no cookie: %s", resp.Status)
		}
		s.cookie = saved
		if a, _ := c.Admin.GetAlert(ctx, &pb.GetAlertRequest{Id: device.GetId()}); a.GetStatus() != "open" {
			t.Fatalf("a refused POST changed the alert: %s", a.GetStatus())
		}
	})

	t.Run("ack and resolve", func(t *testing.T) {
		s.t = t
		id := device.GetId()
		token := csrfField.FindStringSubmatch(s.page("/alerts/" + id))[1]
		resp, body := s.post("/alerts/"+id+"/ack", url.Values{"csrf": {token}, "note": {"looking " + scriptTag}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("ack: %s\n%s", resp.Status, body)
		}
		if a, _ := c.Admin.GetAlert(ctx, &pb.GetAlertRequest{Id: id}); a.GetStatus() != "acknowledged" {
			t.Fatalf("after ack the alert is %s", a.GetStatus())
		}
		// The same POST as a browser sends it under no-referrer: Origin null, same-origin fetch.
		resp, body = s.do("POST", "/alerts/"+id+"/resolve", url.Values{"csrf": {token}, "verdict": {"confirmed"}, "note": {""}},
			http.Header{"Origin": {"null"}, "Sec-Fetch-Site": {"same-origin"}})
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "note") {
			t.Fatalf("resolve without a note: %s\n%s", resp.Status, body)
		}
		resp, body = s.do("POST", "/alerts/"+id+"/resolve", url.Values{"csrf": {token}, "verdict": {"confirmed"}, "note": {"a farm"}},
			http.Header{"Origin": {"null"}, "Sec-Fetch-Site": {"same-origin"}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/alerts/"+id+"?done=resolve" {
			t.Fatalf("resolve: %s %q\n%s", resp.Status, resp.Header.Get("Location"), body)
		}
		a, _ := c.Admin.GetAlert(ctx, &pb.GetAlertRequest{Id: id})
		if a.GetStatus() != "resolved" || a.GetVerdict() != "confirmed" || a.GetResolvedBy() != "local-operator" {
			t.Fatalf("after resolve: %s %s by %s", a.GetStatus(), a.GetVerdict(), a.GetResolvedBy())
		}
		body = s.page("/alerts/" + id + "?done=resolve")
		for _, want := range []string{"Resolved.", "alert.ack", "alert.resolve", "(by local-operator)"} {
			if !strings.Contains(body, want) {
				t.Errorf("the resolved alert's page lacks %q", want)
			}
		}
		if strings.Contains(body, `name="csrf"`) {
			t.Error("a resolved alert still offers review forms")
		}
		out, _, err := runCLI(t, c.Data, "audit", "--subject", id)
		if err != nil || !strings.Contains(out, "alert.ack") || !strings.Contains(out, "alert.resolve") || !strings.Contains(out, "local-operator") {
			t.Fatalf("audit: %v\n%s", err, out)
		}
		if s.page("/?status=resolved") == "" || !strings.Contains(s.page("/?status=resolved"), `href="/alerts/`+id+`"`) {
			t.Error("status=resolved lacks the resolved alert")
		}
	})

	t.Run("viewer", func(t *testing.T) {
		certPEM, keyPEM, err := c.CA().IssueAdmin("auditor", pki.RoleViewer, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		cert, key := filepath.Join(dir, "auditor.pem"), filepath.Join(dir, "auditor-key.pem")
		os.WriteFile(cert, certPEM, 0o600)
		os.WriteFile(key, keyPEM, 0o600)
		v := startConsole(t, "--data", c.Data, "--cert", cert, "--key", key)
		v.login()
		id := farm.GetId()
		body := v.page("/alerts/" + id)
		if strings.Contains(body, "<form method=\"post\"") || strings.Contains(body, `name="csrf"`) || !strings.Contains(body, "viewer role") {
			t.Errorf("a viewer's alert page offers review forms:\n%s", body)
		}
		if !strings.Contains(v.page("/"), "auditor (viewer: read only)") {
			t.Error("the viewer's header does not say read only")
		}
		// A forged POST with the viewer console's own token: the collector refuses it.
		token := v.csrfToken()
		for _, f := range []struct {
			path string
			form url.Values
		}{
			{"/alerts/" + id + "/ack", url.Values{"csrf": {token}, "note": {"x"}}},
			{"/alerts/" + id + "/resolve", url.Values{"csrf": {token}, "verdict": {"confirmed"}, "note": {"x"}}},
		} {
			resp, body := v.post(f.path, f.form)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "permissiondenied") || !strings.Contains(body, "reviewer role") {
				t.Errorf("viewer POST %s: %s\n%s", f.path, resp.Status, body)
			}
		}
		if a, _ := c.Admin.GetAlert(ctx, &pb.GetAlertRequest{Id: id}); a.GetStatus() != "open" {
			t.Errorf("the viewer changed the alert: %s", a.GetStatus())
		}
	})

	t.Run("report", func(t *testing.T) {
		hire := farmDev.Hire.GetId()
		file := filepath.Join(t.TempDir(), "case.html")
		if _, stderr, err := runCLI(t, c.Data, "report", hire, "--format", "html", "-o", file); err != nil {
			t.Fatalf("report: %v\n%s", err, stderr)
		}
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		page := string(raw)
		if !strings.HasPrefix(page, "<!doctype html>") || !strings.Contains(page, "<style>") {
			t.Fatalf("not a self-contained page:\n%.300s", page)
		}
		// Self-contained: no outside address, no script, nothing loaded.
		if m := regexp.MustCompile(`(?i)https?://|<script|<link|\ssrc=|url\(`).FindString(page); m != "" {
			t.Errorf("the report references %q", m)
		}
		svg := mapSVG(t, "report", page)
		for _, want := range []string{"mark-home", "mark-observed", `<line class="link"`} {
			if !strings.Contains(svg, want) {
				t.Errorf("the report's map lacks %s", want)
			}
		}
		if n := strings.Count(page, `<figure class="map">`); n < 2 {
			t.Errorf("%d maps, want the hire's and the farm's", n)
		}
		ids := map[string]bool{}
		for _, m := range regexp.MustCompile(` id="([^"]+)"`).FindAllStringSubmatch(page, -1) {
			if ids[m[1]] {
				t.Errorf("the id %q is not unique in the report", m[1])
			}
			ids[m[1]] = true
		}
		a, err := c.Admin.GetAlert(ctx, &pb.GetAlertRequest{Id: device.GetId()})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range a.GetEvidence() {
			if !strings.Contains(page, "<th scope=\"row\">"+ev.GetRule()+"</th>") {
				t.Errorf("the report lacks the evidence line %s", ev.GetRule())
			}
		}
		for _, want := range []string{"Contribution", "Alert " + device.GetId(), "Alert " + farm.GetId(), "verdict confirmed", "alert.ack", "alert.resolve",
			"local-operator", "Timeline", "enrolled", "&lt;script&gt;alert(1)&lt;/script&gt;", "IP geolocation by DB-IP (db-ip.com)"} {
			if !strings.Contains(page, want) {
				t.Errorf("the report lacks %q", want)
			}
		}
		if strings.Contains(page, scriptTag) {
			t.Error("a laptop- or HR-supplied string is not escaped in the report")
		}
		// Standard output when no file is named.
		out, _, err := runCLI(t, c.Data, "report", hire)
		if err != nil || !strings.HasPrefix(out, "<!doctype html>") {
			t.Errorf("report to standard output: %v\n%.200s", err, out)
		}
		if _, _, err := runCLI(t, c.Data, "report", hire, "--format", "docx"); err == nil || !strings.Contains(err.Error(), "want html or pdf") {
			t.Errorf("--format docx: %v", err)
		}
		if _, _, err := runCLI(t, c.Data, "report", "no-such-hire"); err == nil || !strings.Contains(err.Error(), "notfound") {
			t.Errorf("a missing hire: %v", err)
		}
		pdf := filepath.Join(t.TempDir(), "case.pdf")
		_, _, err = runCLI(t, c.Data, "report", hire, "--format", "pdf", "-o", pdf)
		if _, statErr := os.Stat("/usr/bin/chromium"); statErr != nil {
			if err == nil || !strings.Contains(err.Error(), "Chromium") {
				t.Errorf("--format pdf without a browser: %v", err)
			}
		} else if b, _ := os.ReadFile(pdf); err != nil || !bytes.HasPrefix(b, []byte("%PDF")) {
			t.Errorf("--format pdf: %v, %d bytes", err, len(b))
		}
	})

	t.Run("collector gone", func(t *testing.T) {
		s.t = t
		c.Stop()
		resp, body := s.do("GET", "/", nil, nil)
		if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(body, "unavailable") || !strings.Contains(body, `role="alert"`) {
			t.Errorf("the queue with the collector stopped: %s\n%s", resp.Status, body)
		}
	})
}

// mapSVG is the map of a page: the inline SVG in its figure.
func mapSVG(t *testing.T, what, body string) string {
	t.Helper()
	i := strings.Index(body, `<figure class="map">`)
	j := strings.Index(body, "</figure>")
	if i < 0 || j < i || !strings.Contains(body[i:j], "<svg") {
		t.Fatalf("%s: no map:\n%s", what, body)
	}
	if dir := os.Getenv("FARMWATCH_CONSOLE_DUMP"); dir != "" {
		os.WriteFile(filepath.Join(dir, strings.NewReplacer("/", "_").Replace(what)+".html"), []byte(body), 0o644)
	}
	return body[i:j]
}

// cookieName is the console's cookie name for this port.
func (s *consoleSession) cookieName() string { return "farmwatch_console_" + s.url.Port() }

// csrfToken is the token the console's review forms would carry: a viewer's
// pages have none, so a forger derives it from the launch secret.
func (s *consoleSession) csrfToken() string { return console.TokenFor(s.secret) }

// simulatedFarm registers, enrolls and runs a small simulated fleet against
// c until its farm is found. The first farm device's hostname and the other
// farm members' hire names are a <script> tag that every page must escape.
// It returns the fleet (to close), that device, the farm alert, the
// device's own alert, which names its hire, and every alert.
func simulatedFarm(t *testing.T, c *testcollector.Collector, fp string) (*sim.Fleet, *sim.Device, *pb.Alert, *pb.Alert, []*pb.Alert) {
	t.Helper()
	ctx := context.Background()
	fleet := sim.Plan(8, 5)
	var farmDev *sim.Device
	for _, d := range fleet.Devices {
		if d.Scenario == sim.Farm {
			if farmDev == nil {
				farmDev = d
				d.Hostname = scriptTag
			} else {
				d.Hire.Name = scriptTag
			}
		}
	}
	if farmDev == nil {
		fleet.Close()
		t.Fatal("the simulated fleet has no farm")
	}
	if err := fleet.Register(ctx, c.Admin); err != nil {
		fleet.Close()
		t.Fatal(err)
	}
	if err := fleet.Enroll(ctx, c.Addr(), fp, 4); err != nil {
		fleet.Close()
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ {
		if _, err := fleet.Send(ctx, time.Now(), 1, 4); err != nil {
			fleet.Close()
			t.Fatal(err)
		}
	}
	all, err := c.Admin.ListAlerts(ctx, &pb.ListAlertsRequest{})
	if err != nil || len(all.GetAlerts()) == 0 {
		fleet.Close()
		t.Fatalf("no alerts from the simulated farm: %v", err)
	}
	var farm, device *pb.Alert
	for _, a := range all.GetAlerts() {
		switch {
		case a.GetKind() == "farm" && farm == nil:
			farm = a
		case a.GetKind() == "device" && device == nil && a.GetDeviceId() == farmDev.ID():
			device = a
		}
	}
	if farm == nil || device == nil || device.GetHireId() == "" {
		fleet.Close()
		t.Fatalf("want a farm alert and a device alert of %s with its hire, got %v", farmDev.ID(), all.GetAlerts())
	}
	return fleet, farmDev, farm, device, all.GetAlerts()
}
