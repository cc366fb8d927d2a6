package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/farmwatch/farmwatch/collector/analysis"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// WatchAfterHeader is the response header of WatchAlerts that names the
// event id the stream starts after.
const WatchAfterHeader = "farmwatch-watch-after"

// watchPage is how many events WatchAlerts reads from the log at a time.
const watchPage = 256

// alertKinds are the kinds a watch may filter on.
var alertKinds = []string{analysis.AlertKindDevice, analysis.AlertKindFarm, analysis.KindApplicant}

// WatchAlerts streams the alert event log (docs/ALERTS-OUT.md): from the
// event after req.after, or from now when it is unset, then each event as
// it is committed. Filters choose what is sent; the position moves past
// every event. A position the log no longer holds (pruned) is refused with
// FailedPrecondition rather than skipped in silence; a collector shutting
// down ends the stream with Unavailable, so the client reconnects and
// resumes after the last id it received.
func (a *adminService) WatchAlerts(req *pb.WatchAlertsRequest, stream grpc.ServerStreamingServer[pb.AlertEvent]) error {
	if err := checkWatchRequest(req); err != nil {
		return err
	}
	st := a.s.store
	last, err := st.LastAlertEventID()
	if err != nil {
		return a.watchError(err)
	}
	pos := last
	if req.After != nil {
		pos = req.GetAfter()
		first, err := st.FirstAlertEventID()
		if err != nil {
			return a.watchError(err)
		}
		if pos > last {
			return status.Errorf(codes.FailedPrecondition,
				"event %d is beyond the newest event of this collector's log (%d): the log is not the one the id came from (a store restored from an older backup?); watch again without --since to start from now", pos, last)
		}
		if first > 0 && pos+1 < first {
			return prunedError(pos, first)
		}
	}
	// The position the stream starts after, for a client that asked for
	// "from now": it resumes from there if the stream breaks before any
	// event reaches it, and misses none.
	if err := stream.SendHeader(metadata.Pairs(WatchAfterHeader, strconv.FormatUint(pos, 10))); err != nil {
		return err
	}
	ctx := stream.Context()
	for {
		// The signal is taken before the read: an event committed after
		// the read closes it, and the wait below returns at once.
		wake := st.AlertEventsSignal()
		evs, err := st.AlertEvents(pos, watchPage)
		if err != nil {
			return a.watchError(err)
		}
		for _, ev := range evs {
			if ev.GetId() != pos+1 {
				// Ids grow by one per event and only pruning deletes
				// events: the ones in between were pruned under us.
				return prunedError(pos, ev.GetId())
			}
			pos = ev.GetId()
			if !watchMatches(req, ev) {
				continue
			}
			if err := stream.Send(ev); err != nil {
				return err
			}
		}
		if len(evs) == watchPage {
			continue
		}
		select {
		case <-wake:
			// A watch outlives calls: a certificate revoked while it runs
			// ends it at the next event, as it would refuse the next call.
			if id := identityFrom(ctx); id.Serial != "" {
				if err := a.s.checkNotRevoked(id); err != nil {
					return err
				}
			}
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-a.s.stopSweep:
			return errShuttingDown
		}
	}
}

var errShuttingDown = status.Error(codes.Unavailable, "the collector is shutting down: reconnect and resume after the last event id received")

func prunedError(pos, first uint64) error {
	return status.Errorf(codes.FailedPrecondition,
		"the events after %d are no longer kept (retention): the oldest kept is %d; watch again with --since %d to accept the gap, or without --since to start from now",
		pos, first, first-1)
}

// watchError is a store error of a watch: Unavailable while the collector
// stops (the store may close under a stream that outlived the grace period).
func (a *adminService) watchError(err error) error {
	select {
	case <-a.s.stopSweep:
		return errShuttingDown
	default:
	}
	if errors.Is(err, context.Canceled) {
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Internal, fmt.Sprintf("read the alert event log: %v", err))
}

func checkWatchRequest(req *pb.WatchAlertsRequest) error {
	if m := req.GetMinScore(); math.IsNaN(m) || m < 0 || m > 1 {
		return status.Errorf(codes.InvalidArgument, "min_score %v: want a score from 0 to 1", m)
	}
	for _, k := range req.GetKinds() {
		if !slices.Contains(alertKinds, k) {
			return status.Errorf(codes.InvalidArgument, "kind %q: want one of %v", k, alertKinds)
		}
	}
	return nil
}

// watchMatches applies a watch's filters: the alert's score or its peak
// score at least min_score, and its kind among kinds (any when none).
func watchMatches(req *pb.WatchAlertsRequest, ev *pb.AlertEvent) bool {
	a := ev.GetAlert()
	if m := req.GetMinScore(); m > 0 && a.GetScore() < m && a.GetPeakScore() < m {
		return false
	}
	return len(req.GetKinds()) == 0 || slices.Contains(req.GetKinds(), a.GetKind())
}

// logAlertEvents logs each committed alert event at INFO.
func logAlertEvents(evs []*pb.AlertEvent) {
	log := slog.Default().With("component", "collector")
	for _, ev := range evs {
		a := ev.GetAlert()
		log.Info("alert event", "event_id", ev.GetId(), "type", ev.GetType(), "alert", a.GetId(), "kind", a.GetKind(),
			"score", math.Round(a.GetScore()*1000)/1000, "actor", ev.GetActor())
	}
}

// chainAlertEvents calls each non-nil fn in turn.
func chainAlertEvents(fns ...func([]*pb.AlertEvent)) func([]*pb.AlertEvent) {
	return func(evs []*pb.AlertEvent) {
		for _, fn := range fns {
			if fn != nil {
				fn(evs)
			}
		}
	}
}
