package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/farmwatch/farmwatch/collector/pki"
	"github.com/farmwatch/farmwatch/collector/server"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// connFlags locate the collector and the admin credentials.
type connFlags struct {
	data, server, ca, cert, key string
	timeout                     time.Duration
}

var conn connFlags

func defaultDataDir() string {
	if d := os.Getenv("FARMWATCH_DATA"); d != "" {
		return d
	}
	return "/var/lib/farmwatch"
}

func addConnFlags(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVar(&conn.data, "data", defaultDataDir(), "collector data dir (env FARMWATCH_DATA)")
	f.StringVar(&conn.server, "server", os.Getenv("FARMWATCH_SERVER"), "collector address HOST:PORT (default: from DATA/collector.addr)")
	f.StringVar(&conn.ca, "ca", "", "collector CA certificate (default DATA/tls/ca.pem)")
	f.StringVar(&conn.cert, "cert", "", "admin certificate (default DATA/tls/admin.pem)")
	f.StringVar(&conn.key, "key", "", "admin key (default DATA/tls/admin-key.pem)")
	f.DurationVar(&conn.timeout, "timeout", 30*time.Second, "timeout of one admin call")
}

// adminClient dials the collector's admin API with the admin certificate.
func adminClient() (pb.AdminServiceClient, func(), error) {
	tlsDir := filepath.Join(conn.data, "tls")
	addr := conn.server
	if addr == "" {
		b, err := os.ReadFile(filepath.Join(conn.data, server.AddrFile))
		if err != nil {
			return nil, nil, fmt.Errorf("no collector address: give --server HOST:PORT, or --data DIR of a running collector (%v)", err)
		}
		addr = strings.TrimSpace(string(b))
	}
	pick := func(flag, name string) string {
		if flag != "" {
			return flag
		}
		return filepath.Join(tlsDir, name)
	}
	caPEM, err := os.ReadFile(pick(conn.ca, pki.CAFile))
	if err != nil {
		return nil, nil, fmt.Errorf("collector CA: %w (give --ca FILE)", err)
	}
	cert, err := tls.LoadX509KeyPair(pick(conn.cert, pki.AdminFile), pick(conn.key, pki.AdminKeyFile))
	if err != nil {
		return nil, nil, fmt.Errorf("admin certificate: %w (give --cert and --key)", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, nil, errors.New("collector CA: no certificate in PEM")
	}
	host, _, _ := net.SplitHostPort(addr)
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS13})))
	if err != nil {
		return nil, nil, err
	}
	return pb.NewAdminServiceClient(cc), func() { cc.Close() }, nil
}

// call runs one admin call with the timeout, turning a gRPC status into a
// plain message.
func call[T any](cmd *cobra.Command, fn func(context.Context, pb.AdminServiceClient) (T, error)) (T, error) {
	var zero T
	client, closeFn, err := adminClient()
	if err != nil {
		return zero, err
	}
	defer closeFn()
	ctx, cancel := context.WithTimeout(cmd.Context(), conn.timeout)
	defer cancel()
	out, err := fn(ctx, client)
	if err != nil {
		if st, ok := status.FromError(err); ok {
			return zero, fmt.Errorf("%s: %s", strings.ToLower(st.Code().String()), st.Message())
		}
		return zero, err
	}
	return out, nil
}
