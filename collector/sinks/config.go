// Package sinks takes the alert event log out of the collector: signed
// webhooks, Slack, a JSON-lines file for a SIEM and syslog (RFC 5424 over
// TCP or TLS). Each output reads the log from its own persisted cursor in
// its own goroutine, so a slow or dead receiver holds up nothing but itself.
package sinks

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Output types.
const (
	TypeWebhook = "webhook"
	TypeSlack   = "slack"
	TypeJSONL   = "jsonl"
	TypeSyslog  = "syslog"
)

// Defaults of an output's optional fields.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultMaxAttempts = 8
	DefaultMaxSizeMB   = 100
	DefaultMaxBackups  = 10
	// MinSecretBytes is the shortest webhook secret accepted, decoded.
	MinSecretBytes = 24
)

// SecretPrefix starts a Standard Webhooks secret: whsec_ then base64.
const SecretPrefix = "whsec_"

// Config is the outputs file (serve --outputs FILE).
type Config struct {
	Outputs []*Output `yaml:"outputs"`
}

// Output is one configured output.
type Output struct {
	Name string `yaml:"name"`
	Type string `yaml:"type"`

	// webhook, slack
	URL        string `yaml:"url"`
	SecretFile string `yaml:"secret_file"`
	SecretEnv  string `yaml:"secret_env"`

	// Filters: an event outside them advances the cursor undelivered.
	Kinds    []string `yaml:"kinds"`
	MinScore float64  `yaml:"min_score"`
	Events   []string `yaml:"events"`

	Timeout     time.Duration `yaml:"timeout"`
	MaxAttempts int           `yaml:"max_attempts"`

	// jsonl
	Path       string `yaml:"path"`
	MaxSizeMB  int    `yaml:"max_size_mb"`
	MaxBackups int    `yaml:"max_backups"`

	// syslog
	Address string `yaml:"address"`
	TLS     bool   `yaml:"tls"`
	CAFile  string `yaml:"ca_file"`

	// secret is the decoded webhook secret; never printed.
	secret []byte
	// roots are the syslog TLS roots from ca_file (nil: the system's).
	roots *x509.CertPool
}

var (
	nameRE     = regexp.MustCompile(`^[a-z0-9-]+$`)
	validKinds = map[string]bool{"device": true, "farm": true, "applicant": true}
	// EventTypes are the alert event log's event types, for the events filter.
	validEvents = map[string]bool{"opened": true, "evidence_changed": true, "review_crossed": true,
		"acknowledged": true, "resolved": true}
)

// LoadConfig reads and checks the outputs file; secrets named by
// secret_file and secret_env are read now, so a missing one stops the
// collector from starting rather than failing at the first alert.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("outputs file: %w", err)
	}
	cfg, err := ParseConfig(b, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("outputs file %s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig decodes an outputs file strictly (an unknown key is an error)
// and checks every output; lookupEnv resolves secret_env.
func ParseConfig(data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	cfg := &Config{}
	if err := dec.Decode(cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty: want an outputs: list")
		}
		return nil, err
	}
	if len(cfg.Outputs) == 0 {
		return nil, errors.New("no outputs: want an outputs: list with at least one output")
	}
	seen := map[string]int{}
	for i, o := range cfg.Outputs {
		if o == nil {
			return nil, fmt.Errorf("outputs[%d]: empty entry", i)
		}
		if err := o.check(lookupEnv); err != nil {
			who := fmt.Sprintf("outputs[%d]", i)
			if o.Name != "" {
				who = fmt.Sprintf("output %q", o.Name)
			}
			return nil, fmt.Errorf("%s: %w", who, err)
		}
		if j, dup := seen[o.Name]; dup {
			return nil, fmt.Errorf("output %q: name: also used by outputs[%d]; names must be unique (the name keys the output's cursor and dead letters)", o.Name, j)
		}
		seen[o.Name] = i
	}
	return cfg, nil
}

func fieldErr(field, format string, args ...any) error {
	return fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...))
}

