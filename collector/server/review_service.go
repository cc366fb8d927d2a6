package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/analysis"
	"github.com/farmwatch/farmwatch/collector/hires"
	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// The reviewer's workflow: acknowledge, resolve with a verdict, audit trail,
// declared moves, clusters and model fitting.

func (a *adminService) AckAlert(ctx context.Context, req *pb.AckAlertRequest) (*pb.Alert, error) {
	now := a.s.cfg.Now()
	var out *pb.Alert
	err := a.s.store.Update(func(tx *store.Tx) error {
		al, err := tx.Alert(req.GetId())
		if err != nil {
			return err
		}
		if al.GetStatus() != "open" {
			return status.Errorf(codes.FailedPrecondition, "alert %s is %s, not open", al.GetId(), al.GetStatus())
		}
		al.Status, al.UpdatedAt = "acknowledged", timestamppb.New(now)
		if req.GetNote() != "" {
			al.Note = req.GetNote()
		}
		tx.SetActor(identityFrom(ctx).Name)
		if err := tx.PutAlert(alertSubject(al), al); err != nil {
			return err
		}
		out = al
		return tx.Audit(now, identityFrom(ctx).Name, "alert.ack", al.GetId(), req.GetNote())
	})
	return out, asStatus(err)
}

var verdicts = map[string]bool{"confirmed": true, "false-positive": true}

func (a *adminService) ResolveAlert(ctx context.Context, req *pb.ResolveAlertRequest) (*pb.Alert, error) {
	if !verdicts[req.GetVerdict()] {
		return nil, status.Errorf(codes.InvalidArgument, "verdict %q: want confirmed or false-positive", req.GetVerdict())
	}
	if strings.TrimSpace(req.GetNote()) == "" {
		return nil, status.Error(codes.InvalidArgument, "note: say why (it goes in the audit trail)")
	}
	if len(req.GetNote()) > 4096 {
		return nil, status.Error(codes.InvalidArgument, "note: over 4096 bytes")
	}
	now := a.s.cfg.Now()
	who := identityFrom(ctx).Name
	var out *pb.Alert
	err := a.s.store.Update(func(tx *store.Tx) error {
		al, err := tx.Alert(req.GetId())
		if err != nil {
			return err
		}
		if al.GetStatus() == "resolved" {
			return status.Errorf(codes.FailedPrecondition, "alert %s is already resolved (%s by %s)", al.GetId(), al.GetVerdict(), al.GetResolvedBy())
		}
		al.Status, al.Verdict, al.Note = "resolved", req.GetVerdict(), req.GetNote()
		al.ResolvedBy, al.ResolvedAt, al.UpdatedAt = who, timestamppb.New(now), timestamppb.New(now)
		tx.SetActor(who)
		if err := tx.PutAlert(alertSubject(al), al); err != nil {
			return err
		}
		// The rules the reviewer has judged do not reopen an alert alone.
		var rules []string
		for _, e := range al.GetEvidence() {
			rules = append(rules, e.GetRule())
		}
		devices := al.GetMemberDevices()
		if al.GetDeviceId() != "" {
			devices = append(devices, al.GetDeviceId())
		}
		for _, d := range devices {
			if err := analysis.Reviewed(tx, d, rules); err != nil {
				return err
			}
			if dev, err := tx.Device(d); err == nil && al.GetKind() == analysis.AlertKindDevice {
				dev.OpenAlerts = 0
				if err := tx.PutDevice(dev); err != nil {
					return err
				}
			}
		}
		out = al
		return tx.Audit(now, who, "alert.resolve", al.GetId(), req.GetVerdict()+": "+req.GetNote())
	})
	return out, asStatus(err)
}

func alertSubject(al *pb.Alert) string {
	switch al.GetKind() {
	case analysis.AlertKindFarm:
		return al.GetClusterId()
	case analysis.KindApplicant:
		return al.GetApplicantId()
	}
	return al.GetDeviceId()
}

