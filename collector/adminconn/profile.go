package adminconn

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/farmwatch/farmwatch/collector/pki"
)

// ProfileVersion is the bundle format this code writes and reads.
const ProfileVersion = 1

// maxProfileBytes bounds a profile file: three PEM blocks and an address.
const maxProfileBytes = 1 << 20

// Profile is a client profile: everything the CLI needs to reach one
// collector as one admin, in one file (docs/CLI.md, "Client profiles").
type Profile struct {
	Version int    `yaml:"farmwatch_profile"`
	Name    string `yaml:"name,omitempty"`    // the admin the certificate names
	Role    string `yaml:"role,omitempty"`    // viewer or reviewer, as the certificate says
	Expires string `yaml:"expires,omitempty"` // the certificate's end, RFC 3339
	Server  string `yaml:"server"`            // HOST:PORT of the collector
	CA      string `yaml:"ca"`                // PEM of the collector CA
	Cert    string `yaml:"cert"`              // PEM of the admin certificate
	Key     string `yaml:"key"`               // PEM of the admin key
}

var profileHeader = []byte(`# farmwatch client profile: a collector address, its CA, and an admin
# certificate with its private key. Keep it private (mode 0600): whoever
# holds it acts as this admin until the certificate is revoked.
`)

// NewProfile bundles an issued certificate, recording its name, role and end
// from the certificate itself.
func NewProfile(server string, caPEM, certPEM, keyPEM []byte) (*Profile, error) {
	p := &Profile{Version: ProfileVersion, Server: server, CA: string(caPEM), Cert: string(certPEM), Key: string(keyPEM)}
	if err := p.check(); err != nil {
		return nil, err
	}
	c, _ := pki.ParseCertPEM(certPEM) // parsed by check
	p.Name, p.Role, p.Expires = c.Subject.CommonName, pki.Role(c), c.NotAfter.UTC().Format(time.RFC3339)
	return p, nil
}

// Marshal writes the profile as the documented YAML.
func (p *Profile) Marshal() ([]byte, error) {
	b, err := yaml.Marshal(p)
	if err != nil {
		return nil, err
	}
	return append(bytes.Clone(profileHeader), b...), nil
}

// ParseProfile reads a profile, refusing unknown keys, another version, and
// a server, CA, certificate or key that cannot be used.
func ParseProfile(b []byte) (*Profile, error) {
	if len(b) > maxProfileBytes {
		return nil, fmt.Errorf("over %d bytes: not a farmwatch profile", maxProfileBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var p Profile
	if err := dec.Decode(&p); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty: not a farmwatch profile")
		}
		return nil, fmt.Errorf("not a farmwatch profile: %w", err)
	}
	if p.Version != ProfileVersion {
		return nil, fmt.Errorf("farmwatch_profile: %d, want %d (written by another farmwatch version?)", p.Version, ProfileVersion)
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	return &p, nil
}

func (p *Profile) check() error {
	host, port, err := net.SplitHostPort(p.Server)
	if err != nil || host == "" {
		return fmt.Errorf("server %q: want HOST:PORT", p.Server)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("server %q: port is not 1-65535", p.Server)
	}
	if _, err := pki.ParseCertPEM([]byte(p.CA)); err != nil {
		return fmt.Errorf("ca: %w", err)
	}
	if _, err := tls.X509KeyPair([]byte(p.Cert), []byte(p.Key)); err != nil {
		return fmt.Errorf("cert and key: %w", err)
	}
	return nil
}

// ReadProfile reads a profile file, refusing one that others may read, as
// ssh refuses such a key: the key in it may already have leaked.
func ReadProfile(path string) (*Profile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", path, err)
	}
	if err := privateEnough(path, st); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxProfileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", path, err)
	}
	p, err := ParseProfile(b)
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", path, err)
	}
	return p, nil
}

func privateEnough(path string, st os.FileInfo) error {
	if runtime.GOOS == "windows" {
		return nil // Windows guards files with ACLs, which the mode bits do not show
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("profile %s is accessible by others (mode %04o): it holds a private key; run `chmod 600 %s`, and if others could read it, have the certificate revoked",
			path, perm, path)
	}
	return nil
}

// WriteProfile writes a profile with mode 0600.
func WriteProfile(path string, p *Profile) error {
	b, err := p.Marshal()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return pki.WriteFileAtomic(path, b, 0o600)
}

// ProfileNamePattern is what a profile name may be: a file name anywhere.
var ProfileNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// ProfileDir is where named profiles live: the user's config dir
// (XDG_CONFIG_HOME or ~/.config on Linux, ~/Library/Application Support on
// macOS), then farmwatch/profiles.
func ProfileDir() (string, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("profiles: %w", err)
	}
	return filepath.Join(d, "farmwatch", "profiles"), nil
}

// defaultProfileFile holds the name `profile use` chose.
func defaultProfileFile() (string, error) {
	d, err := ProfileDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(d), "default-profile"), nil
}

// ProfilePath is the file of a named profile; a name with a path separator
// is taken as a file path.
func ProfilePath(name string) (string, error) {
	if filepath.Base(name) != name {
		return name, nil
	}
	if !ProfileNamePattern.MatchString(name) {
		return "", fmt.Errorf("profile name %q: use 1-64 letters, digits, '.', '_', '@' or '-'", name)
	}
	d, err := ProfileDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, name), nil
}

// DefaultProfile is the name `profile use` chose, or "" for none.
func DefaultProfile() (string, error) {
	f, err := defaultProfileFile()
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(f)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("default profile: %w", err)
	}
	return string(bytes.TrimSpace(b)), nil
}

// SetDefaultProfile makes name the profile used when none is given.
func SetDefaultProfile(name string) error {
	f, err := defaultProfileFile()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
		return err
	}
	return pki.WriteFileAtomic(f, []byte(name+"\n"), 0o600)
}
