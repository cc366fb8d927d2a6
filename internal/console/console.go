// Package console is the reviewer's web console that `farmwatch console`
// serves on the reviewer's own machine: server-rendered pages over the
// collector's admin API, reached through the reviewer's admin certificate
// (like kubectl proxy), so the collector's role checks and audit apply
// unchanged and no credential is stored here.
//
// It lives in internal/ rather than beside the collector's packages because
// it is a client of the admin API, not part of the collector, and only the
// farmwatch command uses it: nothing outside this module should build on it.
//
// Security model: the console listens on loopback only; every request needs
// the per-launch secret, first in the URL (?k=SECRET), which sets an
// HttpOnly, SameSite=Strict cookie, then that cookie; the Host header must
// name the console's own address (against DNS rebinding); a POST also needs
// the CSRF token derived from the secret and must come from the console's
// own origin. Pages carry a strict Content-Security-Policy (no script, no
// outside request), X-Frame-Options DENY, Referrer-Policy no-referrer and
// Cache-Control no-store.
package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

//go:embed templates/*.html static/console.css static/report.css
var files embed.FS

// Config is what a console needs: the admin client it speaks through, the
// identity of the certificate it carries, and its own listening address.
type Config struct {
	Admin pb.AdminServiceClient
	// Name and Role are the admin certificate's (collector/pki): a viewer's
	// pages offer no acknowledge or resolve forms.
	Name, Role string
	// Collector is the collector's address, shown in the page header.
	Collector string
	// Addr is the console's own HOST:PORT, as the browser names it.
	Addr string
	// Timeout bounds one admin call (default 30s).
	Timeout time.Duration
}

// Console is an http.Handler serving the reviewer console.
type Console struct {
	cfg    Config
	secret string // base64url of 32 random bytes
	csrf   string // HMAC of the secret: the token a POST must carry
	cookie string // cookie name, per port: consoles on other ports do not clash
	pages  map[string]*template.Template
	css    []byte
	mux    *http.ServeMux
}

// New makes a console with a fresh launch secret.
func New(cfg Config) (*Console, error) {
	if cfg.Admin == nil || cfg.Addr == "" {
		return nil, errors.New("console: an admin client and the console address are required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("console: launch secret: %w", err)
	}
	c := &Console{cfg: cfg, secret: base64.RawURLEncoding.EncodeToString(raw)}
	c.csrf = TokenFor(c.secret)
	_, port, _ := net.SplitHostPort(cfg.Addr)
	c.cookie = "farmwatch_console_" + port
	var err error
	if c.pages, err = parsePages(); err != nil {
		return nil, err
	}
	if c.css, err = files.ReadFile("static/console.css"); err != nil {
		return nil, err
	}
	c.routes()
	return c, nil
}

// URL is the address to open: it carries the launch secret, so it is shown
// to the reviewer only, never logged.
func (c *Console) URL() string { return "http://" + c.cfg.Addr + "/?k=" + c.secret }

// TokenFor is the CSRF token of a launch secret, which every POST must
// carry: an HMAC of the secret, so it is bound to this launch and is no
// use without the secret's cookie.
func TokenFor(secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("farmwatch console csrf"))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// Serve serves the console on ln until ctx ends.
func (c *Console) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: c, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		<-done
		return nil
	}
}

// ServeHTTP checks the request (headers, host, secret or cookie, and for a
// POST the CSRF token and origin) before any page runs.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Host != c.cfg.Addr {
		c.forbidden(w, "this console answers only at "+c.cfg.Addr)
		return
	}
	if k := r.URL.Query().Get("k"); k != "" {
		if !equal(k, c.secret) {
			c.forbidden(w, "wrong launch secret: open the URL that farmwatch console printed")
			return
		}
		http.SetCookie(w, &http.Cookie{Name: c.cookie, Value: c.secret, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		if r.Method == http.MethodGet {
			// Drop the secret from the address bar and the history.
			q := r.URL.Query()
			q.Del("k")
			u := *r.URL
			u.RawQuery = q.Encode()
			http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
			return
		}
	} else if ck, err := r.Cookie(c.cookie); err != nil || !equal(ck.Value, c.secret) {
		c.forbidden(w, "no launch secret: open the URL that farmwatch console printed")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if !c.sameOrigin(r) {
			c.forbidden(w, "a change must come from the console's own pages")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil || !equal(r.PostForm.Get("csrf"), c.csrf) {
			c.forbidden(w, "missing or wrong form token: reload the page and try again")
			return
		}
	}
	c.mux.ServeHTTP(w, r)
}

// sameOrigin tells whether a state-changing request comes from the
// console's own origin. Browsers send Origin on a POST, but as "null" when
// the page's Referrer-Policy is no-referrer, as the console's is; then the
// browser's own Sec-Fetch-Site, which no page can set, must say
// same-origin.
func (c *Console) sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "http://"+c.cfg.Addr {
		return true
	}
	return (origin == "" || origin == "null") && r.Header.Get("Sec-Fetch-Site") == "same-origin"
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func (c *Console) forbidden(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprintln(w, "403 forbidden:", msg)
}

// call runs one admin call with the console's timeout.
func call[T any](c *Console, r *http.Request, fn func(context.Context, pb.AdminServiceClient) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(r.Context(), c.cfg.Timeout)
	defer cancel()
	return fn(ctx, c.cfg.Admin)
}

// httpStatus is the HTTP status a page shows for an admin call's error.
func httpStatus(err error) int {
	switch status.Code(err) {
	case codes.PermissionDenied, codes.Unauthenticated:
		return http.StatusForbidden
	case codes.NotFound:
		return http.StatusNotFound
	case codes.InvalidArgument, codes.FailedPrecondition:
		return http.StatusBadRequest
	case codes.DeadlineExceeded, codes.Unavailable:
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

// plain is a gRPC error as "code: message", as the CLI prints it.
func plain(err error) string {
	if st, ok := status.FromError(err); ok {
		return strings.ToLower(st.Code().String()) + ": " + st.Message()
	}
	return err.Error()
}
