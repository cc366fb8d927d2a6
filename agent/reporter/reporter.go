// Package reporter is the agent's service loop: collect a snapshot, put it in
// the spool, deliver everything spooled, and wait for the next interval.
package reporter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/agent/collect"
	"github.com/farmwatch/farmwatch/agent/spool"
	"github.com/farmwatch/farmwatch/agent/uplink"
	"github.com/farmwatch/farmwatch/internal/agentlimits"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// ErrMonitoringEnded means the collector says the hire's onboarding period
// is over: the agent stops for good (IT can then remove it).
var ErrMonitoringEnded = errors.New("monitoring period ended")

// Spool is what the reporter needs of the agent's spool (*spool.Spool).
type Spool interface {
	Add(*pb.Report) error
	Pending(limit int) ([]*pb.Report, error)
	Ack(seqs []uint64) error
	Drop(seq uint64) error
	Stats() (spool.Stats, error)
	CountStart() (uint64, error)
}

// Reporter runs collection and delivery for one device.
type Reporter struct {
	Spool    Spool
	Conn     *uplink.Conn
	Env      *collect.Env
	Interval time.Duration
	// ConfiguredInterval is the install config's report_interval, 0 when it
	// sets none: the collector's interval overrides it, and the log says so.
	ConfiguredInterval time.Duration
	// IntervalFrom says where Interval comes from ("default", "install
	// config"); adopting the collector's makes it "collector".
	IntervalFrom string
	// ConfigSHA256 of the install config, reported so config changes show.
	ConfigSHA256 string
	Log          *slog.Logger
	// Batch is how many spooled reports go in one call.
	Batch int

	startedAt time.Time
	restarts  uint64
	skewMS    int64
	skewKnown bool
	// overrideLogged: the install config's interval was said to be
	// overridden (once per run, not with every acknowledgement).
	overrideLogged bool
	// unspooled counts reports taken but never spooled since the agent
	// started. It lives in memory only: when the spool cannot store a
	// report (disk full, file broken) it could not store the count either,
	// so a restart starts it again at 0.
	unspooled uint64
}

// Start records the agent start (for the restart counter).
func (r *Reporter) Start() error {
	r.startedAt = time.Now()
	n, err := r.Spool.CountStart()
	r.restarts = n
	return err
}

// Cycle collects one snapshot and spools it, then tries to deliver. A
// snapshot the spool cannot take is counted, the count sent with every
// later report, and what is spooled already is delivered all the same.
func (r *Reporter) Cycle(ctx context.Context) error {
	rep := collect.Collect(ctx, r.Env, collect.Options{})
	r.stamp(rep)
	if err := r.Spool.Add(rep); err != nil {
		r.unspooled++
		r.log().Error("the spool could not take this report; it is lost, and counted in the next report that is delivered",
			"err", err, "unspooled", r.unspooled)
		return errors.Join(fmt.Errorf("spool report: %w", err), r.Flush(ctx))
	}
	return r.Flush(ctx)
}

func (r *Reporter) stamp(rep *pb.Report) {
	if rep.Health == nil {
		rep.Health = &pb.AgentHealth{}
	}
	if !r.startedAt.IsZero() {
		rep.Health.StartedAt = timestamppb.New(r.startedAt)
	}
	rep.Health.Restarts = uint32(r.restarts)
	rep.Health.ConfigSha256 = r.ConfigSHA256
	rep.Health.Unspooled = r.unspooled
	if rep.Locale == nil {
		rep.Locale = &pb.Locale{}
	}
	rep.Locale.ClockSkewMs, rep.Locale.ClockSkewKnown = r.skewMS, r.skewKnown
}

