package console

import (
	"cmp"
	"embed"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// The map shapes, written by `make console-assets` (internal/atlasgen) from
// the npm packages world-atlas (Natural Earth countries, 1:110m) and
// us-atlas (U.S. states, 1:10m); see atlas/SOURCES.txt.
//
//go:embed atlas/countries-110m.json atlas/states-10m.json
var atlasFiles embed.FS

// atlasShape is one polygon of the atlas with its bounding box, so a map
// draws only what its view shows.
type atlasShape struct {
	rings    [][]LonLat
	min, max LonLat
}

type atlas struct{ countries, states []atlasShape }

var loadAtlas = sync.OnceValues(func() (*atlas, error) {
	var a atlas
	for _, layer := range []struct {
		file, object string
		dst          *[]atlasShape
	}{{"atlas/countries-110m.json", "countries", &a.countries}, {"atlas/states-10m.json", "states", &a.states}} {
		data, err := atlasFiles.ReadFile(layer.file)
		if err != nil {
			return nil, err
		}
		features, err := DecodeTopoJSON(data, layer.object)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", layer.file, err)
		}
		for _, f := range features {
			for _, p := range f.Polygons {
				s := atlasShape{rings: p, min: LonLat{180, 90}, max: LonLat{-180, -90}}
				for _, pt := range p[0] {
					s.min.Lon, s.min.Lat = min(s.min.Lon, pt.Lon), min(s.min.Lat, pt.Lat)
					s.max.Lon, s.max.Lat = max(s.max.Lon, pt.Lon), max(s.max.Lat, pt.Lat)
				}
				*layer.dst = append(*layer.dst, s)
			}
		}
	}
	return &a, nil
})

// Projection maps places to pixels in a box of W by H, x growing east and
// y south: an equirectangular (plate carrée) projection with its standard
// parallel in the middle of the view, or, when every point is in the
// contiguous United States, an Albers equal-area conic (standard parallels
// 29.5 and 45.5 N, central meridian 96 W, as the U.S. Geological Survey
// and d3's geoAlbers draw it). Either is fitted to the points with a margin.
type Projection struct {
	W, H       float64
	Conic      bool
	k          float64 // equirectangular: cos of the standard parallel, the east-west shrink
	unitKm     float64 // km in one unit of the raw projection, north-south
	scale      float64 // pixels per raw unit
	offX, offY float64
}

// Minimum span of a fitted view in degrees of latitude, so that one point,
// or points in one town, still show the country around them.
const minSpanDeg = 8

// The contiguous United States, where the conic projection serves.
var conus = struct{ min, max LonLat }{LonLat{-125, 24}, LonLat{-66.5, 49.5}}

// Around it, the shapes a conic view may show.
var conusNear = struct{ min, max LonLat }{LonLat{-140, 10}, LonLat{-50, 62}}

// Albers equal-area conic constants (unit sphere).
var albers = func() (c struct{ n, c, rho0, lon0 float64 }) {
	rad := math.Pi / 180
	phi1, phi2, phi0 := 29.5*rad, 45.5*rad, 23*rad
	c.n = (math.Sin(phi1) + math.Sin(phi2)) / 2
	c.c = math.Cos(phi1)*math.Cos(phi1) + 2*c.n*math.Sin(phi1)
	c.rho0 = math.Sqrt(c.c-2*c.n*math.Sin(phi0)) / c.n
	c.lon0 = -96
	return c
}()

// raw is the projection before fitting: x east, y north.
func (p Projection) raw(ll LonLat) (x, y float64) {
	if p.Conic {
		rad := math.Pi / 180
		rho := math.Sqrt(albers.c-2*albers.n*math.Sin(ll.Lat*rad)) / albers.n
		theta := albers.n * (ll.Lon - albers.lon0) * rad
		return rho * math.Sin(theta), albers.rho0 - rho*math.Cos(theta)
	}
	return ll.Lon * p.k, ll.Lat
}

