// Package adminconn dials a collector's admin API with an admin certificate,
// finding the address and credentials in the collector's data dir when it
// runs on the same host.
package adminconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/farmwatch/farmwatch/collector/pki"
	"github.com/farmwatch/farmwatch/collector/server"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Options locate the collector and the admin credentials. Each empty field
// is taken from Profile when there is one, else from Data:
// DATA/collector.addr and DATA/tls/{ca,admin,admin-key}.pem.
type Options struct {
	Data, Server, CA, Cert, Key string
	Profile                     *Profile
}

// Addr is the collector address the options lead to.
func (o Options) Addr() (string, error) {
	if o.Server != "" {
		return o.Server, nil
	}
	if o.Profile != nil {
		return o.Profile.Server, nil
	}
	b, err := os.ReadFile(filepath.Join(o.Data, server.AddrFile))
	if err != nil {
		return "", fmt.Errorf("no collector address: give --server HOST:PORT, or --data DIR of a running collector (%v)", err)
	}
	// An older collector wrote the address it listened on, 0.0.0.0 or [::]
	// included: dial loopback instead, as it does now.
	return server.DialAddr(strings.TrimSpace(string(b))), nil
}

// CAFingerprint is the SHA-256 of the collector CA the options trust.
func (o Options) CAFingerprint() (string, error) {
	b, err := o.read(o.CA, o.profilePart(func(p *Profile) string { return p.CA }), pki.CAFile)
	if err != nil {
		return "", err
	}
	c, err := pki.ParseCertPEM(b)
	if err != nil {
		return "", err
	}
	return pki.Fingerprint(c), nil
}

// read is one credential: the file a flag names, else the profile's copy,
// else the file in DATA/tls.
func (o Options) read(flag string, fromProfile []byte, name string) ([]byte, error) {
	if flag != "" {
		return os.ReadFile(flag)
	}
	if fromProfile != nil {
		return fromProfile, nil
	}
	return os.ReadFile(filepath.Join(o.Data, "tls", name))
}

func (o Options) profilePart(part func(*Profile) string) []byte {
	if o.Profile == nil {
		return nil
	}
	return []byte(part(o.Profile))
}

// Dial connects to the admin API.
func Dial(o Options) (pb.AdminServiceClient, func() error, error) {
	cc, err := DialConn(o)
	if err != nil {
		return nil, nil, err
	}
	return pb.NewAdminServiceClient(cc), cc.Close, nil
}

// DialConn is the connection Dial makes, for the collector's other services
// (health).
func DialConn(o Options) (*grpc.ClientConn, error) {
	addr, err := o.Addr()
	if err != nil {
		return nil, err
	}
	caPEM, err := o.read(o.CA, o.profilePart(func(p *Profile) string { return p.CA }), pki.CAFile)
	if err != nil {
		return nil, fmt.Errorf("collector CA: %w (give --ca FILE or --profile NAME)", err)
	}
	certPEM, err := o.read(o.Cert, o.profilePart(func(p *Profile) string { return p.Cert }), pki.AdminFile)
	if err != nil {
		return nil, fmt.Errorf("admin certificate: %w (give --cert and --key, or --profile NAME)", err)
	}
	keyPEM, err := o.read(o.Key, o.profilePart(func(p *Profile) string { return p.Key }), pki.AdminKeyFile)
	if err != nil {
		return nil, fmt.Errorf("admin key: %w (give --cert and --key, or --profile NAME)", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("admin certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("collector CA: no certificate in PEM")
	}
	host, _, _ := net.SplitHostPort(addr)
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS13})),
		// Lists (alerts, clusters) of a large fleet exceed gRPC's 4 MB default.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20)))
	if err != nil {
		return nil, err
	}
	return cc, nil
}

// Identity is the name and role (viewer or reviewer) the admin certificate
// carries: what the collector will see and check, read from the certificate
// itself, for a client that shows only what its role may do.
func (o Options) Identity() (name, role string, err error) {
	b, err := o.read(o.Cert, o.profilePart(func(p *Profile) string { return p.Cert }), pki.AdminFile)
	if err != nil {
		return "", "", fmt.Errorf("admin certificate: %w (give --cert and --key, or --profile NAME)", err)
	}
	c, err := pki.ParseCertPEM(b)
	if err != nil {
		return "", "", fmt.Errorf("admin certificate: %w", err)
	}
	return c.Subject.CommonName, pki.Role(c), nil
}
