package console

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

var pageNames = []string{"queue", "alert", "hire", "device", "cluster", "clusters", "error"}

var funcs = template.FuncMap{
	"ts": func(t *timestamppb.Timestamp) string {
		if t == nil || !t.IsValid() || t.AsTime().IsZero() {
			return "-"
		}
		return t.AsTime().UTC().Format("2006-01-02 15:04:05Z")
	},
	"score":  func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) },
	"signed": func(f float64) string { return fmt.Sprintf("%+.2f", f) },
	"km":     func(f float64) string { return strconv.FormatFloat(f, 'f', 0, 64) + " km" },
	"peak":   func(a *pb.Alert) float64 { return max(a.GetPeakScore(), a.GetScore()) },
	"facts": func(m map[string]string) []string {
		out := make([]string, 0, len(m))
		for k, v := range m {
			out = append(out, k+"="+v)
		}
		sort.Strings(out)
		return out
	},
}

func parsePages() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/map.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

func (c *Console) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", c.queue)
	m.HandleFunc("GET /static/console.css", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Write(c.css)
	})
	m.HandleFunc("GET /alerts/{id}", c.alert)
	m.HandleFunc("POST /alerts/{id}/ack", c.ack)
	m.HandleFunc("POST /alerts/{id}/resolve", c.resolve)
	m.HandleFunc("GET /hires/{id}", c.hire)
	m.HandleFunc("GET /devices/{id}", c.device)
	m.HandleFunc("GET /clusters", c.clusters)
	m.HandleFunc("GET /clusters/{id}", c.cluster)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, http.StatusNotFound, "no such page: "+r.URL.Path)
	})
	c.mux = m
}

// view is what every page template gets.
type view struct {
	Title     string
	Name      string
	Role      string
	Collector string
	Reviewer  bool
	CSRF      string
	Data      any
}

