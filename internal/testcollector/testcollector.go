// Package testcollector starts a real collector for tests: a loopback TCP
// port, real TLS, a bbolt file in a temporary dir and small generated geo
// databases, with 127.0.0.1 as the trusted proxy so that simulated devices,
// which connect from there with a PROXY protocol header, are placed at
// public IPs.
package testcollector

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/collector/adminconn"
	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/geo/geotest"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Collector is a running test collector.
type Collector struct {
	*server.Server
	Data  string
	Admin pb.AdminServiceClient
	cfg   server.Config
	done  chan error
}

// Start runs a collector until the test ends; mutate adjusts its config
// (a DataDir it sets, say a copy of another collector's, is used as is).
func Start(t testing.TB, mutate func(*server.Config)) *Collector {
	t.Helper()
	data := t.TempDir()
	geoDir := t.TempDir()
	city, asn, err := geotest.WriteDatabases(geoDir, geotest.DemoNetworks())
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{
		DataDir: data, Listen: "127.0.0.1:0", GeoCity: city, GeoASN: asn,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c := &Collector{Data: cfg.DataDir, cfg: cfg}
	c.serve(t)
	admin, closeAdmin, err := adminconn.Dial(adminconn.Options{Data: c.Data})
	if err != nil {
		t.Fatal(err)
	}
	c.Admin = admin
	t.Cleanup(func() {
		closeAdmin()
		c.Stop()
	})
	return c
}

func (c *Collector) serve(t testing.TB) {
	t.Helper()
	srv, err := server.New(c.cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.Server = srv
	c.done = make(chan error, 1)
	go func() { c.done <- srv.Serve() }()
}

// Restart starts the stopped collector again on the same data dir and
// address.
func (c *Collector) Restart(t testing.TB) {
	t.Helper()
	c.cfg.Listen = c.Server.Addr()
	c.serve(t)
}

// Stop stops the collector (idempotent).
func (c *Collector) Stop() {
	if c.done == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.Server.Stop(ctx)
	<-c.done
	c.done = nil
}

// Kill stops the collector the hard way: connections are closed at once,
// calls in flight among them, whose batches may be stored without their
// answer reaching the agent (idempotent).
func (c *Collector) Kill() {
	if c.done == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.Server.Stop(ctx)
	<-c.done
	c.done = nil
}

// Options are the admin connection options of this collector.
func (c *Collector) Options() adminconn.Options { return adminconn.Options{Data: c.Data} }