// FitProjection fits the points into W by H pixels with a margin.
func FitProjection(pts []LonLat, w, h float64) Projection {
	minLon, minLat, maxLon, maxLat := 180.0, 90.0, -180.0, -90.0
	for _, p := range pts {
		minLon, maxLon = min(minLon, p.Lon), max(maxLon, p.Lon)
		minLat, maxLat = min(minLat, p.Lat), max(maxLat, p.Lat)
	}
	if len(pts) == 0 {
		minLon, minLat, maxLon, maxLat = -180, -60, 180, 80
	}
	pr := Projection{W: w, H: h, unitKm: 111.32}
	if len(pts) > 0 && minLon >= conus.min.Lon && maxLon <= conus.max.Lon && minLat >= conus.min.Lat && maxLat <= conus.max.Lat {
		pr.Conic, pr.unitKm = true, 6371
	} else {
		pr.k = max(math.Cos((minLat+maxLat)/2*math.Pi/180), 0.3)
	}
	// The box in raw units, with a margin and a minimum size.
	x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	grow := func(ll LonLat) {
		x, y := pr.raw(ll)
		x0, x1, y0, y1 = min(x0, x), max(x1, x), min(y0, y), max(y1, y)
	}
	if len(pts) == 0 {
		grow(LonLat{minLon, minLat})
		grow(LonLat{maxLon, maxLat})
	}
	for _, p := range pts {
		grow(p)
	}
	mx, my := (x1-x0)*0.15, (y1-y0)*0.15
	x0, x1, y0, y1 = x0-mx, x1+mx, y0-my, y1+my
	minSpan := minSpanDeg * 111.32 / pr.unitKm
	if d := minSpan - (y1 - y0); d > 0 {
		y0, y1 = y0-d/2, y1+d/2
	}
	if d := minSpan*w/h - (x1 - x0); d > 0 {
		x0, x1 = x0-d/2, x1+d/2
	}
	pr.scale = min(w/(x1-x0), h/(y1-y0))
	cx, cy := (x0+x1)/2, (y0+y1)/2
	pr.offX, pr.offY = w/2-cx*pr.scale, h/2+cy*pr.scale
	return pr
}

// Point projects a place to pixels.
func (p Projection) Point(ll LonLat) (x, y float64) {
	rx, ry := p.raw(ll)
	return rx*p.scale + p.offX, -ry*p.scale + p.offY
}

// pixelsPerKm is the scale north-south at the middle of the view.
func (p Projection) pixelsPerKm() float64 { return p.scale / p.unitKm }

// MarkKind is what a point on a map stands for; each has its own shape, so
// the map reads without colour.
type MarkKind int

const (
	MarkHome     MarkKind = iota // a claimed home: a circle
	MarkShipping                 // the shipping address: a square
	MarkObserved                 // where a laptop is observed (IP location): a triangle
	MarkPeer                     // a remote-access peer: a cross
)

// LinkKind is what a line on a map stands for.
type LinkKind int

const (
	LinkClaimToObserved LinkKind = iota // claimed home to the observed place: dashed
	LinkToPeer                          // laptop to a remote-access peer: dotted
)

// MapPlace is one marked point.
type MapPlace struct {
	Kind       MarkKind
	At         LonLat
	Label      string
	Short      string  // written beside the marker; the Label when empty
	AccuracyKm float64 // observed places: the radius of the IP location's accuracy
}

// MapLink is one line between two points.
type MapLink struct {
	Kind     LinkKind
	From, To LonLat
	Label    string
}

// Map is what a page draws: places and lines, projected and drawn as
// inline SVG by the "map" template.
type Map struct {
	Caption string
	Places  []MapPlace
	Links   []MapLink
}

// Map dimensions in pixels.
const mapW, mapH = 960, 540

type svgMark struct {
	Kind             string
	D, Fill, Stroke  string
	Title, Label     string
	LabelX, LabelY   string
	Anchor           string // text-anchor of the label: start, or end near the right edge
	CircleR          string // accuracy circle, when there is one
	CircleX, CircleY string
	StrokeWidth      string
}

type svgLine struct {
	X1, Y1, X2, Y2 string
	Dash, Title    string
}

type legendEntry struct {
	D, Fill, Stroke, Dash string
	Line                  bool
	Text                  string
}

// mapView is a Map ready for the template: every number formatted, every
// string still raw (the template escapes it).
type mapView struct {
	W, H         int
	ID           string // of the title element: unique in the page
	Caption      string
	Land, States []string
	Lines        []svgLine
	Marks        []svgMark
	Legend       []legendEntry
	Attribution  bool
	// Offline maps (the case report) name db-ip.com in plain text rather
	// than link to it: the page references nothing outside itself.
	Offline bool
}

var markStyle = map[MarkKind]struct{ name, fill, stroke, legend string }{
	MarkHome:     {"home", "#1f5fbf", "#000", "claimed home (circle)"},
	MarkShipping: {"shipping", "#7a4fbf", "#000", "shipping address (square)"},
	MarkObserved: {"observed", "#c0392b", "#000", "observed place, from the IP address (triangle; shaded ring: accuracy)"},
	MarkPeer:     {"peer", "none", "#000", "remote-access peer (cross)"},
}

