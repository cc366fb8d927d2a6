package console

import (
	"encoding/json"
	"fmt"
	"strings"
)

// LonLat is a point on the globe in degrees.
type LonLat struct{ Lon, Lat float64 }

// Feature is one named shape of a topology (a country, a state): its
// polygons, each a list of closed rings (the first the outline, the rest
// holes).
type Feature struct {
	ID, Name string
	Polygons [][][]LonLat
}

// topology is the TopoJSON format (github.com/topojson/topojson-specification):
// shared arcs, quantized and delta-encoded when a transform is given, and
// objects whose polygons name the arcs they are made of.
type topology struct {
	Type      string `json:"type"`
	Transform *struct {
		Scale     [2]float64 `json:"scale"`
		Translate [2]float64 `json:"translate"`
	} `json:"transform"`
	Objects map[string]struct {
		Type       string         `json:"type"`
		Geometries []topoGeometry `json:"geometries"`
	} `json:"objects"`
	Arcs [][][]float64 `json:"arcs"`
}

type topoGeometry struct {
	Type       string          `json:"type"`
	Arcs       json.RawMessage `json:"arcs"`
	ID         json.RawMessage `json:"id"`
	Properties struct {
		Name string `json:"name"`
	} `json:"properties"`
}

// DecodeTopoJSON returns the polygon features of the named object (a
// GeometryCollection) of a TopoJSON topology. Geometries other than
// Polygon and MultiPolygon (points, lines, empty ones) are skipped.
func DecodeTopoJSON(data []byte, object string) ([]Feature, error) {
	var t topology
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("topojson: %w", err)
	}
	if t.Type != "Topology" {
		return nil, fmt.Errorf("topojson: type %q, want Topology", t.Type)
	}
	obj, ok := t.Objects[object]
	if !ok {
		return nil, fmt.Errorf("topojson: no object %q", object)
	}
	arcs := make([][]LonLat, len(t.Arcs))
	for i, arc := range t.Arcs {
		pts := make([]LonLat, 0, len(arc))
		var x, y float64
		for j, p := range arc {
			if len(p) < 2 {
				return nil, fmt.Errorf("topojson: arc %d point %d has %d coordinates", i, j, len(p))
			}
			if t.Transform != nil {
				x, y = x+p[0], y+p[1] // delta-encoded
				pts = append(pts, LonLat{x*t.Transform.Scale[0] + t.Transform.Translate[0], y*t.Transform.Scale[1] + t.Transform.Translate[1]})
			} else {
				pts = append(pts, LonLat{p[0], p[1]})
			}
		}
		arcs[i] = pts
	}
	ring := func(refs []int) ([]LonLat, error) {
		var out []LonLat
		for k, ref := range refs {
			idx, reverse := ref, false
			if ref < 0 {
				idx, reverse = ^ref, true // ~i: arc i walked backwards
			}
			if idx >= len(arcs) {
				return nil, fmt.Errorf("arc %d of %d", idx, len(arcs))
			}
			a := arcs[idx]
			for n := range a {
				p := a[n]
				if reverse {
					p = a[len(a)-1-n]
				}
				if k > 0 && n == 0 {
					continue // the previous arc ended here
				}
				out = append(out, p)
			}
		}
		return out, nil
	}
	polygon := func(rings [][]int) ([][]LonLat, error) {
		var out [][]LonLat
		for _, r := range rings {
			pts, err := ring(r)
			if err != nil {
				return nil, err
			}
			if len(pts) >= 3 {
				out = append(out, pts)
			}
		}
		return out, nil
	}
	var features []Feature
	for i, g := range obj.Geometries {
		f := Feature{ID: strings.Trim(string(g.ID), `"`), Name: g.Properties.Name}
		var err error
		switch g.Type {
		case "Polygon":
			var rings [][]int
			if err = json.Unmarshal(g.Arcs, &rings); err == nil {
				var p [][]LonLat
				if p, err = polygon(rings); err == nil && len(p) > 0 {
					f.Polygons = append(f.Polygons, p)
				}
			}
		case "MultiPolygon":
			var polys [][][]int
			if err = json.Unmarshal(g.Arcs, &polys); err == nil {
				for _, rings := range polys {
					var p [][]LonLat
					if p, err = polygon(rings); err != nil {
						break
					}
					if len(p) > 0 {
						f.Polygons = append(f.Polygons, p)
					}
				}
			}
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("topojson: %s geometry %d (%s): %w", object, i, f.Name, err)
		}
		if len(f.Polygons) > 0 {
			features = append(features, f)
		}
	}
	return features, nil
}
