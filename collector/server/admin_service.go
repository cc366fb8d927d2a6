package server

import (
	"context"
	"errors"
	"math"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/analysis"
	"github.com/farmwatch/farmwatch/collector/hires"
	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

type adminService struct {
	pb.UnimplementedAdminServiceServer
	s        *Server
	backtest sync.Mutex // one backtest at a time
}

func (a *adminService) AddHires(ctx context.Context, req *pb.AddHiresRequest) (*pb.AddHiresResponse, error) {
	if len(req.GetHires()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "hires: none given")
	}
	seen := map[string]int{}
	for i, h := range req.GetHires() {
		if err := hires.Resolve(h); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "hire %d (%s): %v; nothing was stored", i+1, h.GetId(), err)
		}
		if j, dup := seen[h.GetId()]; dup {
			return nil, status.Errorf(codes.InvalidArgument, "hire %d: id %q repeats hire %d; nothing was stored", i+1, h.GetId(), j)
		}
		seen[h.GetId()] = i + 1
		h.CreatedAt = timestamppb.New(a.s.cfg.Now())
	}
	err := a.s.store.Update(func(tx *store.Tx) error {
		for i, h := range req.GetHires() {
			if tx.HireExists(h.GetId()) {
				return status.Errorf(codes.AlreadyExists, "hire %d: id %q already exists; nothing was stored", i+1, h.GetId())
			}
			if err := linkApplicant(tx, h); err != nil {
				return err
			}
			if err := tx.PutHire(h); err != nil {
				return err
			}
			if err := tx.Audit(a.s.cfg.Now(), identityFrom(ctx).Name, "hire.add", h.GetId(), "added"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, asStatus(err)
	}
	return &pb.AddHiresResponse{Hires: req.GetHires()}, nil
}

func (a *adminService) ListHires(ctx context.Context, _ *pb.ListHiresRequest) (*pb.ListHiresResponse, error) {
	var out []*pb.Hire
	err := a.s.store.View(func(tx *store.Tx) (err error) { out, err = tx.Hires(); return })
	return &pb.ListHiresResponse{Hires: out}, asStatus(err)
}

func (a *adminService) GetHire(ctx context.Context, req *pb.GetHireRequest) (*pb.Hire, error) {
	var h *pb.Hire
	err := a.s.store.View(func(tx *store.Tx) (err error) { h, err = tx.Hire(req.GetId()); return })
	return h, asStatus(err)
}

func (a *adminService) CreateToken(ctx context.Context, req *pb.CreateTokenRequest) (*pb.CreateTokenResponse, error) {
	ttl := a.s.cfg.TokenTTL
	if req.GetTtlSeconds() > 0 {
		ttl = time.Duration(req.GetTtlSeconds()) * time.Second
	}
	if ttl > 90*24*time.Hour {
		return nil, status.Error(codes.InvalidArgument, "ttl: at most 90 days")
	}
	token, err := NewToken()
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	now := a.s.cfg.Now()
	exp := now.Add(ttl)
	err = a.s.store.Update(func(tx *store.Tx) error {
		h, err := tx.Hire(req.GetHireId())
		if errors.Is(err, store.ErrNotFound) {
			return status.Errorf(codes.NotFound, "hire %q does not exist; add it with `farmwatch hires add`", req.GetHireId())
		}
		if err != nil {
			return err
		}
		if ended, day := monitoringEnded(h, now); ended {
			return status.Errorf(codes.FailedPrecondition, "hire %s: monitoring ended on %s, so the token could never enroll a laptop; "+
				"if the hire continues, move the end date first (`farmwatch hires update %s --end-date YYYY-MM-DD --note TEXT`)",
				h.GetId(), day, h.GetId())
		}
		if err := tx.Audit(now, identityFrom(ctx).Name, "token.create", req.GetHireId(), "expires "+exp.UTC().Format(time.RFC3339)); err != nil {
			return err
		}
		return tx.PutToken(token, store.TokenRecord{HireID: req.GetHireId(), CreatedAt: now, ExpiresAt: exp})
	})
	if err != nil {
		return nil, asStatus(err)
	}
	return &pb.CreateTokenResponse{Token: token, HireId: req.GetHireId(), ExpiresAt: timestamppb.New(exp),
		Id: store.TokenID(store.TokenHash(token))}, nil
}

func (a *adminService) ListDevices(ctx context.Context, req *pb.ListDevicesRequest) (*pb.ListDevicesResponse, error) {
	a.s.setGeoAttribution(ctx)
	var out []*pb.Device
	err := a.s.store.View(func(tx *store.Tx) (err error) { out, err = tx.Devices(req.GetHireId()); return })
	sort.Slice(out, func(i, j int) bool {
		if out[i].GetHireId() != out[j].GetHireId() {
			return out[i].GetHireId() < out[j].GetHireId()
		}
		return out[i].GetId() < out[j].GetId()
	})
	return &pb.ListDevicesResponse{Devices: out}, asStatus(err)
}

func (a *adminService) GetDevice(ctx context.Context, req *pb.GetDeviceRequest) (*pb.DeviceDetail, error) {
	a.s.setGeoAttribution(ctx)
	out := &pb.DeviceDetail{}
	err := a.s.store.View(func(tx *store.Tx) error {
		d, err := tx.Device(req.GetId())
		if err != nil {
			return err
		}
		out.Device = d
		if h, err := tx.Hire(d.GetHireId()); err == nil {
			out.Hire = h
		}
		if out.RecentReports, err = tx.Reports(d.GetId(), 20); err != nil {
			return err
		}
		out.Alerts, err = tx.Alerts(func(al *pb.Alert) bool {
			if al.GetDeviceId() == d.GetId() {
				return true
			}
			for _, m := range al.GetMemberDevices() {
				if m == d.GetId() {
					return true
				}
			}
			return false
		})
		out.Evidence = analysis.CurrentEvidence(tx, a.s.engine.Config(), d.GetId(), a.s.cfg.Now())
		return err
	})
	return out, asStatus(err)
}

func (a *adminService) ListReports(ctx context.Context, req *pb.ListReportsRequest) (*pb.ListReportsResponse, error) {
	a.s.setGeoAttribution(ctx)
	limit := int(req.GetLimit())
	if limit == 0 {
		limit = 50
	}
	if limit > 10000 {
		return nil, status.Error(codes.InvalidArgument, "limit: at most 10000")
	}
	var out []*pb.StoredReport
	err := a.s.store.View(func(tx *store.Tx) error {
		if _, err := tx.Device(req.GetDeviceId()); err != nil {
			return err
		}
		var err error
		out, err = tx.Reports(req.GetDeviceId(), limit)
		return err
	})
	return &pb.ListReportsResponse{Reports: out}, asStatus(err)
}

var alertStatuses = map[string]bool{"": true, "open": true, "acknowledged": true, "resolved": true}

var alertSorts = map[string]bool{"": true, "peak": true, "current": true, "newest": true}

// ListAlerts lists alerts. By default the reviewers' queue order: highest
// peak first (an alert that once reached review stays at the top until it
// is resolved, whatever its current score), then highest current score.
func (a *adminService) ListAlerts(ctx context.Context, req *pb.ListAlertsRequest) (*pb.ListAlertsResponse, error) {
	if !alertStatuses[req.GetStatus()] {
		return nil, status.Errorf(codes.InvalidArgument, "status %q: want open, acknowledged or resolved", req.GetStatus())
	}
	if !alertSorts[req.GetSort()] {
		return nil, status.Errorf(codes.InvalidArgument, "sort %q: want peak, current or newest", req.GetSort())
	}
	for _, v := range []float64{req.GetMinScore(), req.GetMinPeak()} {
		if v < 0 || v > 1 || math.IsNaN(v) {
			return nil, status.Errorf(codes.InvalidArgument, "minimum score %v: scores lie between 0 and 1", v)
		}
	}
	var out []*pb.Alert
	err := a.s.store.View(func(tx *store.Tx) (err error) {
		list := tx.Alerts
		if st := req.GetStatus(); st == "open" || st == "acknowledged" {
			list = tx.UnresolvedAlerts // the queue, through the open-alert index
		}
		out, err = list(func(al *pb.Alert) bool {
			return (req.GetStatus() == "" || al.GetStatus() == req.GetStatus()) &&
				al.GetScore() >= req.GetMinScore() && peakOf(al) >= req.GetMinPeak() &&
				(req.GetDeviceId() == "" || al.GetDeviceId() == req.GetDeviceId())
		})
		return
	})
	switch req.GetSort() {
	case "", "peak":
		sort.SliceStable(out, func(i, j int) bool {
			if pi, pj := peakOf(out[i]), peakOf(out[j]); pi != pj {
				return pi > pj
			}
			return out[i].GetScore() > out[j].GetScore()
		})
	case "current":
		sort.SliceStable(out, func(i, j int) bool { return out[i].GetScore() > out[j].GetScore() })
	}
	return &pb.ListAlertsResponse{Alerts: out}, asStatus(err)
}

// peakOf is an alert's peak score; alerts stored before peaks were kept
// have only their score.
func peakOf(al *pb.Alert) float64 { return math.Max(al.GetPeakScore(), al.GetScore()) }

// GetAlert returns one alert. An unresolved device alert's lines are read
// from the device's evidence memory at this moment, so a reviewer sees what
// each sign adds now, against its peak, when it was first and last seen and
// in how many reports.
func (a *adminService) GetAlert(ctx context.Context, req *pb.GetAlertRequest) (*pb.Alert, error) {
	a.s.setGeoAttribution(ctx) // its evidence names places
	var al *pb.Alert
	err := a.s.store.View(func(tx *store.Tx) (err error) {
		if al, err = tx.Alert(req.GetId()); err != nil || al.GetStatus() == "resolved" {
			return err
		}
		if al.GetKind() == analysis.AlertKindFarm {
			al.MemberScores = analysis.FarmMemberScores(tx, al)
			return nil
		}
		cfg := a.s.engine.Config()
		if lines := analysis.CurrentEvidence(tx, cfg, al.GetDeviceId(), a.s.cfg.Now()); len(lines) > 0 {
			al.Evidence = lines
			al.Score = analysis.Score(cfg.Prior, lines)
			al.PeakScore = math.Max(al.GetPeakScore(), al.GetScore())
		}
		return nil
	})
	return al, asStatus(err)
}

func asStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, store.ErrNotFound) {
		return status.Error(codes.NotFound, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}