// Flush delivers every spooled report, batch by batch. A report the
// collector refuses as invalid (a malformed field, or a seq further ahead
// than this agent could have taken, which only a changed agent or spool
// sends) is dropped and counted in the next report's health, rather than
// blocking the spool forever; any other failure leaves the spool intact for
// the next attempt.
func (r *Reporter) Flush(ctx context.Context) error {
	batch := r.Batch
	if batch <= 0 {
		batch = 100
	}
	for {
		pending, err := r.Spool.Pending(batch)
		if err != nil {
			return err
		}
		if len(pending) == 0 {
			return nil
		}
		sent := time.Now()
		resp, err := r.Conn.Send(ctx, pending)
		if status.Code(err) == codes.FailedPrecondition {
			return fmt.Errorf("%w: %s", ErrMonitoringEnded, status.Convert(err).Message())
		}
		if status.Code(err) == codes.InvalidArgument {
			if err := r.sendOneByOne(ctx, pending); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		r.observeClock(sent, resp)
		if err := r.Spool.Ack(resp.GetAcknowledged()); err != nil {
			return err
		}
		if len(resp.GetAcknowledged()) == 0 {
			return errors.New("collector acknowledged nothing")
		}
	}
}

func (r *Reporter) sendOneByOne(ctx context.Context, pending []*pb.Report) error {
	for _, rep := range pending {
		resp, err := r.Conn.Send(ctx, []*pb.Report{rep})
		switch {
		case status.Code(err) == codes.InvalidArgument:
			r.log().Error("collector refused a report; dropping it", "seq", rep.GetSeq(), "err", err)
			if err := r.Spool.Drop(rep.GetSeq()); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			if err := r.Spool.Ack(resp.GetAcknowledged()); err != nil {
				return err
			}
		}
	}
	return nil
}

// observeClock estimates collector-minus-laptop clock difference from the
// round trip's midpoint.
func (r *Reporter) observeClock(sent time.Time, resp *pb.ReportResponse) {
	if resp.GetServerTimeUnixMs() == 0 {
		return
	}
	now := time.Now()
	mid := sent.Add(now.Sub(sent) / 2)
	r.skewMS = resp.GetServerTimeUnixMs() - mid.UnixMilli()
	r.skewKnown = true
	r.AdoptInterval(time.Duration(resp.GetReportIntervalSeconds()) * time.Second)
}

// AdoptInterval takes the collector's report interval: it is the one
// interval of the fleet (its analysis counts silence in it), and the
// install config's report_interval only holds until the collector answers.
func (r *Reporter) AdoptInterval(iv time.Duration) {
	if iv <= 0 {
		return
	}
	// Never faster than an agent may report: the collector bounds each
	// spool's sequence by it.
	iv = max(iv, agentlimits.MinReportInterval)
	r.IntervalFrom = "collector"
	if r.ConfiguredInterval != 0 && iv != r.ConfiguredInterval && !r.overrideLogged {
		r.overrideLogged = true
		r.log().Warn("the install config's report_interval is overridden by the collector's interval (farmwatch serve --report-interval)",
			"report_interval", r.ConfiguredInterval, "in_effect", iv)
	}
	if iv == r.Interval {
		return
	}
	r.log().Info("report interval set by the collector", "interval", iv, "configured", r.Interval)
	r.Interval = iv
}

// Run loops until ctx ends: a cycle every interval (jittered by +-10% so a
// fleet does not report in lockstep), and between cycles, retries of a failed
// delivery with exponential backoff and jitter.
func (r *Reporter) Run(ctx context.Context) error {
	if err := r.Start(); err != nil {
		return err
	}
	backoff := time.Duration(0)
	next := time.Now()
	for {
		var err error
		if !time.Now().Before(next) {
			err = r.Cycle(ctx)
			next = time.Now().Add(jitter(r.Interval, 0.1))
		} else {
			err = r.Flush(ctx)
		}
		wait := time.Until(next)
		if errors.Is(err, ErrMonitoringEnded) {
			r.log().Info("the collector ended monitoring of this laptop; the agent stops", "reason", err)
			return err
		}
		if err != nil {
			backoff = min(max(2*backoff, 5*time.Second), 10*time.Minute)
			st, _ := r.Spool.Stats()
			r.log().Warn("delivery failed; reports stay in the spool", "err", err, "pending", st.Pending, "retry_in", backoff)
			wait = min(wait, jitter(backoff, 0.5))
		} else {
			backoff = 0
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(max(wait, 0)):
		}
	}
}

func (r *Reporter) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.Default()
}

func jitter(d time.Duration, frac float64) time.Duration {
	f := 1 + frac*(2*rand.Float64()-1)
	return time.Duration(float64(d) * f)
}

// HashConfig is the SHA-256 of the install config's bytes.
func HashConfig(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
