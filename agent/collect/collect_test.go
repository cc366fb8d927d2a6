package collect

import (
	"context"
	"errors"
	"io/fs"
	"sort"
	"strings"
	"testing"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// registerForTest adds a test-only collector and removes it when the test
// ends. Tests that register must not run in parallel: the registry is a plain
// map.
func registerForTest(t *testing.T, name string, timeout time.Duration, fn Func) {
	t.Helper()
	register(name, timeout, fn)
	t.Cleanup(func() { delete(collectors, name) })
}

func TestCollectSurvivesStuckAndPanickingCollectors(t *testing.T) {
	release := make(chan struct{})
	registerForTest(t, "test_stuck", 50*time.Millisecond, func(context.Context, *Env, *pb.Report) error {
		<-release // ignores its context, as a hung system call would
		return nil
	})
	t.Cleanup(func() { close(release) })
	registerForTest(t, "test_panic", time.Second, func(context.Context, *Env, *pb.Report) error {
		var m map[string]int
		m["boom"]++
		return nil
	})
	registerForTest(t, "test_ok", time.Second, func(_ context.Context, _ *Env, r *pb.Report) error {
		r.Host = &pb.Host{Hostname: "fixture-host"}
		return nil
	})
	registerForTest(t, "test_unsupported", time.Second, func(context.Context, *Env, *pb.Report) error {
		return ErrNotSupported
	})

	start := time.Now()
	r := Collect(context.Background(), rootEnv(t.TempDir(), january),
		Options{Only: []string{"test_stuck", "test_panic", "test_ok", "test_unsupported"}})
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Collect took %s: the stuck collector held the report", d)
	}
	if got := r.GetHost().GetHostname(); got != "fixture-host" {
		t.Errorf("hostname from the healthy collector = %q", got)
	}
	if !r.GetCollectedAt().AsTime().Equal(january) {
		t.Errorf("collected_at = %v, want the Env clock %v", r.GetCollectedAt().AsTime(), january)
	}
	errs := map[string]string{}
	for _, e := range r.GetErrors() {
		errs[e.GetCollector()] = e.GetError()
	}
	wantErrs := map[string]string{
		"test_stuck":       "timed out after 50ms",
		"test_panic":       "panic: assignment to entry in nil map",
		"test_unsupported": ErrNotSupported.Error(),
	}
	for name, want := range wantErrs {
		if !strings.Contains(errs[name], want) {
			t.Errorf("error of %s = %q, want it to contain %q", name, errs[name], want)
		}
	}
	if _, ok := errs["test_ok"]; ok || len(errs) != len(wantErrs) {
		t.Errorf("errors = %v, want exactly %v", errs, wantErrs)
	}
	var runs []string
	for _, c := range r.GetHealth().GetCollectors() {
		runs = append(runs, c.GetName())
		if c.GetOk() != (c.GetName() == "test_ok") {
			t.Errorf("health of %s: ok = %v", c.GetName(), c.GetOk())
		}
	}
	if got := strings.Join(runs, ","); got != "test_ok,test_panic,test_stuck,test_unsupported" {
		t.Errorf("health lists %s, want the four collectors in name order", got)
	}
}

func TestCollectTimeoutOption(t *testing.T) {
	registerForTest(t, "test_slow", time.Hour, func(ctx context.Context, _ *Env, _ *pb.Report) error {
		<-ctx.Done()
		return ctx.Err()
	})
	start := time.Now()
	r := Collect(context.Background(), rootEnv(t.TempDir(), january),
		Options{Only: []string{"test_slow"}, Timeout: 20 * time.Millisecond})
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Options.Timeout did not override the hour-long timeout: took %s", d)
	}
	if len(r.GetErrors()) != 1 || r.GetErrors()[0].GetCollector() != "test_slow" {
		t.Fatalf("errors = %v, want one for test_slow", r.GetErrors())
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	registerForTest(t, "test_twice", time.Second, func(context.Context, *Env, *pb.Report) error { return nil })
	defer func() {
		if recover() == nil {
			t.Error("second register did not panic")
		}
	}()
	register("test_twice", time.Second, func(context.Context, *Env, *pb.Report) error { return nil })
}

func TestNamesSortedAndComplete(t *testing.T) {
	got := Names()
	if !sort.StringsAreSorted(got) {
		t.Errorf("Names() = %v, not sorted", got)
	}
	for _, want := range []string{"dns", "gateway", "host", "interfaces", "locale", "remote_access"} {
		if !contains(got, want) {
			t.Errorf("Names() = %v, missing %s", got, want)
		}
	}
}

func TestEnvPathAndContext(t *testing.T) {
	env := rootEnv("/fixture", january)
	if got := env.Path("proc/net/route"); got != "/fixture/proc/net/route" {
		t.Errorf("Path = %q", got)
	}
	ctx := context.Background()
	if HostEnv().Context(ctx) != ctx {
		t.Error("the host Env must leave gopsutil on the real /proc")
	}
	if env.Context(ctx) == ctx {
		t.Error("a fixture Env must point gopsutil at its root")
	}
	if _, err := env.ReadFile("etc/resolv.conf"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile of a missing file: %v", err)
	}
}
