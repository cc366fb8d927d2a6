package console

import (
	"bytes"
	"html/template"
	"math"
	"regexp"
	"strings"
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// A topology of two squares sharing an edge (arc 0), quantized with a
// transform: arc 0 is the shared edge from (1,0) to (1,1); arc 1 closes
// the left square, arc 2 the right one, walked backwards by the right.
const tinyTopology = `{"type":"Topology",
 "transform":{"scale":[0.5,2],"translate":[10,-20]},
 "objects":{"squares":{"type":"GeometryCollection","geometries":[
  {"type":"Polygon","id":"L","properties":{"name":"left"},"arcs":[[0,1]]},
  {"type":"MultiPolygon","id":7,"properties":{"name":"right"},"arcs":[[[-1,2]]]},
  {"type":"Point","coordinates":[0,0]},
  {"type":null}
 ]}},
 "arcs":[[[2,0],[0,1]],[[2,1],[-2,0],[0,-1],[2,0]],[[2,0],[2,0],[0,1],[-2,0]]]}`

func TestDecodeTopoJSONTiny(t *testing.T) {
	fs, err := DecodeTopoJSON([]byte(tinyTopology), "squares")
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 2 {
		t.Fatalf("want 2 polygon features, got %d", len(fs))
	}
	if fs[0].ID != "L" || fs[0].Name != "left" || fs[1].ID != "7" || fs[1].Name != "right" {
		t.Errorf("ids and names: %+v %+v", fs[0].ID+fs[0].Name, fs[1].ID+fs[1].Name)
	}
	// x = q*0.5+10, y = q*2-20, deltas summed.
	wantLeft := []LonLat{{11, -20}, {11, -18}, {10, -18}, {10, -20}, {11, -20}}
	wantRight := []LonLat{{11, -18}, {11, -20}, {12, -20}, {12, -18}, {11, -18}}
	for _, c := range []struct {
		got, want []LonLat
	}{{fs[0].Polygons[0][0], wantLeft}, {fs[1].Polygons[0][0], wantRight}} {
		if len(c.got) != len(c.want) {
			t.Fatalf("ring %v, want %v", c.got, c.want)
		}
		for i := range c.got {
			if math.Abs(c.got[i].Lon-c.want[i].Lon) > 1e-9 || math.Abs(c.got[i].Lat-c.want[i].Lat) > 1e-9 {
				t.Fatalf("ring %v, want %v", c.got, c.want)
			}
		}
	}
}

func TestDecodeTopoJSONErrors(t *testing.T) {
	for name, in := range map[string]string{
		"not json":       `{`,
		"not a topology": `{"type":"FeatureCollection"}`,
		"no object":      `{"type":"Topology","objects":{},"arcs":[]}`,
		"arc out of range": `{"type":"Topology","objects":{"squares":{"type":"GeometryCollection","geometries":[
			{"type":"Polygon","arcs":[[5]]}]}},"arcs":[]}`,
		"short point": `{"type":"Topology","objects":{"squares":{"type":"GeometryCollection","geometries":[]}},"arcs":[[[1]]]}`,
	} {
		if _, err := DecodeTopoJSON([]byte(in), "squares"); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestEmbeddedAtlas(t *testing.T) {
	for _, c := range []struct {
		file, object string
		min, max     int
		bounds       [4]float64 // minLon, minLat, maxLon, maxLat the data must reach
	}{
		{"atlas/countries-110m.json", "countries", 170, 180, [4]float64{-179, -85, 179, 83}},
		{"atlas/states-10m.json", "states", 50, 60, [4]float64{-179, 18, 179, 71}},
	} {
		data, err := atlasFiles.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		fs, err := DecodeTopoJSON(data, c.object)
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) < c.min || len(fs) > c.max {
			t.Errorf("%s: %d features, want %d to %d", c.file, len(fs), c.min, c.max)
		}
		lo, hi := LonLat{180, 90}, LonLat{-180, -90}
		names := map[string]bool{}
		for _, f := range fs {
			names[f.Name] = true
			for _, p := range f.Polygons {
				for _, r := range p {
					for _, pt := range r {
						if pt.Lon < -180.0001 || pt.Lon > 180.0001 || pt.Lat < -90 || pt.Lat > 90 {
							t.Fatalf("%s: %s has %v", c.file, f.Name, pt)
						}
						lo.Lon, lo.Lat, hi.Lon, hi.Lat = min(lo.Lon, pt.Lon), min(lo.Lat, pt.Lat), max(hi.Lon, pt.Lon), max(hi.Lat, pt.Lat)
					}
				}
			}
		}
		if lo.Lon > c.bounds[0] || lo.Lat > c.bounds[1] || hi.Lon < c.bounds[2] || hi.Lat < c.bounds[3] {
			t.Errorf("%s: bounds %v %v", c.file, lo, hi)
		}
		for _, n := range []string{"Texas", "United States of America", "Philippines"} {
			if c.object == "states" && n == "Texas" || c.object == "countries" && n != "Texas" {
				if !names[n] {
					t.Errorf("%s lacks %s", c.file, n)
				}
			}
		}
	}
	a, err := loadAtlas()
	if err != nil || len(a.countries) < 200 || len(a.states) < 60 {
		t.Fatalf("atlas: %v, %d country and %d state polygons", err, len(a.countries), len(a.states))
	}
}

func TestProjectionFits(t *testing.T) {
	austin, manila, nyc := LonLat{-97.74, 30.27}, LonLat{120.98, 14.6}, LonLat{-74.0, 40.7}
	for _, pts := range [][]LonLat{{austin}, {austin, nyc}, {austin, manila}, {manila, nyc, austin}} {
		pr := FitProjection(pts, 960, 540)
		for _, p := range pts {
			x, y := pr.Point(p)
			if x < 0.05*960 || x > 0.95*960 || y < 0.05*540 || y > 0.95*540 {
				t.Errorf("%v in view of %v: at %.0f,%.0f", p, pts, x, y)
			}
		}
	}
	// West is left, north is up, whatever the fit.
	pr := FitProjection([]LonLat{austin, nyc}, 960, 540)
	ax, ay := pr.Point(austin)
	nx, ny := pr.Point(nyc)
	if !(ax < nx && ay > ny) {
		t.Errorf("Austin at %.0f,%.0f, New York at %.0f,%.0f: want Austin left of and below New York", ax, ay, nx, ny)
	}
	// Only the contiguous United States: the Albers conic, with the same order.
	seattle, miami := LonLat{-122.33, 47.61}, LonLat{-80.19, 25.76}
	us := FitProjection([]LonLat{austin, nyc, seattle, miami}, 960, 540)
	if !us.Conic {
		t.Error("no conic for the contiguous United States")
	}
	sx, sy := us.Point(seattle)
	mx, my := us.Point(miami)
	ax, ay = us.Point(austin)
	nx, ny = us.Point(nyc)
	if !(sx < ax && ax < nx && nx < mx+60 && sy < ny && ny < ay && ay < my) {
		t.Errorf("conic order: Seattle %.0f,%.0f Austin %.0f,%.0f New York %.0f,%.0f Miami %.0f,%.0f", sx, sy, ax, ay, nx, ny, mx, my)
	}
	for _, p := range []LonLat{austin, nyc, seattle, miami} {
		if x, y := us.Point(p); x < 0 || x > 960 || y < 0 || y > 540 {
			t.Errorf("conic: %v at %.0f,%.0f", p, x, y)
		}
	}
	// Distances hold on the conic: Austin to New York is about 2,430 km.
	if d := math.Hypot(nx-ax, ny-ay) / us.pixelsPerKm(); d < 2200 || d > 2700 {
		t.Errorf("Austin to New York on the conic: %.0f km", d)
	}
	// The far side of the globe wraps around a conic: Antarctica is left out.
	if us.mayShow(LonLat{-180, -90}, LonLat{180, -60}) || !us.mayShow(LonLat{-106, 25}, LonLat{-93, 36}) {
		t.Error("the conic view draws Antarctica, or not Texas")
	}
	if FitProjection([]LonLat{austin, manila}, 960, 540).Conic {
		t.Error("conic for a view beyond the United States")
	}
	// One point still shows a region around it: 8 degrees of latitude at least.
	for _, p := range []LonLat{austin, manila} {
		pr = FitProjection([]LonLat{p}, 960, 540)
		_, y0 := pr.Point(LonLat{p.Lon, p.Lat - 4})
		_, y1 := pr.Point(LonLat{p.Lon, p.Lat + 4})
		if y0-y1 > 540 || y0-y1 < 100 {
			t.Errorf("8 degrees around %v span %.0f pixels", p, y0-y1)
		}
	}
}

// renderMap runs the map template on m as the pages do.
func renderMap(t *testing.T, m *Map) string {
	t.Helper()
	tmpl := template.Must(template.New("m").Funcs(funcs).ParseFS(files, "templates/map.html"))
	var buf bytes.Buffer
	if err := tmpl.ExecuteTemplate(&buf, "mapsection", drawMap(m)); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestFarmMapSVG(t *testing.T) {
	homes := map[string]*pb.Hire{}
	cl := &pb.Cluster{Id: "c1", ObservedPlace: "Manila, PH (203.0.113.9)", ObservedLatitude: 14.6, ObservedLongitude: 120.98}
	for i, h := range []struct {
		id, name string
		lat, lon float64
	}{{"h1", "Ana", 30.27, -97.74}, {"h2", `<script>alert(1)</script>`, 40.7, -74}, {"h3", "Bo", 41.88, -87.63}} {
		homes[h.id] = &pb.Hire{Id: h.id, Name: h.name, Home: &pb.ClaimedHome{Place: "Town " + h.id, Latitude: h.lat, Longitude: h.lon}}
		cl.Members = append(cl.Members, &pb.ClusterMember{DeviceId: "d" + string(rune('1'+i)), HireId: h.id})
	}
	cl.Members = append(cl.Members, &pb.ClusterMember{DeviceId: "d9", HireId: "h1"}) // a second laptop of one hire
	out := renderMap(t, farmMap("farm <b>", cl, homes))
	if n := strings.Count(out, `class="mark mark-home"`); n != 3 {
		t.Errorf("%d home markers, want 3", n)
	}
	if n := strings.Count(out, `class="mark mark-observed"`); n != 1 {
		t.Errorf("%d observed markers, want 1", n)
	}
	if n := strings.Count(out, `<line class="link"`); n != 3 {
		t.Errorf("%d lines, want 3", n)
	}
	if strings.Contains(out, "<script>") || strings.Contains(out, "<b>") || !strings.Contains(out, "&lt;script&gt;") {
		t.Errorf("labels not escaped:\n%s", out)
	}
	if !strings.Contains(out, `IP geolocation by <a href="https://db-ip.com">DB-IP</a>`) || !strings.Contains(out, "claimed home (circle)") || !strings.Contains(out, "(triangle") {
		t.Errorf("legend or attribution missing")
	}
	if n := len(regexp.MustCompile(`(?i)https?://`).FindAllString(out, -1)); n != 1 {
		t.Errorf("the map has %d outside addresses, want only the attribution's link", n)
	}
	// The lines converge: each ends at the observed marker's point.
	ends := regexp.MustCompile(`class="link"[^>]*x2="([-\d.]+)" y2="([-\d.]+)"`).FindAllStringSubmatch(out, -1)
	for _, e := range ends {
		if e[1] != ends[0][1] || e[2] != ends[0][2] {
			t.Errorf("lines end at %v and %v", ends[0][1:], e[1:])
		}
	}
	// Countries under the marks: the United States at least.
	if !strings.Contains(out, `<g fill="#eceae4"`) || strings.Count(out, `<path d="M`) < 20 {
		t.Errorf("no land drawn")
	}
}

func TestHireMapPeersAbroad(t *testing.T) {
	h := &pb.Hire{Name: "Ana", Home: &pb.ClaimedHome{Place: "Austin, Texas, US", Country: "US", Latitude: 30.27, Longitude: -97.74},
		Shipping: &pb.ClaimedHome{Place: "Dallas, Texas, US", Country: "US", Latitude: 32.78, Longitude: -96.8}}
	loc := &pb.IPLocation{Country: "US", City: "Austin", Latitude: 30.3, Longitude: -97.7, AccuracyKm: 50, Geolocatable: true}
	dev := &pb.DeviceDetail{Device: &pb.Device{Hostname: "<script>x</script>"}, RecentReports: []*pb.StoredReport{
		{PublicIp: "198.51.100.1", Location: loc, Peers: []*pb.PeerLocation{
			{Ip: "203.0.113.5", ToolId: "anydesk", Location: &pb.IPLocation{Country: "PH", City: "Manila", Latitude: 14.6, Longitude: 120.98, Geolocatable: true}},
			{Ip: "198.51.100.7", ToolId: "rdp", Location: &pb.IPLocation{Country: "US", City: "Denver", Latitude: 39.7, Longitude: -105, Geolocatable: true}},
		}},
		{PublicIp: "198.51.100.1", Location: loc}, // the same place again: one marker
	}}
	m := hireMap("hire", h, []*pb.DeviceDetail{dev})
	kinds := map[MarkKind]int{}
	for _, p := range m.Places {
		kinds[p.Kind]++
	}
	if kinds[MarkHome] != 1 || kinds[MarkShipping] != 1 || kinds[MarkObserved] != 1 || kinds[MarkPeer] != 1 {
		t.Errorf("places %v: want a home, a shipping place, one observed place and the one peer abroad", kinds)
	}
	if len(m.Links) != 2 {
		t.Errorf("links %v: want home to observed, laptop to peer", m.Links)
	}
	out := renderMap(t, m)
	if !strings.Contains(out, `<circle class="accuracy"`) || !strings.Contains(out, "mark-peer") || !strings.Contains(out, "mark-shipping") {
		t.Errorf("accuracy ring, peer or shipping marker missing")
	}
	if strings.Contains(out, "<script>") {
		t.Errorf("hostname not escaped")
	}
	// No place with coordinates: a note instead of a map.
	if out := renderMap(t, hireMap("none", &pb.Hire{Name: "x"}, nil)); strings.Contains(out, "<svg") || !strings.Contains(out, "No place") {
		t.Errorf("empty map: %s", out)
	}
}

// FuzzDecodeTopoJSON: odd bytes give an error or shapes, never a panic.
func FuzzDecodeTopoJSON(f *testing.F) {
	f.Add([]byte(tinyTopology))
	f.Add([]byte(`{"type":"Topology","objects":{"squares":{"type":"GeometryCollection","geometries":[{"type":"Polygon","arcs":[[-1]]}]}},"arcs":[[[0,0],[1,1],[0,1]]]}`))
	f.Add([]byte(`{"type":"Topology","objects":{"squares":{"type":"GeometryCollection","geometries":[{"type":"MultiPolygon","arcs":[[[-9]]]}]}},"arcs":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, err := DecodeTopoJSON(data, "squares")
		if err != nil {
			return
		}
		for _, ft := range fs {
			for _, p := range ft.Polygons {
				for _, r := range p {
					if len(r) < 3 {
						t.Fatalf("a ring of %d points", len(r))
					}
				}
			}
		}
	})
}
