// Package collect gathers the laptop-farm signals of DESIGN section 3. Each
// signal is one collector in its own file, with OS variants in _linux.go,
// _darwin.go and _windows.go files; every host path and command goes through
// Env, so the same code reads the real machine or a fixture tree.
package collect

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v4/common"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/agent/sanitize"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Version is the agent version, set at build time.
var Version = "dev"

// ErrNotSupported means the signal does not exist on this OS or machine: it is
// not a failure, and it is said once in the report's error list.
var ErrNotSupported = errors.New("not supported on " + runtime.GOOS)

// Env is where collectors read from.
type Env struct {
	// Root is prefixed to every host path: "/" on a real machine, a fixture
	// tree in tests.
	Root string
	// Command runs an external command and returns its standard output;
	// tests replace it with captured output.
	Command func(ctx context.Context, name string, args ...string) ([]byte, error)
	// Now is the agent's clock.
	Now func() time.Time
	// Getenv reads the agent's environment (proxy variables, locale).
	Getenv func(string) string
}

// HostEnv reads the real machine.
func HostEnv() *Env {
	return &Env{Root: "/", Command: runCommand, Now: time.Now, Getenv: os.Getenv}
}

// Path returns a host path under the Env's root.
func (e *Env) Path(p ...string) string {
	return filepath.Join(append([]string{e.Root}, p...)...)
}

// ReadFile reads a host file under the root.
func (e *Env) ReadFile(p ...string) ([]byte, error) { return os.ReadFile(e.Path(p...)) }

// Context adds the gopsutil environment (HOST_PROC, HOST_SYS, HOST_ETC) that
// points gopsutil at the same root.
func (e *Env) Context(ctx context.Context) context.Context {
	if e.Root == "" || e.Root == "/" {
		return ctx
	}
	return context.WithValue(ctx, common.EnvKey, common.EnvMap{
		common.HostProcEnvKey: e.Path("proc"),
		common.HostSysEnvKey:  e.Path("sys"),
		common.HostEtcEnvKey:  e.Path("etc"),
		common.HostVarEnvKey:  e.Path("var"),
		common.HostRunEnvKey:  e.Path("run"),
		common.HostDevEnvKey:  e.Path("dev"),
		common.HostRootEnvKey: e.Root,
	})
}

func runCommand(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			return out, fmt.Errorf("%s: %w: %s", name, err, firstLine(ee.Stderr))
		}
		return out, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

func firstLine(b []byte) string {
	for i, c := range b {
		if c == '\n' {
			return string(b[:i])
		}
	}
	return string(b)
}

// Func fills its part of a report.
type Func func(ctx context.Context, env *Env, r *pb.Report) error

type registration struct {
	name    string
	fn      Func
	timeout time.Duration
}

var collectors = map[string]registration{}

// register adds a collector; each collector file calls it from init.
func register(name string, timeout time.Duration, fn Func) {
	if _, dup := collectors[name]; dup {
		panic("collector registered twice: " + name)
	}
	collectors[name] = registration{name: name, fn: fn, timeout: timeout}
}

// Names lists the registered collectors.
func Names() []string {
	out := make([]string, 0, len(collectors))
	for n := range collectors {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Options select and bound collectors.
type Options struct {
	// Only runs just these collectors (all when empty).
	Only []string
	// Timeout overrides every collector's own timeout when set.
	Timeout time.Duration
}

// Collect runs every collector concurrently, each into its own fragment with
// its own timeout, and merges the fragments. A collector that fails or times
// out adds an entry to the report's error list; it never fails the report.
func Collect(ctx context.Context, env *Env, opts Options) *pb.Report {
	r := &pb.Report{CollectedAt: timestamppb.New(env.Now()), AgentVersion: Version,
		Health: &pb.AgentHealth{}}
	regs := selected(opts.Only)
	type result struct {
		name string
		frag *pb.Report
		err  error
		dur  time.Duration
	}
	results := make([]result, len(regs))
	var wg sync.WaitGroup
	for i, reg := range regs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			timeout := reg.timeout
			if opts.Timeout > 0 {
				timeout = opts.Timeout
			}
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			start := time.Now()
			frag := &pb.Report{}
			done := make(chan error, 1)
			go func() {
				defer func() {
					if p := recover(); p != nil {
						done <- fmt.Errorf("panic: %v", p)
					}
				}()
				done <- reg.fn(env.Context(cctx), env, frag)
			}()
			select {
			case err := <-done:
				results[i] = result{reg.name, frag, err, time.Since(start)}
			case <-cctx.Done():
				// The fragment may still be written to by the stuck collector: drop it.
				results[i] = result{reg.name, nil, fmt.Errorf("timed out after %s", timeout), time.Since(start)}
			}
		}()
	}
	wg.Wait()
	for _, res := range results {
		ok := res.err == nil
		if res.frag != nil {
			proto.Merge(r, res.frag)
		}
		if res.err != nil {
			r.Errors = append(r.Errors, &pb.CollectorError{Collector: res.name, Error: res.err.Error()})
		}
		r.Health.Collectors = append(r.Health.Collectors, &pb.CollectorRun{
			Name: res.name, DurationMs: uint32(res.dur / time.Millisecond), Ok: ok})
	}
	// Last, so that `collect --json` shows the very strings the collector
	// receives: no laptop string can stop the report being marshalled.
	if ch := sanitize.Report(r); ch.Changed() {
		r.Errors = append(r.Errors, &pb.CollectorError{Collector: LimitsCollector, Error: ch.String()})
		sanitize.Report(r) // the new entry is held to the limits too
	}
	return r
}

// LimitsCollector names the report's error entry that says what was cut to
// the collector's limits.
const LimitsCollector = "limits"

func selected(only []string) []registration {
	var out []registration
	for _, n := range Names() {
		if len(only) > 0 && !contains(only, n) {
			continue
		}
		out = append(out, collectors[n])
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
