package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/farmwatch/farmwatch/collector/adminconn"
	"google.golang.org/grpc/status"

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
func adminClient() (pb.AdminServiceClient, func() error, error) {
	return adminconn.Dial(adminconn.Options{Data: conn.data, Server: conn.server, CA: conn.ca, Cert: conn.cert, Key: conn.key})
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
		return zero, plainStatus(err)
	}
	return out, nil
}

// plainStatus turns a gRPC status into "code: message", which says what to do
// without the transport's wording around it.
func plainStatus(err error) error {
	if st, ok := status.FromError(err); ok {
		return fmt.Errorf("%s: %s", strings.ToLower(st.Code().String()), st.Message())
	}
	return err
}