func (o *Output) check(lookupEnv func(string) (string, bool)) error {
	if o.Name == "" {
		return fieldErr("name", "missing: give each output a name of lowercase letters, digits and dashes")
	}
	if !nameRE.MatchString(o.Name) || len(o.Name) > 64 {
		return fieldErr("name", "%q: use lowercase letters, digits and dashes (at most 64)", o.Name)
	}
	// Fields that belong to other types are refused: a path on a webhook
	// is a mistake the operator should hear about, not a silent no-op.
	set := map[string]bool{"url": o.URL != "", "secret_file": o.SecretFile != "", "secret_env": o.SecretEnv != "",
		"path": o.Path != "", "max_size_mb": o.MaxSizeMB != 0, "max_backups": o.MaxBackups != 0,
		"address": o.Address != "", "tls": o.TLS, "ca_file": o.CAFile != ""}
	allowed := map[string][]string{
		TypeWebhook: {"url", "secret_file", "secret_env"},
		TypeSlack:   {"url"},
		TypeJSONL:   {"path", "max_size_mb", "max_backups"},
		TypeSyslog:  {"address", "tls", "ca_file"},
	}
	fields, ok := allowed[o.Type]
	if !ok {
		if o.Type == "" {
			return fieldErr("type", "missing: want webhook, slack, jsonl or syslog")
		}
		return fieldErr("type", "%q: want webhook, slack, jsonl or syslog", o.Type)
	}
	for _, f := range []string{"url", "secret_file", "secret_env", "path", "max_size_mb", "max_backups", "address", "tls", "ca_file"} {
		if set[f] && !contains(fields, f) {
			return fieldErr(f, "not a field of a %s output (it takes %s)", o.Type, strings.Join(fields, ", "))
		}
	}
	for _, k := range o.Kinds {
		if !validKinds[k] {
			return fieldErr("kinds", "%q: want device, farm or applicant", k)
		}
	}
	for _, e := range o.Events {
		if !validEvents[e] {
			return fieldErr("events", "%q: want opened, evidence_changed, review_crossed, acknowledged or resolved", e)
		}
	}
	if o.MinScore < 0 || o.MinScore > 1 {
		return fieldErr("min_score", "%v: want a score between 0 and 1", o.MinScore)
	}
	if o.Timeout < 0 {
		return fieldErr("timeout", "%v: want a positive duration such as 10s", o.Timeout)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxAttempts < 0 {
		return fieldErr("max_attempts", "%d: want at least 1", o.MaxAttempts)
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	switch o.Type {
	case TypeWebhook, TypeSlack:
		if err := checkURL(o.URL); err != nil {
			return err
		}
		if o.Type == TypeWebhook {
			return o.loadSecret(lookupEnv)
		}
	case TypeJSONL:
		if o.Path == "" {
			return fieldErr("path", "missing: name the JSON-lines file to write")
		}
		if o.MaxSizeMB < 0 {
			return fieldErr("max_size_mb", "%d: want a size in megabytes, at least 1", o.MaxSizeMB)
		}
		if o.MaxSizeMB == 0 {
			o.MaxSizeMB = DefaultMaxSizeMB
		}
		if o.MaxBackups < 0 {
			return fieldErr("max_backups", "%d: want 0 or more rotated files to keep", o.MaxBackups)
		}
		if o.MaxBackups == 0 {
			o.MaxBackups = DefaultMaxBackups
		}
	case TypeSyslog:
		if o.Address == "" {
			return fieldErr("address", "missing: name the syslog receiver as host:port")
		}
		host, port, err := net.SplitHostPort(o.Address)
		if err != nil || host == "" {
			return fieldErr("address", "%q: want host:port", o.Address)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fieldErr("address", "%q: port %q is not a port number", o.Address, port)
		}
		if o.CAFile != "" {
			if !o.TLS {
				return fieldErr("ca_file", "set, but tls is false: set tls: true or drop ca_file")
			}
			pem, err := os.ReadFile(o.CAFile)
			if err != nil {
				return fieldErr("ca_file", "%v", err)
			}
			o.roots = x509.NewCertPool()
			if !o.roots.AppendCertsFromPEM(pem) {
				return fieldErr("ca_file", "%s holds no PEM certificate", o.CAFile)
			}
		}
	}
	return nil
}

func checkURL(raw string) error {
	if raw == "" {
		return fieldErr("url", "missing: give the receiver's https:// URL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the URL, which may carry a token: name the fault only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fieldErr("url", "malformed: %v", err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return fieldErr("url", "scheme %q: want https (or http)", u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return fieldErr("url", "no host: want https://host/path")
	}
	if u.User != nil {
		return fieldErr("url", "carries credentials (user:password@): take them out; a webhook is authenticated by its signature")
	}
	if u.Fragment != "" {
		return fieldErr("url", "has a #fragment, which is never sent: take it out")
	}
	return nil
}

func (o *Output) loadSecret(lookupEnv func(string) (string, bool)) error {
	var raw, from string
	switch {
	case o.SecretFile != "" && o.SecretEnv != "":
		return fieldErr("secret_file", "and secret_env both set: give one")
	case o.SecretFile != "":
		b, err := os.ReadFile(o.SecretFile)
		if err != nil {
			return fieldErr("secret_file", "%v", err)
		}
		raw, from = string(b), "secret_file "+o.SecretFile
	case o.SecretEnv != "":
		v, ok := lookupEnv(o.SecretEnv)
		if !ok || strings.TrimSpace(v) == "" {
			return fieldErr("secret_env", "the environment variable %s is not set", o.SecretEnv)
		}
		raw, from = v, "secret_env "+o.SecretEnv
	default:
		return fieldErr("secret_file", "missing: a webhook needs a secret (secret_file or secret_env) holding whsec_ and base64 of at least %d random bytes", MinSecretBytes)
	}
	key, err := ParseSecret(strings.TrimSpace(raw))
	if err != nil {
		field, _, _ := strings.Cut(from, " ")
		return fieldErr(field, "%s: %v", from, err)
	}
	o.secret = key
	return nil
}

// ParseSecret decodes a Standard Webhooks secret, "whsec_" followed by the
// base64 of the key, and refuses keys shorter than MinSecretBytes.
func ParseSecret(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("not a whsec_ secret: want whsec_ followed by base64 (make one with: printf 'whsec_%%s\\n' \"$(head -c 32 /dev/urandom | base64)\")")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(b64)
	}
	if err != nil {
		return nil, errors.New("the part after whsec_ is not base64")
	}
	if len(key) < MinSecretBytes {
		return nil, fmt.Errorf("the secret is %d bytes, want at least %d", len(key), MinSecretBytes)
	}
	return key, nil
}

// String names the output without its secret, so that printing or logging
// an Output (%v, %+v, slog) never shows the key.
func (o *Output) String() string {
	return fmt.Sprintf("output %q (%s, %s)", o.Name, o.Type, o.Target())
}

// Target is where the output sends, safe to show: a URL without its path
// for Slack (the path is the secret), without query for a webhook; the
// file path; or host:port.
func (o *Output) Target() string {
	switch o.Type {
	case TypeWebhook, TypeSlack:
		u, err := url.Parse(o.URL)
		if err != nil {
			return ""
		}
		t := &url.URL{Scheme: u.Scheme, Host: u.Host}
		if o.Type == TypeWebhook {
			t.Path = u.Path
		}
		return t.String()
	case TypeJSONL:
		return o.Path
	case TypeSyslog:
		return o.Address
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
