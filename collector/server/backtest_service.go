package server

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/analysis"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// backtestStarted, when set, is called once a backtest holds the
// one-at-a-time slot (tests use it to hold a backtest in flight).
var backtestStarted atomic.Pointer[func(context.Context)]

// Backtest replays the stored reports through the analysis with another
// config. It changes nothing (a viewer may run it) and runs one at a time:
// it reads every report, in short transactions that leave ingest be, and
// writes them all again into its scratch store.
func (a *adminService) Backtest(ctx context.Context, req *pb.BacktestRequest) (*pb.BacktestResponse, error) {
	cfg := a.s.engine.Config()
	if len(bytes.TrimSpace(req.GetConfigYaml())) > 0 {
		var err error
		if cfg, err = analysis.ParseConfig(req.GetConfigYaml()); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "config_yaml: %v", err)
		}
	}
	// One report interval: the collector's, as in its own analysis.
	cfg.ReportInterval = a.s.cfg.ReportInterval
	var since, until time.Time
	for _, b := range []struct {
		name string
		ts   *timestamppb.Timestamp
		dst  *time.Time
	}{{"since", req.GetSince(), &since}, {"until", req.GetUntil(), &until}} {
		if b.ts == nil {
			continue
		}
		if err := b.ts.CheckValid(); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "%s: %v", b.name, err)
		}
		*b.dst = b.ts.AsTime()
	}
	if !a.backtest.TryLock() {
		return nil, status.Error(codes.ResourceExhausted, "a backtest is running already; they run one at a time: try again when it is done")
	}
	defer a.backtest.Unlock()
	// The scratch store goes in the data dir: on the store's own file
	// system, sized for its reports, where a temporary dir may be in memory.
	// Any found there now are left by a collector stopped during a backtest.
	stale, _ := filepath.Glob(filepath.Join(a.s.cfg.DataDir, analysis.ScratchPrefix+"*"))
	for _, dir := range stale {
		os.RemoveAll(dir)
	}
	if fn := backtestStarted.Load(); fn != nil {
		(*fn)(ctx)
	}
	began := time.Now()
	res, err := analysis.Backtest(ctx, a.s.store, analysis.BacktestOptions{Config: cfg, Since: since, Until: until, ScratchDir: a.s.cfg.DataDir})
	if err != nil {
		a.s.log.Info("backtest stopped", "by", identityFrom(ctx).Name, "after", time.Since(began).Round(time.Millisecond), "err", err)
		return nil, backtestStatus(err)
	}
	a.s.log.Info("backtest", "by", identityFrom(ctx).Name, "reports", res.GetReports(), "devices", res.GetDevices(),
		"alerts", len(res.GetAlerts()), "took", time.Since(began).Round(time.Millisecond))
	return res, nil
}

func backtestStatus(err error) error {
	switch {
	case errors.Is(err, analysis.ErrBadRange):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, analysis.ErrNoReports):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "backtest stopped at the call's deadline: "+err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "backtest cancelled: "+err.Error())
	}
	return asStatus(err)
}