func (c *Console) render(w http.ResponseWriter, code int, page, title string, data any) {
	var buf bytes.Buffer
	v := view{Title: title, Name: c.cfg.Name, Role: c.cfg.Role, Collector: c.cfg.Collector,
		Reviewer: c.cfg.Role == "reviewer", CSRF: c.csrf, Data: data}
	if err := c.pages[page].ExecuteTemplate(&buf, "layout", v); err != nil {
		http.Error(w, "console: rendering "+page+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

type errorData struct {
	Code    int
	Status  string
	Message string
	Back    string
}

// fail shows an error page: a refused or failed admin call is a page that
// says what happened, never a crash.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	back := ""
	if id := r.PathValue("id"); id != "" && strings.HasPrefix(r.URL.Path, "/alerts/") {
		back = "/alerts/" + url.PathEscape(id)
	}
	c.render(w, code, "error", http.StatusText(code), errorData{Code: code, Status: http.StatusText(code), Message: msg, Back: back})
}

func (c *Console) failCall(w http.ResponseWriter, r *http.Request, err error) {
	c.fail(w, r, httpStatus(err), plain(err))
}

// queueFilter is the queue's query: sort, kind, status and minimum scores.
type queueFilter struct {
	Sort, Kind, Status string
	MinScore, MinPeak  float64
}

func (f queueFilter) URL(sortBy string) string {
	q := url.Values{}
	q.Set("sort", sortBy)
	if f.Kind != "" {
		q.Set("kind", f.Kind)
	}
	if f.Status != "" {
		q.Set("status", f.Status)
	}
	if f.MinScore > 0 {
		q.Set("min_score", strconv.FormatFloat(f.MinScore, 'f', -1, 64))
	}
	if f.MinPeak > 0 {
		q.Set("min_peak", strconv.FormatFloat(f.MinPeak, 'f', -1, 64))
	}
	return "/?" + q.Encode()
}

func parseQueueFilter(q url.Values) (queueFilter, error) {
	f := queueFilter{Sort: q.Get("sort"), Kind: q.Get("kind"), Status: q.Get("status")}
	switch f.Sort {
	case "":
		f.Sort = "peak"
	case "peak", "current", "newest":
	default:
		return f, fmt.Errorf("sort %q: want peak, current or newest", f.Sort)
	}
	switch f.Kind {
	case "", "device", "farm", "applicant":
	default:
		return f, fmt.Errorf("kind %q: want device, farm or applicant", f.Kind)
	}
	switch f.Status {
	case "", "open", "acknowledged", "resolved":
	default:
		return f, fmt.Errorf("status %q: want open, acknowledged or resolved", f.Status)
	}
	for _, p := range []struct {
		name string
		dst  *float64
	}{{"min_score", &f.MinScore}, {"min_peak", &f.MinPeak}} {
		s := q.Get(p.name)
		if s == "" {
			continue
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || !(v >= 0 && v <= 1) { // NaN too
			return f, fmt.Errorf("%s %q: want a score from 0 to 1", p.name, s)
		}
		*p.dst = v
	}
	return f, nil
}

type queueData struct {
	Filter queueFilter
	Alerts []*pb.Alert
}

func (c *Console) queue(w http.ResponseWriter, r *http.Request) {
	f, err := parseQueueFilter(r.URL.Query())
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	resp, err := call(c, r, func(ctx context.Context, a pb.AdminServiceClient) (*pb.ListAlertsResponse, error) {
		return a.ListAlerts(ctx, &pb.ListAlertsRequest{Status: f.Status, MinScore: f.MinScore, MinPeak: f.MinPeak, Sort: f.Sort})
	})
	if err != nil {
		c.failCall(w, r, err)
		return
	}
	d := queueData{Filter: f}
	for _, a := range resp.GetAlerts() {
		if f.Kind == "" || a.GetKind() == f.Kind {
			d.Alerts = append(d.Alerts, a)
		}
	}
	c.render(w, http.StatusOK, "queue", "Alert queue", d)
}

// event is one line of an alert's timeline.
type event struct {
	At    time.Time
	What  string
	Actor string
}

type alertData struct {
	Alert    *pb.Alert
	Timeline []event
	// AuditNote says why the audit lines are missing, if they are.
	AuditNote string
	Done      string
	mapData
}

func (c *Console) alert(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	a, err := call(c, r, func(ctx context.Context, adm pb.AdminServiceClient) (*pb.Alert, error) {
		return adm.GetAlert(ctx, &pb.GetAlertRequest{Id: id})
	})
	if err != nil {
		c.failCall(w, r, err)
		return
	}
	d := alertData{Alert: a, Done: r.URL.Query().Get("done")}
	switch d.Done {
	case "", "ack", "resolve":
	default:
		d.Done = ""
	}
	// The timeline: the alert's own timestamps, and the audit trail of what
	// reviewers did to it.
	add := func(t *timestamppb.Timestamp, what, actor string) {
		if t != nil && t.IsValid() && !t.AsTime().IsZero() {
			d.Timeline = append(d.Timeline, event{At: t.AsTime().UTC(), What: what, Actor: actor})
		}
	}
	add(a.GetCreatedAt(), "opened", "")
	if a.GetPeakAt() != nil {
		add(a.GetPeakAt(), fmt.Sprintf("peak score %.2f", max(a.GetPeakScore(), a.GetScore())), "")
	}
	audit, err := call(c, r, func(ctx context.Context, adm pb.AdminServiceClient) (*pb.ListAuditResponse, error) {
		return adm.ListAudit(ctx, &pb.ListAuditRequest{Subject: id, OldestFirst: true, Limit: 200})
	})
	if err != nil {
		d.AuditNote = "audit trail not shown: " + plain(err)
		if a.GetStatus() == "resolved" {
			add(a.GetResolvedAt(), "resolved: "+a.GetVerdict(), a.GetResolvedBy())
		}
	} else {
		for _, e := range audit.GetEntries() {
			what := e.GetAction()
			if e.GetDetail() != "" {
				what += ": " + e.GetDetail()
			}
			add(e.GetAt(), what, e.GetActor())
		}
	}
	add(a.GetUpdatedAt(), "last updated", "")
	sort.SliceStable(d.Timeline, func(i, j int) bool { return d.Timeline[i].At.Before(d.Timeline[j].At) })
	d.mapData = c.alertMap(r, a)
	c.render(w, http.StatusOK, "alert", "Alert "+a.GetId(), d)
}

// alertMap is the map of an alert: a farm's homes converging on the
// observed place, or a device alert's hire and laptop with its peers (a
// device alert of a farm member names the cluster too: its own map shows
// what its evidence is about, the farm's is one link away).
func (c *Console) alertMap(r *http.Request, a *pb.Alert) mapData {
	switch {
	case a.GetKind() == "farm" && a.GetClusterId() != "":
		cl, err := call(c, r, func(ctx context.Context, adm pb.AdminServiceClient) (*pb.Cluster, error) {
			return adm.GetCluster(ctx, &pb.GetClusterRequest{Id: a.GetClusterId()})
		})
		if err != nil {
			return mapData{MapNote: "map not drawn: " + plain(err)}
		}
		return drawMap(farmMap("Map of farm alert "+a.GetId()+": every member's claimed home and the place they are observed at", cl, c.clusterHires(r, cl)))
	case a.GetDeviceId() != "":
		d, err := call(c, r, func(ctx context.Context, adm pb.AdminServiceClient) (*pb.DeviceDetail, error) {
			return adm.GetDevice(ctx, &pb.GetDeviceRequest{Id: a.GetDeviceId()})
		})
		if err != nil {
			return mapData{MapNote: "map not drawn: " + plain(err)}
		}
		return drawMap(hireMap("Map of alert "+a.GetId()+": claimed home and where the laptop is", d.GetHire(), []*pb.DeviceDetail{d}))
	}
	return mapData{}
}

func (c *Console) ack(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	_, err := call(c, r, func(ctx context.Context, adm pb.AdminServiceClient) (*pb.Alert, error) {
		return adm.AckAlert(ctx, &pb.AckAlertRequest{Id: id, Note: r.PostForm.Get("note")})
	})
	if err != nil {
		c.failCall(w, r, err)
		return
	}
	http.Redirect(w, r, "/alerts/"+url.PathEscape(id)+"?done=ack", http.StatusSeeOther)
}

func (c *Console) resolve(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	_, err := call(c, r, func(ctx context.Context, adm pb.AdminServiceClient) (*pb.Alert, error) {
		return adm.ResolveAlert(ctx, &pb.ResolveAlertRequest{Id: id, Verdict: r.PostForm.Get("verdict"), Note: r.PostForm.Get("note")})
	})
	if err != nil {
		c.failCall(w, r, err)
		return
	}
	http.Redirect(w, r, "/alerts/"+url.PathEscape(id)+"?done=resolve", http.StatusSeeOther)
}

type hireData struct {
	Hire    *pb.Hire
	Devices []*pb.Device
	Alerts  []*pb.Alert
	mapData
}

// mapData is the map of a page, or why there is none.
type mapData struct {
	Map     *mapView
	MapNote string
}

func drawMap(m *Map) mapData {
	v, err := m.view()
	switch {
	case err != nil:
		return mapData{MapNote: "map not drawn: " + err.Error()}
	case v == nil:
		return mapData{MapNote: "No place with coordinates to draw."}
	}
	return mapData{Map: v}
}

// Most devices and hires one map fetches: a page stays quick, and a
// bigger farm is still drawn by its first members.
const (
	mapMaxDevices = 20
	mapMaxHires   = 100
)

// deviceDetails fetches the details (recent reports) of devices for a map;
// a device that cannot be read is left out of the map.
func (c *Console) deviceDetails(r *http.Request, devs []*pb.Device) []*pb.DeviceDetail {
	var out []*pb.DeviceDetail
	for i, d := range devs {
		if i == mapMaxDevices {
			break
		}
		det, err := call(c, r, func(ctx context.Context, adm pb.AdminServiceClient) (*pb.DeviceDetail, error) {
			return adm.GetDevice(ctx, &pb.GetDeviceRequest{Id: d.GetId()})
		})
		if err == nil {
			out = append(out, det)
		}
	}
	return out
}

// clusterHires fetches the hires of a cluster's members, for their claimed
// homes' coordinates.
func (c *Console) clusterHires(r *http.Request, cl *pb.Cluster) map[string]*pb.Hire {
	out := map[string]*pb.Hire{}
	for _, m := range cl.GetMembers() {
		id := m.GetHireId()
		if id == "" || out[id] != nil || len(out) == mapMaxHires {
			continue
		}
		h, err := call(c, r, func(ctx context.Context, adm pb.AdminServiceClient) (*pb.Hire, error) {
			return adm.GetHire(ctx, &pb.GetHireRequest{Id: id})
		})
		if err == nil {
			out[id] = h
		}
	}
	return out
}

func (c *Console) hire(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	h, err := call(c, r, func(ctx context.Context, adm pb.AdminServiceClient) (*pb.Hire, error) {
		return adm.GetHire(ctx, &pb.GetHireRequest{Id: id})
	})
	if err != nil {
		c.failCall(w, r, err)
		return
	}
	devs, err := call(c, r, func(ctx context.Context, adm pb.AdminServiceClient) (*pb.ListDevicesResponse, error) {
		return adm.ListDevices(ctx, &pb.ListDevicesRequest{HireId: id})
	})
	if err != nil {
		c.failCall(w, r, err)
		return
	}
	alerts, err := call(c, r, func(ctx context.Context, adm pb.AdminServiceClient) (*pb.ListAlertsResponse, error) {
		return adm.ListAlerts(ctx, &pb.ListAlertsRequest{Sort: "newest"})
	})
	if err != nil {
		c.failCall(w, r, err)
		return
	}
	d := hireData{Hire: h, Devices: devs.GetDevices()}
	d.mapData = drawMap(hireMap("Map of "+h.GetName()+": claimed home, shipping address and where the laptops are", h, c.deviceDetails(r, d.Devices)))
	for _, a := range alerts.GetAlerts() {
		if a.GetHireId() == id || contains(a.GetMemberHires(), id) {
			d.Alerts = append(d.Alerts, a)
		}
	}
	c.render(w, http.StatusOK, "hire", "Hire "+h.GetId(), d)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (c *Console) device(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	d, err := call(c, r, func(ctx context.Context, adm pb.AdminServiceClient) (*pb.DeviceDetail, error) {
		return adm.GetDevice(ctx, &pb.GetDeviceRequest{Id: id})
	})
	if err != nil {
		c.failCall(w, r, err)
		return
	}
	c.render(w, http.StatusOK, "device", "Device "+d.GetDevice().GetId(), struct {
		*pb.DeviceDetail
		mapData
	}{d, drawMap(hireMap("Map of device "+d.GetDevice().GetHostname()+": claimed home and where the laptop is", d.GetHire(), []*pb.DeviceDetail{d}))})
}

func (c *Console) clusters(w http.ResponseWriter, r *http.Request) {
	all := r.URL.Query().Get("all") == "1"
	resp, err := call(c, r, func(ctx context.Context, adm pb.AdminServiceClient) (*pb.ListClustersResponse, error) {
		return adm.ListClusters(ctx, &pb.ListClustersRequest{FarmsOnly: !all})
	})
	if err != nil {
		c.failCall(w, r, err)
		return
	}
	c.render(w, http.StatusOK, "clusters", "Farm clusters", struct {
		All      bool
		Clusters []*pb.Cluster
	}{all, resp.GetClusters()})
}

func (c *Console) cluster(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	cl, err := call(c, r, func(ctx context.Context, adm pb.AdminServiceClient) (*pb.Cluster, error) {
		return adm.GetCluster(ctx, &pb.GetClusterRequest{Id: id})
	})
	if err != nil {
		c.failCall(w, r, err)
		return
	}
	c.render(w, http.StatusOK, "cluster", "Cluster "+cl.GetId(), struct {
		*pb.Cluster
		mapData
	}{cl, drawMap(farmMap("Map of cluster "+cl.GetId()+": every member's claimed home and the place they are observed at", cl, c.clusterHires(r, cl)))})
}
