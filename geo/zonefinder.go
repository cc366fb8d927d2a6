package geo

import (
	"fmt"
	"math"

	tzfrellite "github.com/ringsaturn/tzf-rel-lite"
	"github.com/tidwall/geojson/geometry"
	"github.com/twpayne/go-polyline"
	"google.golang.org/protobuf/encoding/protowire"
)

// zoneIndex answers "which IANA zone is at this coordinate" from tzf-rel-lite's zone boundaries
// (timezone-boundary-builder with oceans, simplified). It reads the data the way tzf's DefaultFinder
// does and gives the same answers, without importing tzf: tzf's tile finder pulls in a geometry
// library that links a MongoDB driver into the collector. The answers are checked against tzf itself
// by the build-tools module (packaging/internal/zonecheck).
type zoneIndex struct {
	zones []zoneShape
	// tiles maps a web-mercator tile (zoom aggZoom..idxZoom) that lies inside one zone to that zone.
	tiles            map[tileKey]string
	aggZoom, idxZoom int
}

type zoneShape struct {
	name     string
	polys    []*geometry.Poly
	min, max geometry.Point
}

type tileKey struct{ x, y, z uint32 }

// loadZoneIndex decodes the embedded boundary polygons (CompressedTimezones, polyline-encoded rings)
// and the tile pre-index (PreindexTimezones) of tzf-rel-lite.
func loadZoneIndex() (*zoneIndex, error) {
	idx := &zoneIndex{tiles: map[tileKey]string{}}
	if err := idx.readPolygons(tzfrellite.LiteCompressData); err != nil {
		return nil, fmt.Errorf("zone boundaries: %w", err)
	}
	if err := idx.readTiles(tzfrellite.PreindexData); err != nil {
		return nil, fmt.Errorf("zone tile index: %w", err)
	}
	return idx, nil
}

// zoneAt is tzf's DefaultFinder.GetTimezoneName(lon, lat): the tile index, then the polygons, then the
// same two on a 3x3 grid 0.02° around the point (the simplified borders leave slivers uncovered).
func (x *zoneIndex) zoneAt(lat, lon float64) string {
	if z := x.tileZone(lat, lon); z != "" {
		return z
	}
	if z := x.polygonZone(lat, lon); z != "" {
		return z
	}
	for _, dx := range []float64{-0.02, 0, 0.02} {
		for _, dy := range []float64{-0.02, 0, 0.02} {
			if z := x.tileZone(lat+dy, lon+dx); z != "" {
				return z
			}
			if z := x.polygonZone(lat+dy, lon+dx); z != "" {
				return z
			}
		}
	}
	return ""
}

func (x *zoneIndex) tileZone(lat, lon float64) string {
	for z := x.aggZoom; z <= x.idxZoom; z++ {
		if name, ok := x.tiles[tileAt(lat, lon, uint32(z))]; ok {
			return name
		}
	}
	return ""
}

// polygonZone returns the first zone, in the data's order, whose polygons hold the point.
func (x *zoneIndex) polygonZone(lat, lon float64) string {
	p := geometry.Point{X: lon, Y: lat}
	for i := range x.zones {
		z := &x.zones[i]
		if p.X < z.min.X || p.X > z.max.X || p.Y < z.min.Y || p.Y > z.max.Y {
			continue // outside every polygon's rectangle, so outside every polygon
		}
		for _, poly := range z.polys {
			if poly.ContainsPoint(p) {
				return z.name
			}
		}
	}
	return ""
}

// tileAt is the web-mercator (slippy map) tile of a coordinate, as orb's maptile.At computes it,
// latitude clamped at ±85.0511°.
func tileAt(lat, lon float64, z uint32) tileKey {
	n := float64(uint32(1) << z)
	fx := (lon/360.0 + 0.5) * n
	var fy float64
	switch {
	case lat < -85.0511:
		fy = n - 1
	case lat > 85.0511:
		fy = 0
	default:
		siny := math.Sin(lat * math.Pi / 180.0)
		fy = (0.5 + 0.5*math.Log((1.0+siny)/(1.0-siny))/(-2*math.Pi)) * n
	}
	return tileKey{x: uint32(fx), y: uint32(fy), z: z}
}

// protoFields calls f for each field of one protobuf message; f returns how many bytes of the value
// it consumed (ConsumeFieldValue when it skips it).
func protoFields(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte) int) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		m := f(num, typ, b)
		if m < 0 {
			return protowire.ParseError(m)
		}
		b = b[m:]
	}
	return nil
}

// bytesField reads a length-delimited value for a protoFields callback; any other kind is skipped
// and comes back nil.
func bytesField(typ protowire.Type, b []byte) ([]byte, int) {
	if typ != protowire.BytesType {
		return nil, protowire.ConsumeFieldValue(0, typ, b)
	}
	return protowire.ConsumeBytes(b)
}

// compressMethodPolyline is tzf's CompressMethod COMPRESS_METHOD_POLYLINE.
const compressMethodPolyline = 1

