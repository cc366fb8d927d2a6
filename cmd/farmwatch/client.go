package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/farmwatch/farmwatch/collector/adminconn"
	"google.golang.org/grpc/status"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// connFlags locate the collector and the admin credentials.
type connFlags struct {
	data, server, ca, cert, key, profile string
	timeout                              time.Duration
	flags                                *pflag.FlagSet
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
	f.StringVar(&conn.server, "server", "", "collector address HOST:PORT (env FARMWATCH_SERVER; default: the profile's, or DATA/collector.addr)")
	f.StringVar(&conn.ca, "ca", "", "collector CA certificate (env FARMWATCH_CA; default: the profile's, or DATA/tls/ca.pem)")
	f.StringVar(&conn.cert, "cert", "", "admin certificate (env FARMWATCH_CERT; default: the profile's, or DATA/tls/admin.pem)")
	f.StringVar(&conn.key, "key", "", "admin key (env FARMWATCH_KEY; default: the profile's, or DATA/tls/admin-key.pem)")
	f.StringVar(&conn.profile, "profile", "", "client profile NAME, or a profile FILE (env FARMWATCH_PROFILE; default: the one chosen with profile use)")
	f.DurationVar(&conn.timeout, "timeout", 30*time.Second, "timeout of one admin call")
	conn.flags = f
}

// connOptions resolves each of the address, CA, certificate and key, first
// found first: its flag, its FARMWATCH_* variable, the profile (--profile,
// else FARMWATCH_PROFILE, else the default profile), the data dir. A data
// dir given by --data or FARMWATCH_DATA passes over the default profile:
// that is a request for the local collector (make demo, the collector host).
func connOptions() (adminconn.Options, error) {
	o := adminconn.Options{Data: conn.data,
		Server: cmp.Or(conn.server, os.Getenv("FARMWATCH_SERVER")),
		CA:     cmp.Or(conn.ca, os.Getenv("FARMWATCH_CA")),
		Cert:   cmp.Or(conn.cert, os.Getenv("FARMWATCH_CERT")),
		Key:    cmp.Or(conn.key, os.Getenv("FARMWATCH_KEY"))}
	name := cmp.Or(conn.profile, os.Getenv("FARMWATCH_PROFILE"))
	if name == "" && !conn.dataGiven() {
		var err error
		if name, err = adminconn.DefaultProfile(); err != nil {
			return o, err
		}
	}
	if name == "" || (o.Server != "" && o.CA != "" && o.Cert != "" && o.Key != "") {
		return o, nil
	}
	path, err := adminconn.ProfilePath(name)
	if err != nil {
		return o, err
	}
	if o.Profile, err = adminconn.ReadProfile(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return o, fmt.Errorf("profile %s: not found at %s (import it with `farmwatch profile import FILE --name %s`)", name, path, name)
		}
		return o, err
	}
	return o, nil
}

// dataGiven tells whether the user named a data dir (flag or environment).
func (c *connFlags) dataGiven() bool {
	if os.Getenv("FARMWATCH_DATA") != "" {
		return true
	}
	f := c.flags.Lookup("data")
	return f != nil && f.Changed
}

// adminClient dials the collector's admin API with the admin certificate.
func adminClient() (pb.AdminServiceClient, func() error, error) {
	o, err := connOptions()
	if err != nil {
		return nil, nil, err
	}
	return adminconn.Dial(o)
}

// call runs one admin call with the timeout, turning a gRPC status into a
// plain message.
func call[T any](cmd *cobra.Command, fn func(context.Context, pb.AdminServiceClient) (T, error)) (T, error) {
	return callAtLeast(cmd, 0, fn)
}

// callAtLeast is call for a bulk call (an import) that is given at least
// least, whatever --timeout says: a per-call timeout suits a query, not a
// file of 100,000 rows on a busy collector.
func callAtLeast[T any](cmd *cobra.Command, least time.Duration, fn func(context.Context, pb.AdminServiceClient) (T, error)) (T, error) {
	var zero T
	client, closeFn, err := adminClient()
	if err != nil {
		return zero, err
	}
	defer closeFn()
	ctx, cancel := context.WithTimeout(cmd.Context(), max(conn.timeout, least))
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
