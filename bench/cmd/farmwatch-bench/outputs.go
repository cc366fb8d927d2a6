package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/farmwatch/farmwatch/sim"
)

// deadOutputLimit is the goal: ingest with an unreachable or hung webhook
// keeps at least this share of the reports/s of the same run without one.
const deadOutputLimit = 0.95

// benchDeadOutputs measures ingest of one fleet with no alert output, with
// a webhook whose port refuses connections, and with one that accepts
// connections and never answers, in interleaved repeats (none, refused,
// hung, none, ...).
func benchDeadOutputs(ctx context.Context, o options, t *table, city, asn string) error {
	if o.outputRepeats <= 0 {
		return nil
	}
	n := o.fleets[0]
	dir := filepath.Join(o.tmp, "outputs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	refused, err := refusedAddr()
	if err != nil {
		return err
	}
	hung, err := newHungListener()
	if err != nil {
		return err
	}
	defer hung.close()
	configs := []struct{ name, file string }{{"none", ""}}
	for _, d := range []struct{ name, addr string }{{"refused", refused}, {"hung", hung.addr()}} {
		f, err := writeDeadOutputs(dir, d.name, d.addr)
		if err != nil {
			return err
		}
		configs = append(configs, struct{ name, file string }{d.name, f})
	}
	// Each repeat runs the three back to back; a dead output's figure is
	// its ratio to the run without one in the same repeat (the machine's
	// drift, and a neighbour's load on a shared one, fall on both), and the
	// goal is met by the median of those ratios. Collector CPU per report,
	// less touched by a neighbour's load, is the second view of the same.
	perSecond := map[string][]float64{}
	cpu := map[string][]float64{}
	ratios := map[string][]float64{}
	last := map[string]ingestResult{}
	for rep := range o.outputRepeats {
		var base float64
		for _, c := range configs {
			fleet := sim.Plan(n, 1)
			data := filepath.Join(dir, fmt.Sprintf("%s-%d", c.name, rep))
			res, err := benchCollector(ctx, data, city, asn, fleet, templates(fleet), o, "", "", c.file)
			if err != nil {
				return fmt.Errorf("ingest of %d agents, output %s: %w", n, c.name, err)
			}
			rps := res.stats.perSecond()
			if c.file == "" {
				base = rps
			} else {
				ratios[c.name] = append(ratios[c.name], rps/base)
			}
			perSecond[c.name] = append(perSecond[c.name], rps)
			cpu[c.name] = append(cpu[c.name], res.cpuPerReport)
			last[c.name] = res
			logf("outputs %s, run %d: %.0f reports/s, p99 %s, %.0f µs CPU/report", c.name, rep+1, rps, res.stats.pct(99), res.cpuPerReport)
			os.RemoveAll(data) // a run's store is not needed again
		}
	}
	t.info(fmt.Sprintf("ingest %s agents, no alert output (median of %d)", thousands(int64(n)), o.outputRepeats),
		rate(median(perSecond["none"]), "/s"), fmt.Sprintf("runs %s; collector CPU %.0f µs/report", rates(perSecond["none"]), median(cpu["none"])))
	for _, c := range configs[1:] {
		r := median(ratios[c.name])
		what := map[string]string{"refused": "webhook port refusing connections", "hung": "webhook accepting, never answering"}[c.name]
		var state string
		for _, s := range last[c.name].sinks {
			state = fmt.Sprintf("; at the end of the last run: %d events in the log, %d delivered, %d dead letters, %d attempts on the one in flight",
				s.GetLastEventId(), s.GetCursor(), s.GetDeadLetters(), s.GetAttempts())
		}
		t.add(fmt.Sprintf("ingest %s agents, %s (median of %d)", thousands(int64(n)), what, o.outputRepeats),
			fmt.Sprintf("%.1f%% of no output", 100*r),
			fmt.Sprintf("ratios to the run without one %s; runs %s /s; collector CPU %.0f µs/report (none %.0f)%s",
				percents(ratios[c.name]), rates(perSecond[c.name]), median(cpu[c.name]), median(cpu["none"]), state),
			fmt.Sprintf(">= %.0f%% of no output", 100*deadOutputLimit), r >= deadOutputLimit)
	}
	return nil
}

func percents(v []float64) string {
	var out []string
	for _, x := range v {
		out = append(out, fmt.Sprintf("%.0f%%", 100*x))
	}
	return strings.Join(out, ", ")
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func rates(v []float64) string {
	var out []string
	for _, x := range v {
		out = append(out, thousands(int64(x+0.5)))
	}
	return strings.Join(out, ", ")
}

// writeDeadOutputs writes an outputs file with one webhook to addr and its
// secret beside it.
func writeDeadOutputs(dir, name, addr string) (string, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	secret := filepath.Join(dir, name+".secret")
	if err := os.WriteFile(secret, []byte("whsec_"+base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		return "", err
	}
	file := filepath.Join(dir, name+".yaml")
	yaml := fmt.Sprintf(`outputs:
  - name: dead-%s
    type: webhook
    url: http://%s/farmwatch
    secret_file: %s
    timeout: 10s
`, name, addr, secret)
	return file, os.WriteFile(file, []byte(yaml), 0o600)
}

// refusedAddr is a loopback port nobody listens on: connections to it are
// refused at once.
func refusedAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// hungListener accepts connections and never reads or answers: a receiver
// that hangs.
type hungListener struct {
	l     net.Listener
	mu    sync.Mutex
	conns []net.Conn
	done  chan struct{}
}

func newHungListener() (*hungListener, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &hungListener{l: l, done: make(chan struct{})}
	go func() {
		defer close(h.done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.conns = append(h.conns, c)
			h.mu.Unlock()
		}
	}()
	return h, nil
}

func (h *hungListener) addr() string { return h.l.Addr().String() }

func (h *hungListener) close() {
	h.l.Close()
	<-h.done
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.conns {
		c.Close()
	}
}
