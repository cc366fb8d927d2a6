package analysis

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// AlertKindDevice is the alert that gathers a device's evidence.
const AlertKindDevice = "device"

// Engine evaluates the rules for each newly stored report.
type Engine struct {
	Config Config
}

// Score turns evidence into a probability-like score: sigmoid(prior + sum).
func Score(prior float64, ev []*pb.Evidence) float64 {
	z := prior
	for _, e := range ev {
		z += e.GetWeight()
	}
	return 1 / (1 + math.Exp(-z))
}

// Evaluate runs every rule on one report.
func (e *Engine) Evaluate(hire *pb.Hire, sr *pb.StoredReport) []*pb.Evidence {
	in := Input{Hire: hire, Report: sr, Config: e.Config}
	var out []*pb.Evidence
	for _, r := range Rules {
		if ev := r(in); ev != nil {
			ev.ObservedAt = sr.GetReceivedAt()
			out = append(out, ev)
		}
	}
	return out
}

// Analyze is a store.AnalyzeFunc: it scores the device on its newest report
// and opens or updates the device's alert in the same transaction.
func (e *Engine) Analyze(tx *store.Tx, dev *pb.Device, sr *pb.StoredReport) error {
	hire, err := tx.Hire(dev.GetHireId())
	if err != nil {
		return err
	}
	if dev.GetLastSeq() > sr.GetReport().GetSeq() {
		return nil // a late, older report does not overrule the current state
	}
	ev := e.Evaluate(hire, sr)
	score := Score(e.Config.Prior, ev)
	dev.Score = score

	alert, err := tx.OpenAlert(dev.GetId(), AlertKindDevice)
	if err != nil {
		return err
	}
	now := sr.GetReceivedAt()
	if alert == nil {
		if score < e.Config.AlertThreshold {
			return nil
		}
		id, err := tx.NextAlertID()
		if err != nil {
			return err
		}
		alert = &pb.Alert{Id: id, Kind: AlertKindDevice, DeviceId: dev.GetId(), HireId: hire.GetId(),
			Status: "open", CreatedAt: now}
	}
	alert.Score = score
	alert.Evidence = ev
	alert.UpdatedAt = timestamppb.New(now.AsTime())
	alert.Summary = Summary(hire, dev, ev, score)
	if alert.GetStatus() == "open" || alert.GetStatus() == "acknowledged" {
		dev.OpenAlerts = 1
	}
	return tx.PutAlert(dev.GetId(), alert)
}

// Summary is the one line a reviewer reads first.
func Summary(hire *pb.Hire, dev *pb.Device, ev []*pb.Evidence, score float64) string {
	if len(ev) == 0 {
		return fmt.Sprintf("%s (%s): no current evidence, score %.2f", hire.GetName(), dev.GetId(), score)
	}
	rules := make([]string, 0, len(ev))
	for _, e := range ev {
		rules = append(rules, e.GetRule())
	}
	sort.Strings(rules)
	return fmt.Sprintf("%s (%s): %s", hire.GetName(), dev.GetHostname(), strings.Join(rules, ", "))
}