var linkStyle = map[LinkKind]struct{ dash, legend string }{
	LinkClaimToObserved: {"8 5", "claimed home to observed place (dashed line)"},
	LinkToPeer:          {"2 4", "laptop to remote-access peer (dotted line)"},
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

// markPath is the outline of a marker of a kind centred on x, y.
func markPath(kind MarkKind, x, y float64) string {
	const r = 7
	switch kind {
	case MarkShipping:
		return fmt.Sprintf("M%s %sh%dv%dh-%dz", num(x-r+1), num(y-r+1), 2*r-2, 2*r-2, 2*r-2)
	case MarkObserved:
		return fmt.Sprintf("M%s %sL%s %sL%s %sz", num(x), num(y-r-1), num(x+r), num(y+r-2), num(x-r), num(y+r-2))
	case MarkPeer:
		return fmt.Sprintf("M%s %sL%s %sM%s %sL%s %s", num(x-r+1), num(y-r+1), num(x+r-1), num(y+r-1), num(x-r+1), num(y+r-1), num(x+r-1), num(y-r+1))
	}
	return fmt.Sprintf("M%s %sa%d %d 0 1 0 %d 0a%d %d 0 1 0 -%d 0", num(x-r+1), num(y), r-1, r-1, 2*r-2, r-1, r-1, 2*r-2)
}

// view projects m; nil when it has no place to draw.
func (m *Map) view() (*mapView, error) {
	if m == nil || len(m.Places) == 0 {
		return nil, nil
	}
	a, err := loadAtlas()
	if err != nil {
		return nil, err
	}
	var pts []LonLat
	for _, p := range m.Places {
		pts = append(pts, p.At)
		if p.AccuracyKm > 0 {
			// The accuracy ring fits too, up to a size that does not shrink the rest to a dot.
			d := min(p.AccuracyKm, 300) / 111.32
			pts = append(pts, LonLat{p.At.Lon, p.At.Lat + d}, LonLat{p.At.Lon, p.At.Lat - d})
		}
	}
	pr := FitProjection(pts, mapW, mapH)
	v := &mapView{W: mapW, H: mapH, ID: "map-title", Caption: m.Caption}
	v.Land = shapePaths(pr, a.countries)
	v.States = shapePaths(pr, a.states)
	seenLink := map[LinkKind]bool{}
	for _, l := range m.Links {
		x1, y1 := pr.Point(l.From)
		x2, y2 := pr.Point(l.To)
		v.Lines = append(v.Lines, svgLine{X1: num(x1), Y1: num(y1), X2: num(x2), Y2: num(y2), Dash: linkStyle[l.Kind].dash, Title: l.Label})
		seenLink[l.Kind] = true
	}
	seenMark := map[MarkKind]bool{}
	// Observed places under the claimed ones, peers on top.
	places := append([]MapPlace(nil), m.Places...)
	order := map[MarkKind]int{MarkObserved: 0, MarkShipping: 1, MarkHome: 2, MarkPeer: 3}
	sort.SliceStable(places, func(i, j int) bool { return order[places[i].Kind] < order[places[j].Kind] })
	for _, p := range places {
		x, y := pr.Point(p.At)
		st := markStyle[p.Kind]
		mk := svgMark{Kind: st.name, D: markPath(p.Kind, x, y), Fill: st.fill, Stroke: st.stroke, StrokeWidth: "1.5",
			Title: p.Label, Label: shortLabel(cmp.Or(p.Short, p.Label)), LabelX: num(x + 10), LabelY: num(y + 4), Anchor: "start"}
		if x > 0.6*mapW {
			mk.LabelX, mk.Anchor = num(x-10), "end"
		}
		if p.Kind == MarkPeer {
			mk.StrokeWidth = "3"
		}
		if p.AccuracyKm > 0 {
			mk.CircleX, mk.CircleY, mk.CircleR = num(x), num(y), num(max(p.AccuracyKm*pr.pixelsPerKm(), 2))
			v.Attribution = true
		}
		if p.Kind == MarkObserved || p.Kind == MarkPeer {
			v.Attribution = true
		}
		v.Marks = append(v.Marks, mk)
		seenMark[p.Kind] = true
	}
	for _, k := range []MarkKind{MarkHome, MarkShipping, MarkObserved, MarkPeer} {
		if seenMark[k] {
			st := markStyle[k]
			v.Legend = append(v.Legend, legendEntry{D: markPath(k, 10, 10), Fill: st.fill, Stroke: st.stroke, Text: st.legend})
		}
	}
	for _, k := range []LinkKind{LinkClaimToObserved, LinkToPeer} {
		if seenLink[k] {
			v.Legend = append(v.Legend, legendEntry{Line: true, Dash: linkStyle[k].dash, Text: linkStyle[k].legend})
		}
	}
	return v, nil
}

// shortLabel is the text written beside a marker: the label up to its
// first " (" and at most 40 characters; the full label is the title.
func shortLabel(s string) string {
	if i := strings.Index(s, " ("); i > 0 {
		s = s[:i]
	}
	if r := []rune(s); len(r) > 40 {
		s = string(r[:39]) + "…"
	}
	return s
}

// mayShow tells whether a box of places may fall in the view: its corners
// and edge middles, projected, span a box that meets the view (a conic
// bends the edges, so the middles count too).
func (p Projection) mayShow(lo, hi LonLat) bool {
	// The conic wraps the far side of the globe around the view (Antarctica
	// would enclose it): only North America's shapes are drawn on it.
	if p.Conic && (hi.Lon < conusNear.min.Lon || lo.Lon > conusNear.max.Lon || hi.Lat < conusNear.min.Lat || lo.Lat > conusNear.max.Lat) {
		return false
	}
	x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	midLon, midLat := (lo.Lon+hi.Lon)/2, (lo.Lat+hi.Lat)/2
	for _, ll := range []LonLat{lo, hi, {lo.Lon, hi.Lat}, {hi.Lon, lo.Lat}, {midLon, lo.Lat}, {midLon, hi.Lat}, {lo.Lon, midLat}, {hi.Lon, midLat}} {
		x, y := p.Point(ll)
		x0, x1, y0, y1 = min(x0, x), max(x1, x), min(y0, y), max(y1, y)
	}
	return x1 >= 0 && x0 <= p.W && y1 >= 0 && y0 <= p.H
}

// shapePaths is the SVG path data of the shapes that fall in the view.
func shapePaths(pr Projection, shapes []atlasShape) []string {
	var out []string
	var b strings.Builder
	for _, s := range shapes {
		if !pr.mayShow(s.min, s.max) {
			continue
		}
		b.Reset()
		for _, ring := range s.rings {
			last, split := "", false
			for i, pt := range ring {
				x, y := pr.Point(pt)
				// Whole pixels: the outlines need no more, and a page stays small.
				xy := strconv.Itoa(int(math.Round(x))) + " " + strconv.Itoa(int(math.Round(y)))
				if xy == last {
					continue
				}
				// A ring that crosses the antimeridian (Russia, Fiji) jumps across the
				// map: lift the pen rather than draw a line around the world.
				if i == 0 || math.Abs(pt.Lon-ring[i-1].Lon) > 180 {
					split = split || i > 0
					b.WriteString("M")
				} else {
					b.WriteString("L")
				}
				b.WriteString(xy)
				last = xy
			}
			if !split {
				b.WriteString("z")
			}
		}
		out = append(out, b.String())
	}
	return out
}

// located tells whether an IP location has coordinates worth drawing.
func located(l *pb.IPLocation) bool {
	return l.GetGeolocatable() && (l.GetLatitude() != 0 || l.GetLongitude() != 0)
}

func placeName(l *pb.IPLocation) string {
	var parts []string
	for _, s := range []string{l.GetCity(), l.GetRegion(), l.GetCountry()} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%.2f, %.2f", l.GetLatitude(), l.GetLongitude())
	}
	return strings.Join(parts, ", ")
}

