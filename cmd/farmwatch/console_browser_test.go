package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/farmwatch/farmwatch/collector/pki"
	"github.com/farmwatch/farmwatch/internal/testcollector"
)

// pageTimeout bounds each step in the browser: generous, for a loaded machine.
const pageTimeout = 60 * time.Second

// chromiumPath finds Debian's chromium (which scripts/ci-packages.sh
// installs). Without it the test skips, except on CI (FARMWATCH_CI set, as
// .ci/run does), where it fails: CI must not skip the browser test silently.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("FARMWATCH_CI") != "" {
		t.Fatalf("chromium is not installed and FARMWATCH_CI is set: run scripts/ci-packages.sh (Debian package chromium)")
	}
	t.Skip("chromium is not installed (scripts/ci-packages.sh installs the Debian package chromium): skipping the browser test")
	return ""
}

// artifactDir is where the screenshots go: $FARMWATCH_ARTIFACTS, or a
// temporary directory.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("FARMWATCH_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("FARMWATCH_ARTIFACTS: %v", err)
	}
	return dir
}

// tab is one browser tab on one console. Its listener records, as they
// happen, what the page must never do: log an error, throw, or make a
// request to any origin other than the console's.
type tab struct {
	ctx    context.Context
	host   string // 127.0.0.1:PORT of its console
	dir    string
	mu     sync.Mutex
	bad    []string
	seen   int // requests to the console
	shots  int
	prefix string
}

func newTab(t *testing.T, parent context.Context, host, dir, prefix string) *tab {
	t.Helper()
	tb := &tab{host: host, dir: dir, prefix: prefix}
	ctx, cancel := chromedp.NewContext(parent, chromedp.WithListener(tb.listen))
	t.Cleanup(cancel)
	tb.ctx = ctx
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("starting a browser tab: %v", err)
	}
	return tb
}

func (tb *tab) listen(ev any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			tb.bad = append(tb.bad, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		tb.bad = append(tb.bad, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, msg))
	case *log.EventEntryAdded:
		// Errors of the page itself (a refused stylesheet, a CSP violation);
		// an HTTP error status is a network entry, checked by the steps.
		if ev.Entry.Level == log.EntryLevelError && ev.Entry.Source != log.EntrySourceNetwork {
			tb.bad = append(tb.bad, fmt.Sprintf("log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	case *network.EventRequestWillBeSent:
		u, err := url.Parse(ev.Request.URL)
		if err != nil || u.Scheme != "http" || u.Host != tb.host {
			tb.bad = append(tb.bad, "a request to another origin: "+ev.Request.URL)
		} else {
			tb.seen++
		}
	}
}

// check fails the test for anything bad the page did since the last check.
func (tb *tab) check(t *testing.T, where string) {
	t.Helper()
	tb.mu.Lock()
	bad := tb.bad
	tb.bad = nil
	tb.mu.Unlock()
	for _, b := range bad {
		t.Errorf("%s: %s", where, b)
	}
}

// open navigates to a console path and wants the given HTTP status.
func (tb *tab) open(t *testing.T, path string, status int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, pageTimeout)
	defer cancel()
	u := path
	if !strings.HasPrefix(u, "http://") {
		u = "http://" + tb.host + path
	}
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(u))
	if err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}
	if resp.Status != status {
		t.Fatalf("opening %s: HTTP %d %s, want %d", path, resp.Status, resp.StatusText, status)
	}
}

