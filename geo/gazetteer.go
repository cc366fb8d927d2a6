package geo

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// gazetteer.tsv.gz is written by `make gazetteer` (geo/internal/gazettegen) from GeoNames data (CC BY 4.0).
//
//go:embed gazetteer.tsv.gz
var gazetteerGZ []byte

type gazRegion struct {
	country, admin1, iso, name string
	folded                     string // fold(name), kept: matchRegions compares it for every region of the world
}

// code is what people write for the region: the ISO 3166-2 code where the gazetteer has one.
func (r *gazRegion) code() string {
	if r.iso != "" {
		return r.iso
	}
	return r.admin1
}

type gazCity struct {
	name     string
	region   *gazRegion // nil when GeoNames gives no first-level division
	country  string
	lat, lon float64
	pop      int
	zone     string
}

type gazetteer struct {
	cities    []gazCity
	byName    map[string][]int32 // folded name -> cities
	regions   map[string][]*gazRegion
	countries map[string]string // folded name or code -> ISO code
}

var loadGazetteer = sync.OnceValues(func() (*gazetteer, error) {
	g, err := parseGazetteer(gazetteerGZ)
	if err != nil {
		return nil, fmt.Errorf("embedded gazetteer: %w", err)
	}
	return g, nil
})

func parseGazetteer(data []byte) (*gazetteer, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	g := &gazetteer{byName: map[string][]int32{}, regions: map[string][]*gazRegion{}, countries: map[string]string{}}
	for code, name := range countryNames {
		g.countries[fold(code)] = code
		g.countries[fold(name)] = code
	}
	for alias, code := range countryAliases {
		g.countries[alias] = code
	}
	var zones []string
	regionByKey := map[string]*gazRegion{}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		f := strings.Split(sc.Text(), "\t")
		switch {
		case f[0] == "Z" && len(f) == 2:
			zones = append(zones, f[1])
		case f[0] == "R" && len(f) == 5:
			r := &gazRegion{country: f[1], admin1: f[2], iso: f[3], name: f[4], folded: fold(f[4])}
			regionByKey[r.country+"."+r.admin1] = r
			g.regions[r.country] = append(g.regions[r.country], r)
		case f[0] == "C" && len(f) == 8:
			lat, err1 := strconv.Atoi(f[4])
			lon, err2 := strconv.Atoi(f[5])
			pop, err3 := strconv.Atoi(f[6])
			zone, err4 := strconv.Atoi(f[7])
			if err1 != nil || err2 != nil || err3 != nil || err4 != nil || zone >= len(zones) {
				return nil, fmt.Errorf("line %d: bad city %q", line, sc.Text())
			}
			c := gazCity{name: f[1], country: f[2], region: regionByKey[f[2]+"."+f[3]],
				lat: float64(lat) / 1e4, lon: float64(lon) / 1e4, pop: pop, zone: zones[zone]}
			i := int32(len(g.cities))
			g.cities = append(g.cities, c)
			key := fold(c.name)
			g.byName[key] = append(g.byName[key], i)
			// "New York City" is also "New York"; "Mexico City" stays findable as "Mexico City".
			if short, ok := strings.CutSuffix(key, " city"); ok && short != "" && fold(CountryName(c.country)) != short {
				g.byName[short] = append(g.byName[short], i)
			}
		case strings.HasPrefix(f[0], "#"):
		default:
			return nil, fmt.Errorf("line %d: unknown record %q", line, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return g, nil
}

// countryAliases are names people use that CLDR's English names do not cover.
var countryAliases = map[string]string{
	"usa": "US", "united states of america": "US", "america": "US", "u s": "US", "u s a": "US",
	"uk": "GB", "great britain": "GB", "britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB",
	"northern ireland": "GB", "south korea": "KR", "korea": "KR", "north korea": "KP", "dprk": "KP",
	"russia": "RU", "czech republic": "CZ", "holland": "NL", "uae": "AE",
}

// fold makes names comparable: case, accents, punctuation and the usual abbreviations do not matter.
func fold(s string) string {
	if !isASCII(s) {
		s, _, _ = transform.String(transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC), s)
	}
	s = strings.ToLower(s)
	s = strings.Map(func(r rune) rune {
		switch r {
		case '.', '\'', '’':
			return -1
		case '-', '_', '/', '(', ')':
			return ' '
		}
		return r
	}, s)
	words := strings.Fields(s)
	if len(words) > 1 {
		switch words[0] {
		case "saint":
			words[0] = "st"
		case "sainte":
			words[0] = "ste"
		case "mount":
			words[0] = "mt"
		case "fort":
			words[0] = "ft"
		}
	}
	return strings.Join(words, " ")
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func (g *gazetteer) place(c *gazCity) Place {
	p := Place{Name: c.name, Country: c.country, Latitude: c.lat, Longitude: c.lon, TimeZone: c.zone, Population: c.pop}
	if c.region != nil {
		p.Region, p.RegionCode = c.region.name, c.region.code()
	}
	return p
}

// matchRegions returns the regions of country ("" for any) that text names by ISO code, GeoNames code or
// name.
func (g *gazetteer) matchRegions(text, country string) []*gazRegion {
	key := fold(text)
	var out []*gazRegion
	check := func(rs []*gazRegion) {
		for _, r := range rs {
			if strings.EqualFold(r.iso, text) || strings.EqualFold(r.admin1, text) || r.folded == key {
				out = append(out, r)
			}
		}
	}
	if country != "" {
		check(g.regions[country])
		return out
	}
	for _, rs := range g.regions {
		check(rs)
	}
	return out
}

// nearest returns the gazetteer city closest to a coordinate.
func (g *gazetteer) nearest(lat, lon float64) (*gazCity, float64) {
	var best *gazCity
	bestD := 0.0
	for i := range g.cities {
		c := &g.cities[i]
		if abs(c.lat-lat) > 2 {
			continue
		}
		if d := DistanceKM(lat, lon, c.lat, c.lon); best == nil || d < bestD {
			best, bestD = c, d
		}
	}
	return best, bestD
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// editDistance is Levenshtein's, on bytes, enough to suggest "Austin" for "Austn".
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
