// Package testcollector starts a real collector for tests: a loopback TCP
// port, real TLS, a bbolt file in a temporary dir and small generated geo
// databases, with 127.0.0.1 as the trusted proxy so that simulated devices,
// which connect from there with a PROXY protocol header, are placed at
// public IPs.
//
// With FARMWATCH_TEST_STORE=postgres the store is instead a fresh database
// of the test binary's shared throw-away PostgreSQL cluster (internal/pgtest),
// so the same tests run on both backends. A package that uses it calls
// pgtest.Main from its TestMain, which removes the cluster at the end.
package testcollector

import (
	"context"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/agent/uplink"
	"github.com/farmwatch/farmwatch/collector/adminconn"
	"github.com/farmwatch/farmwatch/collector/pki"
	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/collector/store"
	"github.com/farmwatch/farmwatch/geo/geotest"
	"github.com/farmwatch/farmwatch/internal/pgtest"
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

// Postgres reports whether the tests' stores are on PostgreSQL
// (FARMWATCH_TEST_STORE=postgres), for tests of what only a bbolt store has
// (its file, its backup, the data dir's lock) to skip.
func Postgres() bool { return os.Getenv("FARMWATCH_TEST_STORE") == "postgres" }

// SkipOnPostgres skips a test of a bbolt-only feature when the tests' stores
// are on PostgreSQL, saying why.
func SkipOnPostgres(t testing.TB, why string) {
	t.Helper()
	if Postgres() {
		t.Skipf("bbolt only (%s): FARMWATCH_TEST_STORE=postgres", why)
	}
}

// StoreURL is the store URL of a new test collector: empty for bbolt in
// its data dir, else a fresh database of the shared PostgreSQL cluster.
func StoreURL(t testing.TB) string {
	t.Helper()
	if !Postgres() {
		return ""
	}
	return pgtest.Shared(t).NewDatabase(t)
}

// Start runs a collector until the test ends; mutate adjusts its config
// (a DataDir it sets, say a copy of another collector's, is used as is; so
// is the StoreURL, which on PostgreSQL names the new database and can be
// set to another collector's to share its store).
func Start(t testing.TB, mutate func(*server.Config)) *Collector {
	t.Helper()
	data := t.TempDir()
	geoDir := t.TempDir()
	city, asn, err := geotest.WriteDatabases(geoDir, geotest.DemoNetworks())
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{
		DataDir: data, StoreURL: StoreURL(t), Listen: "127.0.0.1:0", GeoCity: city, GeoASN: asn,
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

// StoreURL is the collector's PostgreSQL database, empty when its store is
// the bbolt file in its data dir.
func (c *Collector) StoreURL() string { return c.cfg.StoreURL }

// OpenStore opens the stopped collector's store where it keeps it: the
// bbolt file in its data dir or its PostgreSQL database.
func (c *Collector) OpenStore(opts store.Options) (*store.Store, error) {
	if c.cfg.StoreURL != "" {
		return store.OpenPostgres(context.Background(), c.cfg.StoreURL, opts)
	}
	return store.Open(c.Data, opts)
}

// Options are the admin connection options of this collector.
func (c *Collector) Options() adminconn.Options { return adminconn.Options{Data: c.Data} }

// UnknownDevice is an agent identity for deviceID, signed by the
// collector's own CA, that the collector's store does not know: a device
// deleted there, or one a collector reading another layout cannot find.
func (c *Collector) UnknownDevice(t testing.TB, deviceID string) *uplink.Identity {
	t.Helper()
	keyPEM, csrPEM, err := pki.NewKeyAndCSR("ghost")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := c.CA().SignCSR(csrPEM, deviceID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &uplink.Identity{DeviceID: deviceID, Collector: c.Addr(), CertPEM: certPEM, KeyPEM: keyPEM, CAPEM: c.CA().PEM}
}
