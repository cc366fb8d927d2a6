package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/collector/sinks"
	"github.com/farmwatch/farmwatch/collector/store"
)

func newServeCmd() *cobra.Command {
	cfg := server.Config{}
	var proxies []string
	var gcPercent int
	var memLimit, budget string
	var logFormat, logLevel string
	cmd := &cobra.Command{
		Use:   "serve [--data DIR] [--store postgres://...] [--listen ADDR] [--geoip-city FILE] [--geoip-asn FILE] [--config FILE]",
		Short: "Run the collector: gRPC over mutual TLS, reports stored in bbolt or PostgreSQL",
		RunE: func(cmd *cobra.Command, _ []string) error {
			h, err := newLogHandler(cmd.ErrOrStderr(), logFormat, logLevel)
			if err != nil {
				return err
			}
			slog.SetDefault(slog.New(h))
			cfg.DataDir = conn.data
			if cfg.StoreURL != "" && !store.IsPostgresURL(cfg.StoreURL) {
				return usagef("--store: want a PostgreSQL URL, postgres://USER:PASSWORD@HOST:PORT/DATABASE (without --store the store is bbolt in --data)")
			}
			cfg.Version = version
			for _, p := range proxies {
				pfx, err := parsePrefix(p)
				if err != nil {
					return usagef("--trusted-proxy %q: %w", p, err)
				}
				cfg.TrustedProxies = append(cfg.TrustedProxies, pfx)
			}
			limit, err := server.ParseMemoryLimit(memLimit)
			if err != nil {
				return usagef("--memory-limit: %w", err)
			}
			// Sizes are written as for --memory-limit; none turns the budget off.
			if cfg.DeviceDailyBudget, err = server.ParseMemoryLimit(budget); err != nil {
				return usagef("--device-daily-budget: %w", err)
			}
			if gc, fromEnv := server.TuneGC(gcPercent); fromEnv {
				slog.Info("garbage collection target from GOGC", "percent", gc)
			}
			if l, from := server.TuneMemoryLimit(limit); from != "none" {
				slog.Info("soft memory limit", "MiB", l>>20, "from", from)
			}
			// A bad outputs file is a bad flag value: refused before the
			// collector opens anything.
			if cfg.Outputs != "" {
				if _, err := sinks.LoadConfig(cfg.Outputs); err != nil {
					return usagef("--outputs: %w", err)
				}
			}
			srv, err := server.New(cfg)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// SIGHUP reloads the geo databases in place, as after geoipupdate or make geodata.
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve() }()
			fmt.Fprintf(cmd.OutOrStdout(), "collector listening on %s; CA fingerprint sha256:%s\n", srv.Addr(), srv.CA().Fingerprint())
		wait:
			for {
				select {
				case err := <-errc:
					return err
				case <-hup:
					slog.Info("SIGHUP: reloading geo databases")
					srv.ReloadGeo() // logs its outcome; a failure keeps the databases in use
				case <-ctx.Done():
					break wait
				}
			}
			slog.Info("shutting down: finishing in-flight batches")
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			srv.Stop(sctx)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.StoreURL, "store", "", "keep the store in a PostgreSQL-protocol database shared by several collectors, postgres://USER:PASSWORD@HOST:PORT/DATABASE (PGPASSWORD and ~/.pgpass are read too); --data then holds only this collector's own files. Default: bbolt in --data")
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:7443", "address to listen on")
	f.StringVar(&cfg.MetricsListen, "metrics-listen", "", "serve Prometheus /metrics, /healthz and /readyz over plain HTTP on this address, e.g. 127.0.0.1:9464 (a loopback or management address: no TLS, no authentication); empty serves none")
	f.StringVar(&cfg.GeoCity, "geoip-city", "", "City database, any MaxMind-format file (make geodata's dbip-city-lite.mmdb, DB-IP's, GeoIP2/GeoLite2); reloaded on SIGHUP or when replaced")
	f.StringVar(&cfg.GeoASN, "geoip-asn", "", "ASN database, any MaxMind-format file (make geodata's dbip-asn-lite.mmdb, GeoLite2-ASN); reloaded on SIGHUP or when replaced")
	f.StringVar(&cfg.AnalysisConfig, "config", "", "analysis config (weights, thresholds, allowlists) overriding the defaults")
	f.StringSliceVar(&proxies, "trusted-proxy", nil, "address or CIDR of a pass-through load balancer whose PROXY protocol header names the client (repeatable); never a range laptops connect from")
	f.StringSliceVar(&cfg.TLSHosts, "tls-san", nil, "extra DNS names or IPs for the server certificate")
	f.StringVar(&cfg.CACert, "ca-cert", "", "operator-supplied CA certificate (default: the collector creates one in DATA/tls)")
	f.StringVar(&cfg.CAKey, "ca-key", "", "operator-supplied CA key (PKCS#8 or EC PEM), with --ca-cert")
	f.DurationVar(&cfg.ReportInterval, "report-interval", 5*time.Minute, "the fleet's one report interval: every agent adopts it at enrollment and with each acknowledgement, overriding its install config's report_interval (the agent logs it as overridden), and silence (agent.silent) counts in it")
	f.DurationVar(&cfg.TokenTTL, "token-ttl", 72*time.Hour, "default lifetime of enrollment tokens")
	f.IntVar(&gcPercent, "gc-percent", server.DefaultGCPercent, "garbage-collection target (Go's GOGC; the GOGC environment variable wins): lower trades CPU for memory")
	f.StringVar(&memLimit, "memory-limit", "auto", "soft memory limit past which garbage collection works harder, e.g. 12GiB; auto is 3/4 of the machine's or cgroup's memory, none disables it (GOMEMLIMIT wins when set)")
	f.StringVar(&cfg.Outputs, "outputs", "", "alert outputs file (YAML: webhooks, Slack, JSON lines, syslog; docs/ALERTS-OUT.md); a bad one stops the collector at start")
	f.DurationVar(&cfg.Retention, "retention", 0, "delete stored reports older than this, e.g. 4320h (180 days); 0 keeps them")
	f.StringVar(&logFormat, "log-format", "text", "log format on stderr: text (key=value) or json (one object per line); times are RFC 3339 in UTC")
	f.StringVar(&logLevel, "log-level", "info", "least severe log level written: debug, info, warn or error")
	f.StringVar(&budget, "device-daily-budget", fmt.Sprintf("%dMiB", server.DefaultDeviceDailyBudget>>20),
		"bytes of reports one laptop may add to the store per UTC day; past it its reports are refused until the next UTC day (none: no budget)")
	return cmd
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