// follow runs an action that navigates (a click, a key) and wants a 200.
func (tb *tab) follow(t *testing.T, what string, a chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, pageTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if resp.Status != 200 {
		t.Fatalf("%s: HTTP %d %s", what, resp.Status, resp.StatusText)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, tb *tab, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, pageTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// js quotes a string for JavaScript.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// count is how many elements match a CSS selector.
func (tb *tab) count(t *testing.T, sel string) int {
	t.Helper()
	return eval[int](t, tb, "document.querySelectorAll("+js(sel)+").length")
}

// text is the text of the first element that matches, or "" when none does.
func (tb *tab) text(t *testing.T, sel string) string {
	t.Helper()
	return eval[string](t, tb, "(document.querySelector("+js(sel)+")||{}).textContent||''")
}

// must wants at least one element matching each selector.
func (tb *tab) must(t *testing.T, page string, sels ...string) {
	t.Helper()
	for _, sel := range sels {
		if tb.count(t, sel) == 0 {
			t.Errorf("%s: no element matches %s", page, sel)
		}
	}
}

// page checks what every console page has, takes its screenshot and checks
// the listener's findings.
func (tb *tab) page(t *testing.T, name string) {
	t.Helper()
	tb.must(t, name, "header nav a[href='/']", "main#main h1", "a.skip[href='#main']")
	if n := tb.count(t, "script"); n != 0 {
		t.Errorf("%s: %d script element(s) in the page", name, n)
	}
	if !eval[bool](t, tb, "[...document.styleSheets].some(s => s.href && s.href.endsWith('/static/console.css') && s.cssRules.length > 0)") {
		t.Errorf("%s: the console's stylesheet is not applied", name)
	}
	tb.shot(t, name)
	tb.check(t, name)
}

// shot saves a full-page PNG screenshot.
func (tb *tab) shot(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, pageTimeout)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot of %s: %v", name, err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(buf))
	if err != nil {
		t.Fatalf("screenshot of %s is no PNG: %v", name, err)
	}
	if cfg.Width != 1280 || cfg.Height < 800 {
		t.Errorf("screenshot of %s is %dx%d, want 1280 wide and at least 800 high", name, cfg.Width, cfg.Height)
	}
	tb.mu.Lock()
	tb.shots++
	file := filepath.Join(tb.dir, fmt.Sprintf("%s%02d-%s.png", tb.prefix, tb.shots, name))
	tb.mu.Unlock()
	if err := os.WriteFile(file, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%dx%d)", file, cfg.Width, cfg.Height)
}

// mapSelector finds the maps the console and the case report draw: an
// inline SVG in a figure of class map.
const mapSelector = "figure.map > svg[role=img]"

// maps checks that a page has at least one map and that each has a title,
// draws at least one path and takes up width.
func (tb *tab) maps(t *testing.T, name string) {
	t.Helper()
	type svgMap struct {
		Title string `json:"title"`
		Paths int    `json:"paths"`
		Width int    `json:"width"`
	}
	maps := eval[[]svgMap](t, tb, `[...document.querySelectorAll("`+mapSelector+`")].map(m => ({
		title: (m.querySelector(":scope > title") || {}).textContent || "",
		paths: m.querySelectorAll("path").length,
		width: Math.round(m.getBoundingClientRect().width)}))`)
	if len(maps) == 0 {
		t.Errorf("%s: no map in the page (%s)", name, mapSelector)
		return
	}
	for i, m := range maps {
		if strings.TrimSpace(m.Title) == "" || m.Paths == 0 || m.Width == 0 {
			t.Errorf("%s: map %d has title %q, %d path(s), width %d: want a title, a path and a width", name, i, m.Title, m.Paths, m.Width)
		}
	}
}

// TestConsoleInBrowser drives the real console in headless Chromium against
// a real collector and a simulated farm: the launch secret, the queue, an
// alert, a hire, a device and a farm cluster, by keyboard too, with no
// console error and no request to any other origin; a viewer sees no review
// controls. It saves a full-page screenshot of each page at 1280x800.
func TestConsoleInBrowser(t *testing.T) {
	exe := chromiumPath(t)
	if testing.Short() {
		t.Skip("starts a browser")
	}
	start := time.Now()
	dir := artifactDir(t)

	c := testcollector.Start(t, nil)
	fp, _ := c.Options().CAFingerprint()
	fleet, farmDev, farm, device, alerts := simulatedFarm(t, c, fp)
	defer fleet.Close()
	t.Logf("collector and simulated farm ready in %s", time.Since(start).Round(time.Millisecond))

	s := startConsole(t, "--data", c.Data)

	// One browser for the whole test.
	var browserOut lockedLog
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.WindowSize(1280, 800),
		chromedp.Flag("disable-gpu", true), chromedp.CombinedOutput(&browserOut))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("browser output:\n%s", browserOut.String())
		}
	})
	bstart := time.Now()
	tb := newTab(t, browserCtx, s.url.Host, dir, "")
	t.Logf("browser started in %s", time.Since(bstart).Round(time.Millisecond))

	t.Run("launch secret", func(t *testing.T) {
		for _, path := range []string{"/", "/?k=wrong", "/alerts/" + device.GetId()} {
			tb.open(t, path, 403)
			if body := tb.text(t, "body"); !strings.Contains(body, "403 forbidden") {
				t.Errorf("GET %s without the secret shows %q", path, body)
			}
		}
		tb.shot(t, "forbidden")
		tb.check(t, "forbidden")
		// The printed URL sets the cookie and lands on the queue without the secret.
		tb.open(t, s.url.String(), 200)
		if loc := eval[string](t, tb, "location.href"); loc != s.base+"/" {
			t.Errorf("after the launch URL the browser is at %s, want %s/", loc, s.base)
		}
		if n := eval[int](t, tb, "document.cookie.length"); n != 0 {
			t.Errorf("the page's script can read %d bytes of cookie: want HttpOnly", n)
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	t.Run("queue", func(t *testing.T) {
		tb.open(t, "/", 200)
		if got := tb.text(t, "main table caption"); got != "Alerts" {
			t.Errorf("the queue's table caption is %q", got)
		}
		if n := tb.count(t, "main table tbody tr"); n != len(alerts) {
			t.Errorf("the queue shows %d rows, want %d", n, len(alerts))
		}
		row := "main table tbody tr:has(a[href='/alerts/" + farm.GetId() + "'])"
		tb.must(t, "queue", row, "label[for='f-kind']", "select#f-kind", "thead th[scope='col'] a")
		if kind := tb.text(t, row+" td"); kind != "farm" {
			t.Errorf("the farm alert's row says kind %q", kind)
		}
		// The keyboard: the first Tab reaches the skip link.
		if err := chromedp.Do(tb.ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
			t.Fatal(err)
		}
		if cls := eval[string](t, tb, "document.activeElement.className"); cls != "skip" {
			t.Errorf("the first Tab focuses %q, want the skip link", cls)
		}
		tb.page(t, "queue")
		// A filter, submitted as a form.
		tb.open(t, "/?kind=farm", 200)
		if n := tb.count(t, "main table tbody tr"); n == 0 || tb.count(t, "a[href='/alerts/"+device.GetId()+"']") != 0 {
			t.Errorf("kind=farm shows %d rows, the device alert among them", n)
		}
		tb.check(t, "queue kind=farm")
	})

	t.Run("alert", func(t *testing.T) {
		tb.open(t, "/alerts/"+device.GetId(), 200)
		if n := tb.count(t, "table[aria-labelledby='evidence'] tbody tr"); n != len(device.GetEvidence()) || n == 0 {
			t.Errorf("the evidence table has %d rows, want %d", n, len(device.GetEvidence()))
		}
		tb.must(t, "alert", "table[aria-labelledby='evidence'] thead th", "ol.timeline li time",
			"form[action='/alerts/"+device.GetId()+"/ack'] button", "form[action='/alerts/"+device.GetId()+"/resolve'] button",
			"label[for='resolve-note']", "textarea#resolve-note[required]")
		tb.page(t, "alert")

		// The keyboard: from the device link, Tab reaches the hire link and Enter opens it.
		ctx, cancel := context.WithTimeout(tb.ctx, pageTimeout)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.Focus(chromedp.CSS("dl.facts a[href='/devices/"+device.GetDeviceId()+"']")),
			chromedp.KeyEvent(kb.Tab)); err != nil {
			t.Fatal(err)
		}
		want := "/hires/" + device.GetHireId()
		if href := eval[string](t, tb, "document.activeElement.getAttribute('href')||''"); href != want {
			t.Fatalf("Tab from the device link focuses %q, want %q", href, want)
		}
		tb.follow(t, "Enter on the hire link", chromedp.KeyEvent(kb.Enter))
		if loc := eval[string](t, tb, "location.pathname"); loc != want {
			t.Errorf("Enter on the hire link went to %s", loc)
		}
		tb.check(t, "alert keyboard")

		tb.open(t, "/alerts/"+farm.GetId(), 200)
		for _, d := range farm.GetMemberDevices() {
			tb.must(t, "farm alert", "main ul a[href='/devices/"+d+"']")
		}
		tb.page(t, "farm-alert")
	})

	t.Run("hire", func(t *testing.T) {
		tb.open(t, "/hires/"+farmDev.Hire.GetId(), 200)
		tb.must(t, "hire", "dl.facts", "table[aria-labelledby='devices'] a[href='/devices/"+farmDev.ID()+"']", "p.attribution a")
		tb.maps(t, "hire")
		tb.page(t, "hire")
	})

	t.Run("device", func(t *testing.T) {
		tb.open(t, "/devices/"+farmDev.ID(), 200)
		tb.must(t, "device", "table[aria-labelledby='evidence'] tbody tr", "table[aria-labelledby='reports'] tbody tr", "p.attribution a")
		// The laptop's hostname is shown as text, not run.
		if got := tb.text(t, "dl.facts dd"); got != scriptTag {
			t.Errorf("the device's hostname shows as %q, want the text %q", got, scriptTag)
		}
		tb.maps(t, "device")
		tb.page(t, "device")
	})

	t.Run("cluster", func(t *testing.T) {
		tb.open(t, "/clusters", 200)
		tb.must(t, "clusters", "main table a[href='/clusters/"+farm.GetClusterId()+"']")
		tb.check(t, "clusters")
		tb.follow(t, "clicking the farm cluster", chromedp.Click(chromedp.CSS("main table a[href='/clusters/"+farm.GetClusterId()+"']")))
		if n := tb.count(t, "table[aria-labelledby='members'] tbody tr"); n < 2 || n < len(farm.GetMemberDevices()) {
			t.Errorf("the cluster page lists %d members, want at least %d", n, max(2, len(farm.GetMemberDevices())))
		}
		tb.must(t, "cluster", "table[aria-labelledby='shared'] tbody tr", "p.attribution a")
		tb.maps(t, "cluster")
		tb.page(t, "cluster")
	})

	// The case report of a farm member, in the same browser, when this build
	// has `farmwatch report`: served from a loopback server of its own, it
	// must make no request to any other origin either.
	t.Run("report", func(t *testing.T) {
		root := newRoot()
		cmd, _, err := root.Find([]string{"report"})
		if err != nil || cmd == root || cmd.Name() != "report" {
			t.Log("no farmwatch report command in this build yet: the case report is not checked")
			return
		}
		args := []string{"report", farmDev.Hire.GetId(), "--format", "html"}
		file := filepath.Join(t.TempDir(), "report.html")
		for _, name := range []string{"output", "out"} {
			if cmd.Flags().Lookup(name) != nil {
				args = append(args, "--"+name, file)
				break
			}
		}
		stdout, stderr, err := runCLI(t, c.Data, args...)
		if err != nil {
			t.Fatalf("farmwatch %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		html := []byte(stdout)
		if b, err := os.ReadFile(file); err == nil {
			html = b
		}
		if !bytes.Contains(bytes.ToLower(html), []byte("<html")) {
			t.Fatalf("farmwatch %s wrote no HTML page:\n%.400s", strings.Join(args, " "), html)
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/report.html" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write(html)
		}))
		t.Cleanup(srv.Close)
		rt := newTab(t, browserCtx, strings.TrimPrefix(srv.URL, "http://"), dir, "report-")
		rt.open(t, "/report.html", 200)
		if body := rt.text(t, "body"); !strings.Contains(body, farmDev.Hire.GetId()) || !strings.Contains(body, farmDev.ID()) {
			t.Errorf("the case report lacks the hire %s or its device %s", farmDev.Hire.GetId(), farmDev.ID())
		}
		rt.maps(t, "report")
		rt.shot(t, "hire")
		rt.check(t, "report")
	})

	t.Run("viewer", func(t *testing.T) {
		certPEM, keyPEM, err := c.CA().IssueAdmin("auditor", pki.RoleViewer, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		kdir := t.TempDir()
		cert, key := filepath.Join(kdir, "auditor.pem"), filepath.Join(kdir, "auditor-key.pem")
		if err := os.WriteFile(cert, certPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(key, keyPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		v := startConsole(t, "--data", c.Data, "--cert", cert, "--key", key)
		vt := newTab(t, browserCtx, v.url.Host, dir, "viewer-")
		vt.open(t, v.url.String(), 200)
		if who := vt.text(t, "header p.who"); !strings.Contains(who, "read only") {
			t.Errorf("the viewer's header says %q", who)
		}
		vt.open(t, "/alerts/"+farm.GetId(), 200)
		if n := vt.count(t, "form[method='post'], input[name='csrf']"); n != 0 {
			t.Errorf("a viewer's alert page has %d review form element(s)", n)
		}
		if n := eval[int](t, vt, "[...document.querySelectorAll('button, input[type=submit]')].filter(b => /acknowledge|resolve/i.test(b.textContent + b.value)).length"); n != 0 {
			t.Errorf("a viewer's alert page has %d acknowledge or resolve button(s)", n)
		}
		if note := vt.text(t, "main p.note"); !strings.Contains(note, "viewer role") {
			t.Errorf("the viewer's alert page says %q, want the viewer role explained", note)
		}
		vt.page(t, "alert")
	})

	tb.mu.Lock()
	seen := tb.seen
	tb.mu.Unlock()
	if seen == 0 {
		t.Error("the listener saw no request: the origin check checked nothing")
	}
	t.Logf("browser test done in %s (%d requests to the console), screenshots in %s", time.Since(start).Round(time.Millisecond), seen, dir)
}