func (a *adminService) ListAudit(ctx context.Context, req *pb.ListAuditRequest) (*pb.ListAuditResponse, error) {
	limit := int(req.GetLimit())
	if limit == 0 {
		limit = 100
	}
	var out []*pb.AuditEntry
	err := a.s.store.View(func(tx *store.Tx) (err error) { out, err = listAudit(tx, req, limit); return })
	if errors.Is(err, store.ErrBadCursor) {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	resp := &pb.ListAuditResponse{Entries: out}
	if len(out) > 0 {
		resp.NextCursor = out[len(out)-1].GetCursor()
	}
	return resp, asStatus(err)
}

func (a *adminService) UpdateHire(ctx context.Context, req *pb.UpdateHireRequest) (*pb.Hire, error) {
	h := req.GetHire()
	if strings.TrimSpace(req.GetNote()) == "" {
		return nil, status.Error(codes.InvalidArgument, "note: say why the record changes (it goes in the audit trail)")
	}
	if err := hires.Resolve(h); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "hire %s: %v", h.GetId(), err)
	}
	now := a.s.cfg.Now()
	err := a.s.store.Update(func(tx *store.Tx) error {
		old, err := tx.Hire(h.GetId())
		if err != nil {
			return err
		}
		if err := linkApplicant(tx, h); err != nil {
			return err
		}
		h.CreatedAt, h.UpdatedAt = old.GetCreatedAt(), timestamppb.New(now)
		if err := tx.PutHire(h); err != nil {
			return err
		}
		detail := req.GetNote()
		if changed := hireChanges(old, h); len(changed) > 0 {
			detail = strings.Join(changed, "; ") + "; " + detail
		}
		return tx.Audit(now, identityFrom(ctx).Name, "hire.update", h.GetId(), detail)
	})
	return h, asStatus(err)
}

func (a *adminService) ListClusters(ctx context.Context, req *pb.ListClustersRequest) (*pb.ListClustersResponse, error) {
	out := &pb.ListClustersResponse{}
	err := a.s.store.View(func(tx *store.Tx) error {
		all, err := analysis.Clusters(tx)
		if err != nil {
			return err
		}
		var cls []*analysis.Cluster
		for _, cl := range all {
			if !req.GetFarmsOnly() || cl.Farm {
				cls = append(cls, cl)
			}
		}
		analysis.PrefetchMembers(tx, cls...)
		for _, cl := range cls {
			v, err := analysis.ClusterView(tx, cl)
			if err != nil {
				return err
			}
			out.Clusters = append(out.Clusters, v)
		}
		return nil
	})
	sort.SliceStable(out.Clusters, func(i, j int) bool {
		if out.Clusters[i].GetFarm() != out.Clusters[j].GetFarm() {
			return out.Clusters[i].GetFarm()
		}
		return len(out.Clusters[i].GetMembers()) > len(out.Clusters[j].GetMembers())
	})
	return out, asStatus(err)
}

func (a *adminService) GetCluster(ctx context.Context, req *pb.GetClusterRequest) (*pb.Cluster, error) {
	a.s.setGeoAttribution(ctx)
	var out *pb.Cluster
	err := a.s.store.View(func(tx *store.Tx) error {
		cl, err := analysis.LoadCluster(tx, req.GetId())
		if err != nil {
			return err
		}
		analysis.PrefetchMembers(tx, cl)
		out, err = analysis.ClusterView(tx, cl)
		return err
	})
	return out, asStatus(err)
}

// MinVerdictsToApply is how many verdicts of each kind, confirmed and
// false-positive, `model fit --apply` needs: with fewer, one odd case moves
// the weights of every rule it fired, and a fit without the other kind only
// learns that every alert is right, or that every alert is wrong.
const MinVerdictsToApply = 5

// weightsChanged tells whether a fit moves the prior or a weight at the
// precision the config file is written with.
func weightsChanged(cfg analysis.Config, res analysis.FitResult) bool {
	differ := func(a, b float64) bool { return fmt.Sprintf("%.3f", a) != fmt.Sprintf("%.3f", b) }
	if differ(cfg.Prior, res.Prior) {
		return true
	}
	for r, w := range res.Weights {
		if differ(cfg.Weights[r], w) {
			return true
		}
	}
	return false
}

