// Package uplink is the agent's connection to the collector: enrollment
// (one-time token + CSR -> device certificate), the device identity kept on
// disk, and report delivery over mutual TLS with the collector's CA pinned.
package uplink

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/farmwatch/farmwatch/collector/pki"
)

// Identity is what enrollment gives a device.
type Identity struct {
	DeviceID string `json:"device_id"`
	HireID   string `json:"hire_id"`
	// Collector is the collector address the device enrolled with, the
	// preferred one when it was given several.
	Collector string `json:"collector"`
	// Collectors are all the collector addresses, the preferred first, when
	// the device was given more than one.
	Collectors []string `json:"collectors,omitempty"`
	// ReportIntervalSeconds is the collector's report interval when the
	// device enrolled (0 from an older collector or identity): the agent
	// starts with it rather than with its install config's.
	ReportIntervalSeconds uint32 `json:"report_interval_seconds,omitempty"`
	CertPEM               []byte `json:"-"`
	KeyPEM                []byte `json:"-"`
	CAPEM                 []byte `json:"-"`
}

// Targets are the collector addresses to deliver to, the preferred first.
func (id *Identity) Targets() []string {
	if len(id.Collectors) > 0 {
		return id.Collectors
	}
	if id.Collector == "" {
		return nil
	}
	return []string{id.Collector}
}

// Files inside the agent's state dir.
const (
	identityFile = "identity.json"
	certFile     = "device.pem"
	keyFile      = "device-key.pem"
	caFile       = "collector-ca.pem"
)

// ErrNotEnrolled means the state dir holds no identity yet.
var ErrNotEnrolled = errors.New("this agent is not enrolled: run `farmwatch-agent enroll --collector HOST:PORT --token TOKEN`")

// Save writes the identity to dir (key mode 0600).
func (id *Identity) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	meta, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{{keyFile, id.KeyPEM, 0o600}, {certFile, id.CertPEM, 0o644}, {caFile, id.CAPEM, 0o644}, {identityFile, meta, 0o644}} {
		if err := pki.WriteFileAtomic(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return fmt.Errorf("save %s: %w", f.name, err)
		}
	}
	return nil
}

// LoadIdentity reads the identity from dir.
func LoadIdentity(dir string) (*Identity, error) {
	meta, err := os.ReadFile(filepath.Join(dir, identityFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotEnrolled
	}
	if err != nil {
		return nil, err
	}
	id := &Identity{}
	if err := json.Unmarshal(meta, id); err != nil {
		return nil, fmt.Errorf("%s: %w", identityFile, err)
	}
	for name, dst := range map[string]*[]byte{certFile: &id.CertPEM, keyFile: &id.KeyPEM, caFile: &id.CAPEM} {
		if *dst, err = os.ReadFile(filepath.Join(dir, name)); err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
	}
	return id, nil
}

// TLSConfig is the client side of mutual TLS: our device certificate, and
// trust in the pinned collector CA only.
func (id *Identity) TLSConfig(serverName string) (*tls.Config, error) {
	cert, err := tls.X509KeyPair(id.CertPEM, id.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("device certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(id.CAPEM) {
		return nil, errors.New("collector CA: no certificate in PEM")
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: serverName,
		MinVersion: tls.VersionTLS13}, nil
}
