// Package zonecheck holds a test only: that the collector's time-zone lookup (geo.ZoneAt, which reads
// tzf-rel-lite's boundaries itself) answers as tzf's DefaultFinder does on the same data. tzf links a
// MongoDB driver through its geometry dependency, so it is a dependency of this build-tools module and
// never of the product.
package zonecheck

import (
	"bufio"
	"compress/gzip"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/ringsaturn/tzf"

	"github.com/farmwatch/farmwatch/geo"
)

type point struct {
	name     string
	lat, lon float64
}

// borders are places where zones meet: a fine grid around each checks the polygon edges, the tile
// index's edges and the 0.02° fallback.
var borders = []point{
	{"Arizona / Navajo Nation", 36.15, -109.55},
	{"Indiana, Central / Eastern", 41.2, -86.8},
	{"El Paso / Ciudad Juárez", 31.75, -106.45},
	{"Lloydminster, Alberta / Saskatchewan", 53.28, -110.0},
	{"Tijuana / San Diego", 32.54, -117.03},
	{"Spain / Portugal", 41.95, -6.9},
	{"Kaliningrad / Lithuania", 55.08, 22.0},
	{"Xinjiang / Kyrgyzstan", 39.8, 74.3},
	{"India / Nepal", 26.6, 85.5},
	{"Singapore / Johor", 1.45, 103.78},
	{"Date line, Samoa / American Samoa", -14.0, -171.2},
	{"Lord Howe Island", -31.55, 159.08},
	{"Open sea off Lisbon", 38.7, -12.0},
}

func TestZoneAtMatchesTzf(t *testing.T) {
	f, err := tzf.NewDefaultFinder()
	if err != nil {
		t.Fatal(err)
	}
	var pts []point
	// The places the geo and sim tests name, and every city of the gazetteer that hires' homes resolve to.
	pts = append(pts, point{"Austin", 30.2672, -97.7431}, point{"Toronto", 43.6532, -79.3832},
		point{"Phoenix", 33.4484, -112.0740}, point{"Pyongyang", 39.0392, 125.7625}, point{"London", 51.5074, -0.1278},
		point{"Seattle", 47.61, -122.33}, point{"Boston", 42.36, -71.06}, point{"North Pole", 90, 0},
		point{"South Pole", -90, 0}, point{"Antimeridian", 0, 180}, point{"Antimeridian west", 0, -180})
	pts = append(pts, gazetteerCities(t)...)
	for _, b := range borders {
		for i := -10; i <= 10; i++ {
			for j := -10; j <= 10; j++ {
				pts = append(pts, point{b.name, b.lat + float64(i)*0.013, b.lon + float64(j)*0.013})
			}
		}
	}
	for lat := -89.5; lat < 90; lat += 1 {
		for lon := -179.5; lon < 180; lon += 1 {
			pts = append(pts, point{"grid", lat, lon})
		}
	}
	mismatches := 0
	for _, p := range pts {
		got, want := geo.ZoneAt(p.lat, p.lon), f.GetTimezoneName(p.lon, p.lat)
		if got != want {
			if mismatches++; mismatches <= 20 {
				t.Errorf("%s (%v, %v): ZoneAt = %q, tzf = %q", p.name, p.lat, p.lon, got, want)
			}
		}
	}
	if mismatches > 0 {
		t.Errorf("%d of %d points differ", mismatches, len(pts))
	}
	t.Logf("%d points compared", len(pts))
}

// gazetteerCities reads the city rows of geo/gazetteer.tsv.gz: C, name, country, region, lat×1e4,
// lon×1e4, population, zone index.
func gazetteerCities(t *testing.T) []point {
	t.Helper()
	fh, err := os.Open("../../../geo/gazetteer.tsv.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		t.Fatal(err)
	}
	var pts []point
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) < 6 || f[0] != "C" {
			continue
		}
		lat, err1 := strconv.Atoi(f[4])
		lon, err2 := strconv.Atoi(f[5])
		if err1 != nil || err2 != nil {
			t.Fatalf("gazetteer row %q", sc.Text())
		}
		pts = append(pts, point{f[1] + ", " + f[2], float64(lat) / 1e4, float64(lon) / 1e4})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(pts) < 1000 {
		t.Fatalf("gazetteer: only %d cities", len(pts))
	}
	return pts
}