// GetConfig is the analysis config in effect, as YAML.
func (a *adminService) GetConfig(ctx context.Context, _ *pb.GetConfigRequest) (*pb.GetConfigResponse, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2) // as the config files and the documented defaults are written
	if err := enc.Encode(a.s.engine.Config()); err != nil {
		return nil, status.Errorf(codes.Internal, "config as YAML: %v", err)
	}
	return &pb.GetConfigResponse{ConfigYaml: b.Bytes(), ConfigPath: a.s.cfg.AnalysisConfig}, nil
}

func (a *adminService) FitModel(ctx context.Context, req *pb.FitModelRequest) (*pb.FitModelResponse, error) {
	var vs []analysis.Verdict
	err := a.s.store.View(func(tx *store.Tx) error {
		_, err := tx.Alerts(func(al *pb.Alert) bool {
			if v, ok := analysis.VerdictFromAlert(al); ok {
				vs = append(vs, v)
			}
			return false
		})
		return err
	})
	if err != nil {
		return nil, asStatus(err)
	}
	cfg := a.s.engine.Config()
	res := analysis.Fit(cfg, vs, req.GetL2())
	out := &pb.FitModelResponse{OldPrior: cfg.Prior, NewPrior: res.Prior, Confirmed: uint32(res.Confirmed),
		FalsePositives: uint32(res.FalsePos), OldPrecision: res.OldPrecision, OldRecall: res.OldRecall,
		NewPrecision: res.NewPrecision, NewRecall: res.NewRecall, ConfigPath: a.s.cfg.AnalysisConfig}
	for _, r := range analysis.RuleNames() {
		f := res.Fired[r]
		out.Weights = append(out.Weights, &pb.RuleWeight{Rule: r, OldWeight: cfg.Weights[r], NewWeight: res.Weights[r],
			FiredConfirmed: uint32(f[0]), FiredFalsePositive: uint32(f[1])})
	}
	enough := res.Confirmed >= MinVerdictsToApply && res.FalsePos >= MinVerdictsToApply
	if !enough {
		out.Note = fmt.Sprintf("--apply needs at least %d verdicts of each kind (confirmed and false-positive); there are %d and %d",
			MinVerdictsToApply, res.Confirmed, res.FalsePos)
	}
	if !req.GetApply() {
		return out, nil
	}
	if identityFrom(ctx).Role != "reviewer" {
		return nil, status.Error(codes.PermissionDenied, "applying weights needs the reviewer role")
	}
	if !enough {
		return nil, status.Errorf(codes.FailedPrecondition, "refusing to apply: %s; resolve more alerts with `farmwatch alerts resolve`", out.Note)
	}
	if !weightsChanged(cfg, res) {
		return out, nil // the config file is left as it is: nothing to write
	}
	next := cfg
	next.Prior = res.Prior
	next.Weights = res.Weights
	now := a.s.cfg.Now()
	stamp := fmt.Sprintf("weights and prior fitted by `farmwatch model fit --apply` on %s from %d confirmed and %d false-positive verdicts",
		now.UTC().Format(time.RFC3339), res.Confirmed, res.FalsePos)
	if err := analysis.WriteWeights(a.s.cfg.AnalysisConfig, next, stamp); err != nil {
		return nil, status.Errorf(codes.Internal, "write %s: %v", a.s.cfg.AnalysisConfig, err)
	}
	reloaded, err := analysis.LoadConfig(a.s.cfg.AnalysisConfig)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "reload: %v", err)
	}
	a.s.engine.SetConfig(reloaded)
	err = a.s.store.Update(func(tx *store.Tx) error {
		return tx.Audit(now, identityFrom(ctx).Name, "config.apply", a.s.cfg.AnalysisConfig,
			fmt.Sprintf("prior %.3f -> %.3f; precision %.2f -> %.2f, recall %.2f -> %.2f", cfg.Prior, res.Prior,
				res.OldPrecision, res.NewPrecision, res.OldRecall, res.NewRecall))
	})
	if err != nil {
		return nil, asStatus(err)
	}
	out.Applied = true
	return out, nil
}
