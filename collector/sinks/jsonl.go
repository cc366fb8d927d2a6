package sinks

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// ECSVersion is the Elastic Common Schema version the JSON lines follow.
const ECSVersion = "8.11.0"

// ECSEvent is one line of the JSON-lines file: the event with Elastic
// Common Schema field names, and farmwatch's own under "farmwatch". The
// mapping is documented in docs/ALERTS-OUT.md.
type ECSEvent struct {
	Timestamp string `json:"@timestamp"`
	ECS       struct {
		Version string `json:"version"`
	} `json:"ecs"`
	Event struct {
		ID            string   `json:"id"`
		Sequence      uint64   `json:"sequence"`
		Kind          string   `json:"kind"`
		Category      []string `json:"category"`
		Type          []string `json:"type"`
		Action        string   `json:"action"`
		Dataset       string   `json:"dataset"`
		Module        string   `json:"module"`
		Created       string   `json:"created"`
		Start         string   `json:"start,omitempty"`
		RiskScore     float64  `json:"risk_score"`
		RiskScoreNorm float64  `json:"risk_score_norm"`
	} `json:"event"`
	Message string `json:"message"`
	Rule    struct {
		Name string `json:"name"`
	} `json:"rule"`
	Host *struct {
		ID string `json:"id"`
	} `json:"host,omitempty"`
	User *struct {
		Name string `json:"name"`
	} `json:"user,omitempty"`
	Related struct {
		Hosts []string `json:"hosts,omitempty"`
		User  []string `json:"user,omitempty"`
	} `json:"related"`
	Observer struct {
		Vendor  string `json:"vendor"`
		Product string `json:"product"`
		Type    string `json:"type"`
	} `json:"observer"`
	Farmwatch struct {
		EventID       uint64          `json:"event_id"`
		PreviousScore float64         `json:"previous_score"`
		Alert         json.RawMessage `json:"alert"`
	} `json:"farmwatch"`
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// ECS maps an event to its JSON line's fields.
func ECS(ev *pb.AlertEvent) (*ECSEvent, error) {
	a := ev.GetAlert()
	alert, err := EventJSON(&pb.AlertEvent{Alert: a})
	if err != nil {
		return nil, err
	}
	var wrapped struct {
		Alert json.RawMessage `json:"alert"`
	}
	if err := json.Unmarshal(alert, &wrapped); err != nil {
		return nil, err
	}
	e := &ECSEvent{Timestamp: rfc3339(ev.GetAt().AsTime()), Message: a.GetSummary()}
	e.ECS.Version = ECSVersion
	e.Event.ID = WebhookID(ev)
	e.Event.Sequence = ev.GetId()
	e.Event.Kind = "alert"
	e.Event.Category = []string{"intrusion_detection"}
	e.Event.Type = []string{"info"}
	e.Event.Action = ev.GetType()
	e.Event.Dataset = "farmwatch.alert"
	e.Event.Module = "farmwatch"
	e.Event.Created = e.Timestamp
	if a.GetCreatedAt() != nil {
		e.Event.Start = rfc3339(a.GetCreatedAt().AsTime())
	}
	e.Event.RiskScore = a.GetScore()
	e.Event.RiskScoreNorm = a.GetScore() * 100
	e.Rule.Name = a.GetKind()
	if a.GetDeviceId() != "" {
		e.Host = &struct {
			ID string `json:"id"`
		}{a.GetDeviceId()}
	}
	if ev.GetActor() != "" {
		e.User = &struct {
			Name string `json:"name"`
		}{ev.GetActor()}
	}
	if a.GetDeviceId() != "" {
		e.Related.Hosts = append(e.Related.Hosts, a.GetDeviceId())
	}
	for _, d := range a.GetMemberDevices() {
		if d != a.GetDeviceId() {
			e.Related.Hosts = append(e.Related.Hosts, d)
		}
	}
	if a.GetHireId() != "" {
		e.Related.User = append(e.Related.User, a.GetHireId())
	}
	for _, h := range a.GetMemberHires() {
		if h != a.GetHireId() {
			e.Related.User = append(e.Related.User, h)
		}
	}
	e.Observer.Vendor, e.Observer.Product, e.Observer.Type = "farmwatch", "farmwatch collector", "ids"
	e.Farmwatch.EventID = ev.GetId()
	e.Farmwatch.PreviousScore = ev.GetPreviousScore()
	e.Farmwatch.Alert = wrapped.Alert
	if len(e.Farmwatch.Alert) == 0 {
		e.Farmwatch.Alert = json.RawMessage("{}")
	}
	return e, nil
}

// ECSLine is the JSON line of an event, newline included.
func ECSLine(ev *pb.AlertEvent) ([]byte, error) {
	e, err := ECS(ev)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

type jsonl struct {
	mu sync.Mutex
	lj *lumberjack.Logger
}

func newJSONL(o *Output) *jsonl {
	return &jsonl{lj: &lumberjack.Logger{Filename: o.Path, MaxSize: o.MaxSizeMB, MaxBackups: o.MaxBackups}}
}

// deliver appends the line in one write: lumberjack rotates before a write
// that would pass max_size_mb, so a line is never split across files.
func (j *jsonl) deliver(_ context.Context, ev *pb.AlertEvent) (int, error) {
	line, err := ECSLine(ev)
	if err != nil {
		return 0, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.lj.Write(line); err != nil {
		return 0, fmt.Errorf("write %s: %w", j.lj.Filename, err)
	}
	return 0, nil
}

func (j *jsonl) close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.lj.Close()
}