func claimed(h *pb.ClaimedHome) bool {
	return h != nil && (h.GetLatitude() != 0 || h.GetLongitude() != 0)
}

// hireMap draws a hire's claimed home and shipping place, and for the
// devices given the places their recent reports were observed at (with a
// line from the claimed home) and their remote-access peers in another
// country (with a line from the laptop).
func hireMap(caption string, h *pb.Hire, devices []*pb.DeviceDetail) *Map {
	m := &Map{Caption: caption}
	var home *LonLat
	homeCountry := ""
	if hm := h.GetHome(); claimed(hm) {
		home = &LonLat{hm.GetLongitude(), hm.GetLatitude()}
		homeCountry = hm.GetCountry()
		m.Places = append(m.Places, MapPlace{Kind: MarkHome, At: *home, Label: "claimed home of " + h.GetName() + " (" + hm.GetPlace() + ")", Short: "claimed home"})
	}
	if sh := h.GetShipping(); claimed(sh) {
		ll := LonLat{sh.GetLongitude(), sh.GetLatitude()}
		if home != nil && distanceKm(*home, ll) < 1 {
			// One marker for one place: the home's label says it is the shipping address too.
			m.Places[0].Label = "claimed home and shipping address of " + h.GetName() + " (" + h.GetHome().GetPlace() + ")"
			m.Places[0].Short = "claimed home and shipping"
		} else {
			m.Places = append(m.Places, MapPlace{Kind: MarkShipping, At: ll, Label: "shipping address (" + sh.GetPlace() + ")", Short: "shipping address"})
		}
	}
	type key struct{ lon, lat float64 }
	round := func(ll LonLat) key { return key{math.Round(ll.Lon * 100), math.Round(ll.Lat * 100)} }
	observed := map[key]int{} // index in m.Places
	peers := map[string]bool{}
	for _, d := range devices {
		host := d.GetDevice().GetHostname()
		for _, r := range d.GetRecentReports() {
			loc := r.GetLocation()
			var at *LonLat
			if located(loc) {
				ll := LonLat{loc.GetLongitude(), loc.GetLatitude()}
				at = &ll
				k := round(ll)
				if i, ok := observed[k]; ok {
					m.Places[i].AccuracyKm = max(m.Places[i].AccuracyKm, loc.GetAccuracyKm())
				} else {
					observed[k] = len(m.Places)
					label := placeName(loc) + " (" + host + " from " + r.GetPublicIp()
					if loc.GetAnonymizer() != "" {
						label += ", " + loc.GetAnonymizer()
					}
					m.Places = append(m.Places, MapPlace{Kind: MarkObserved, At: ll, Label: label + ")", AccuracyKm: loc.GetAccuracyKm()})
					if home != nil {
						m.Links = append(m.Links, MapLink{Kind: LinkClaimToObserved, From: *home, To: ll,
							Label: fmt.Sprintf("claimed home to %s: %.0f km", placeName(loc), distanceKm(*home, ll))})
					}
				}
			}
			country := homeCountry
			if country == "" {
				country = loc.GetCountry()
			}
			for _, p := range r.GetPeers() {
				pl := p.GetLocation()
				if !located(pl) || (country != "" && pl.GetCountry() == country) || peers[p.GetIp()] {
					continue
				}
				peers[p.GetIp()] = true
				ll := LonLat{pl.GetLongitude(), pl.GetLatitude()}
				label := p.GetToolId() + " peer " + p.GetIp() + " (" + placeName(pl) + ")"
				m.Places = append(m.Places, MapPlace{Kind: MarkPeer, At: ll, Label: label, Short: p.GetToolId() + " peer, " + pl.GetCountry()})
				from := at
				if from == nil {
					from = home
				}
				if from != nil {
					m.Links = append(m.Links, MapLink{Kind: LinkToPeer, From: *from, To: ll, Label: host + " to " + label})
				}
			}
		}
	}
	return m
}