// readPolygons decodes CompressedTimezones{method=1, timezones=2, version=3},
// CompressedTimezone{data=1, name=2} and CompressedPolygon{points=1, holes=2}.
func (x *zoneIndex) readPolygons(data []byte) error {
	method := uint64(0)
	var zones [][]byte
	err := protoFields(data, func(num protowire.Number, typ protowire.Type, b []byte) int {
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			method = v
			return n
		case num == 2:
			v, n := bytesField(typ, b)
			if v != nil {
				zones = append(zones, v)
			}
			return n
		}
		return protowire.ConsumeFieldValue(num, typ, b)
	})
	if err != nil {
		return err
	}
	if method != compressMethodPolyline {
		return fmt.Errorf("compression method %d, want polyline", method)
	}
	for _, zb := range zones {
		var z zoneShape
		var polys [][]byte
		err := protoFields(zb, func(num protowire.Number, typ protowire.Type, b []byte) int {
			v, n := bytesField(typ, b)
			switch {
			case num == 1 && v != nil:
				polys = append(polys, v)
			case num == 2 && v != nil:
				z.name = string(v)
			}
			return n
		})
		if err != nil {
			return err
		}
		for _, pbytes := range polys {
			var exterior []geometry.Point
			var holes [][]geometry.Point
			err := protoFields(pbytes, func(num protowire.Number, typ protowire.Type, b []byte) int {
				v, n := bytesField(typ, b)
				switch {
				case num == 1 && v != nil:
					exterior = ringPoints(v)
				case num == 2 && v != nil:
					// A hole is a CompressedPolygon of its own; only its ring counts.
					if err := protoFields(v, func(num protowire.Number, typ protowire.Type, b []byte) int {
						hv, hn := bytesField(typ, b)
						if num == 1 && hv != nil {
							holes = append(holes, ringPoints(hv))
						}
						return hn
					}); err != nil {
						return -1
					}
				}
				return n
			})
			if err != nil {
				return err
			}
			z.polys = append(z.polys, geometry.NewPoly(exterior, holes, &geometry.IndexOptions{Kind: geometry.RTree, MinPoints: 64}))
		}
		if z.name == "" || len(z.polys) == 0 {
			return fmt.Errorf("zone %q without name or polygons", z.name)
		}
		z.min, z.max = z.polys[0].Rect().Min, z.polys[0].Rect().Max
		for _, p := range z.polys[1:] {
			r := p.Rect()
			z.min.X, z.min.Y = min(z.min.X, r.Min.X), min(z.min.Y, r.Min.Y)
			z.max.X, z.max.Y = max(z.max.X, r.Max.X), max(z.max.Y, r.Max.Y)
		}
		x.zones = append(x.zones, z)
	}
	if len(x.zones) == 0 {
		return fmt.Errorf("no zones")
	}
	return nil
}

// ringPoints decodes a polyline-encoded ring of (lon, lat) pairs. The data's points are float32, as
// tzf stores them, so rounding goes through float32 to give tzf's coordinates exactly.
func ringPoints(b []byte) []geometry.Point {
	coords, _, _ := polyline.DecodeCoords(b)
	pts := make([]geometry.Point, len(coords))
	for i, c := range coords {
		pts[i] = geometry.Point{X: float64(float32(c[0])), Y: float64(float32(c[1]))}
	}
	return pts
}

// readTiles decodes PreindexTimezones{idx_zoom=1, agg_zoom=2, keys=3, version=4} and
// PreindexTimezone{name=1, x=2, y=3, z=4}. Where two zones share a tile the first listed wins, as in tzf.
func (x *zoneIndex) readTiles(data []byte) error {
	err := protoFields(data, func(num protowire.Number, typ protowire.Type, b []byte) int {
		switch {
		case (num == 1 || num == 2) && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if num == 1 {
				x.idxZoom = int(int32(v))
			} else {
				x.aggZoom = int(int32(v))
			}
			return n
		case num == 3 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return n
			}
			var name string
			var k tileKey
			if err := protoFields(v, func(num protowire.Number, typ protowire.Type, b []byte) int {
				if num == 1 && typ == protowire.BytesType {
					s, sn := protowire.ConsumeBytes(b)
					name = string(s)
					return sn
				}
				if typ != protowire.VarintType {
					return protowire.ConsumeFieldValue(num, typ, b)
				}
				u, un := protowire.ConsumeVarint(b)
				switch num {
				case 2:
					k.x = uint32(u)
				case 3:
					k.y = uint32(u)
				case 4:
					k.z = uint32(u)
				}
				return un
			}); err != nil {
				return -1
			}
			if _, seen := x.tiles[k]; !seen {
				x.tiles[k] = name
			}
			return n
		}
		return protowire.ConsumeFieldValue(num, typ, b)
	})
	if err != nil {
		return err
	}
	if len(x.tiles) == 0 || x.aggZoom > x.idxZoom {
		return fmt.Errorf("%d tiles, zooms %d..%d", len(x.tiles), x.aggZoom, x.idxZoom)
	}
	return nil
}
