package console

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"io"
	"sort"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// caseReport is what the case report of one hire shows.
type caseReport struct {
	Generated string
	CSS       template.CSS
	Hire      *pb.Hire
	Devices   []*pb.DeviceDetail
	Alerts    []*pb.Alert
	Clusters  []*pb.Cluster
	Timeline  []event
	Audit     []*pb.AuditEntry
	// Notes say what could not be read (a call refused, a cap reached).
	Notes    []string
	HireMap  mapData
	FarmMaps []mapData
}

// Most audit lines read per subject, and most alerts a report details.
const (
	reportAuditLimit = 500
	reportMaxAlerts  = 50
)

// WriteReport writes the case report of a hire as one self-contained HTML
// page (inline style and map, no script, no outside reference) for an
// investigator to hand on: the hire, the map, the timeline, every alert's
// evidence with contributions, the verdicts and the audit lines about the
// hire, its devices and its alerts. Every string from laptops or HR is
// escaped by html/template, as in the console.
func WriteReport(ctx context.Context, admin pb.AdminServiceClient, hireID string, now time.Time, w io.Writer) error {
	r := caseReport{Generated: now.UTC().Format("2006-01-02 15:04:05Z")}
	css, err := files.ReadFile("static/report.css")
	if err != nil {
		return err
	}
	r.CSS = template.CSS(css)
	if r.Hire, err = admin.GetHire(ctx, &pb.GetHireRequest{Id: hireID}); err != nil {
		return fmt.Errorf("hire %s: %s", hireID, plain(err))
	}
	devs, err := admin.ListDevices(ctx, &pb.ListDevicesRequest{HireId: hireID})
	if err != nil {
		return fmt.Errorf("devices of %s: %s", hireID, plain(err))
	}
	for _, d := range devs.GetDevices() {
		det, err := admin.GetDevice(ctx, &pb.GetDeviceRequest{Id: d.GetId()})
		if err != nil {
			r.Notes = append(r.Notes, fmt.Sprintf("device %s not read: %s", d.GetId(), plain(err)))
			continue
		}
		r.Devices = append(r.Devices, det)
	}
	alerts, err := admin.ListAlerts(ctx, &pb.ListAlertsRequest{Sort: "newest"})
	if err != nil {
		return fmt.Errorf("alerts: %s", plain(err))
	}
	clusters := map[string]bool{}
	for _, a := range alerts.GetAlerts() {
		if a.GetHireId() != hireID && !contains(a.GetMemberHires(), hireID) {
			continue
		}
		if len(r.Alerts) == reportMaxAlerts {
			r.Notes = append(r.Notes, fmt.Sprintf("only the newest %d alerts are detailed", reportMaxAlerts))
			break
		}
		full, err := admin.GetAlert(ctx, &pb.GetAlertRequest{Id: a.GetId()})
		if err != nil {
			full = a
		}
		r.Alerts = append(r.Alerts, full)
		if id := full.GetClusterId(); id != "" && !clusters[id] {
			clusters[id] = true
			if cl, err := admin.GetCluster(ctx, &pb.GetClusterRequest{Id: id}); err == nil {
				r.Clusters = append(r.Clusters, cl)
			}
		}
	}
	// The audit: what was done to the hire, its devices and its alerts.
	subjects := []string{hireID}
	for _, d := range r.Devices {
		subjects = append(subjects, d.GetDevice().GetId())
	}
	for _, a := range r.Alerts {
		subjects = append(subjects, a.GetId())
	}
	for _, s := range subjects {
		resp, err := admin.ListAudit(ctx, &pb.ListAuditRequest{Subject: s, OldestFirst: true, Limit: reportAuditLimit})
		if err != nil {
			r.Notes = append(r.Notes, fmt.Sprintf("audit of %s not read: %s", s, plain(err)))
			continue
		}
		r.Audit = append(r.Audit, resp.GetEntries()...)
	}
	sort.SliceStable(r.Audit, func(i, j int) bool { return r.Audit[i].GetAt().AsTime().Before(r.Audit[j].GetAt().AsTime()) })

	// The timeline: the records' own times, then the audit.
	add := func(t *timestamppb.Timestamp, what, actor string) {
		if t != nil && t.IsValid() && !t.AsTime().IsZero() {
			r.Timeline = append(r.Timeline, event{At: t.AsTime().UTC(), What: what, Actor: actor})
		}
	}
	add(r.Hire.GetCreatedAt(), "hire added: "+r.Hire.GetName(), "")
	for _, d := range r.Devices {
		dv := d.GetDevice()
		add(dv.GetEnrolledAt(), "device "+dv.GetId()+" ("+dv.GetHostname()+") enrolled", "")
		add(dv.GetLastSeen(), "device "+dv.GetId()+" last seen from "+dv.GetLastPublicIp(), "")
	}
	for _, a := range r.Alerts {
		add(a.GetCreatedAt(), fmt.Sprintf("alert %s (%s) opened: %s", a.GetId(), a.GetKind(), a.GetSummary()), "")
		if a.GetPeakAt() != nil {
			add(a.GetPeakAt(), fmt.Sprintf("alert %s peak score %.2f", a.GetId(), max(a.GetPeakScore(), a.GetScore())), "")
		}
	}
	for _, e := range r.Audit {
		what := e.GetAction() + " " + e.GetSubject()
		if e.GetDetail() != "" {
			what += ": " + e.GetDetail()
		}
		add(e.GetAt(), what, e.GetActor())
	}
	sort.SliceStable(r.Timeline, func(i, j int) bool { return r.Timeline[i].At.Before(r.Timeline[j].At) })

	r.HireMap = drawMap(hireMap("Map of "+r.Hire.GetName()+": claimed home, shipping address and where the laptops are", r.Hire, r.Devices))
	for _, cl := range r.Clusters {
		homes := map[string]*pb.Hire{}
		for _, m := range cl.GetMembers() {
			id := m.GetHireId()
			if id == "" || homes[id] != nil || len(homes) == mapMaxHires {
				continue
			}
			if h, err := admin.GetHire(ctx, &pb.GetHireRequest{Id: id}); err == nil {
				homes[id] = h
			}
		}
		r.FarmMaps = append(r.FarmMaps, drawMap(farmMap("Map of cluster "+cl.GetId()+": every member's claimed home and the place they are observed at", cl, homes)))
	}

	for i, m := range append([]mapData{r.HireMap}, r.FarmMaps...) {
		if m.Map != nil {
			m.Map.Offline = true
			m.Map.ID = fmt.Sprintf("map-title-%d", i)
		}
	}
	t, err := template.New("report").Funcs(funcs).ParseFS(files, "templates/map.html", "templates/report.html")
	if err != nil {
		return fmt.Errorf("report template: %w", err)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "report", r); err != nil {
		return fmt.Errorf("rendering the report: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}