// farmMap draws every member's claimed home of a cluster with a line to
// the one place the cluster is observed at. homes maps a hire id to the
// hire, for the coordinates of the claimed homes.
func farmMap(caption string, cl *pb.Cluster, homes map[string]*pb.Hire) *Map {
	m := &Map{Caption: caption}
	var obs *LonLat
	if cl.GetObservedLatitude() != 0 || cl.GetObservedLongitude() != 0 {
		obs = &LonLat{cl.GetObservedLongitude(), cl.GetObservedLatitude()}
		m.Places = append(m.Places, MapPlace{Kind: MarkObserved, At: *obs, Label: "observed: " + cl.GetObservedPlace()})
	}
	seen := map[string]bool{}
	for _, mem := range cl.GetMembers() {
		h := homes[mem.GetHireId()]
		if h == nil || !claimed(h.GetHome()) || seen[mem.GetHireId()] {
			continue
		}
		seen[mem.GetHireId()] = true
		ll := LonLat{h.GetHome().GetLongitude(), h.GetHome().GetLatitude()}
		label := h.GetName() + " (claims " + h.GetHome().GetPlace() + ")"
		m.Places = append(m.Places, MapPlace{Kind: MarkHome, At: ll, Label: label})
		if obs != nil {
			m.Links = append(m.Links, MapLink{Kind: LinkClaimToObserved, From: ll, To: *obs,
				Label: fmt.Sprintf("%s: claimed home %.0f km from the observed place", h.GetName(), distanceKm(ll, *obs))})
		}
	}
	return m
}

// distanceKm is the great-circle distance (haversine, mean Earth radius).
func distanceKm(a, b LonLat) float64 {
	const r = 6371.0
	rad := math.Pi / 180
	dLat, dLon := (b.Lat-a.Lat)*rad, (b.Lon-a.Lon)*rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(h)))
}
