package geo

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Place is a claimed home: a gazetteer city, or bare coordinates.
type Place struct {
	Name       string  `json:"name"`
	Region     string  `json:"region,omitempty"`      // first-level subdivision name, "Texas"
	RegionCode string  `json:"region_code,omitempty"` // "TX", "ON"; GeoNames' admin1 code where ISO 3166-2 has none here
	Country    string  `json:"country,omitempty"`     // ISO 3166-1 alpha-2
	Latitude   float64 `json:"latitude"`
	Longitude  float64 `json:"longitude"`
	TimeZone   string  `json:"time_zone,omitempty"` // IANA
	Population int     `json:"population,omitempty"`
}

// String is the place as ParsePlace reads it back: "Austin, TX, US".
func (p Place) String() string {
	parts := []string{p.Name}
	if p.RegionCode != "" {
		parts = append(parts, p.RegionCode)
	}
	if p.Country != "" {
		parts = append(parts, p.Country)
	}
	return strings.Join(parts, ", ")
}

// PlaceError explains why text is not one place, with the places it could have meant.
type PlaceError struct {
	Input      string
	Problem    string  // "ambiguous", "unknown country", ...
	Hint       string  // what to type instead
	Candidates []Place // most populous first
	More       int     // candidates left out of Candidates
}

func (e *PlaceError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "place %q: %s", e.Input, e.Problem)
	if e.Hint != "" {
		fmt.Fprintf(&b, "; %s", e.Hint)
	}
	if len(e.Candidates) > 0 {
		b.WriteString("; candidates: ")
		for i, c := range e.Candidates {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(describe(c))
		}
		if e.More > 0 {
			fmt.Fprintf(&b, "; and %d more", e.More)
		}
	}
	return b.String()
}

func describe(p Place) string {
	s := p.String()
	if p.Region != "" && p.Region != p.RegionCode {
		s += " (" + p.Region
		if p.Population > 0 {
			s += ", pop. " + strconv.Itoa(p.Population)
		}
		s += ")"
	} else if p.Population > 0 {
		s += " (pop. " + strconv.Itoa(p.Population) + ")"
	}
	return s
}

const maxCandidates = 8

// dominance is how many times more populous than the next the first match in a region must be to be
// chosen without asking: "Portland, OR, US" is the city, not the hamlet of the same name.
const dominance = 10

var coordsPattern = regexp.MustCompile(`^\s*([+-]?\d{1,3}(?:\.\d+)?)\s*[,\s]\s*([+-]?\d{1,3}(?:\.\d+)?)\s*$`)

// ParsePlace turns a claimed home into a Place: "CITY, REGION, COUNTRY" ("Austin, TX, US", "Toronto, ON,
// CA", "Austin, Texas, United States"), "CITY, COUNTRY", "CITY, REGION", or "LAT,LON" in degrees. Regions
// and countries may be codes or names; case and accents do not matter. Text that names several places or
// none is an error of type *PlaceError listing candidates.
func ParsePlace(s string) (Place, error) { return parsePlace(s, true) }

// FindPlace is ParsePlace for callers that only need the place, not why text
// names none: a miss skips the search for similar names, a scan of the whole
// gazetteer that costs milliseconds, which an import of many addresses
// cannot pay per row.
func FindPlace(s string) (Place, bool) {
	p, err := parsePlace(s, false)
	return p, err == nil
}

func parsePlace(s string, suggest bool) (Place, error) {
	if m := coordsPattern.FindStringSubmatch(s); m != nil {
		return coordinatePlace(s, m[1], m[2])
	}
	g, err := loadGazetteer()
	if err != nil {
		return Place{}, err
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	if len(parts) > 3 || parts[0] == "" {
		return Place{}, &PlaceError{Input: s, Problem: "not a place", Hint: `write "CITY, REGION, COUNTRY" (e.g. "Austin, TX, US") or "LAT,LON"`}
	}
	city := parts[0]
	var scopes []scope
	switch len(parts) {
	case 1:
		scopes = []scope{{}}
	case 2:
		// "Austin, TX" and "Toronto, Canada"; "Austin, CA" could be either and gets both.
		if code, ok := g.countries[fold(parts[1])]; ok {
			scopes = append(scopes, scope{country: code})
		}
		for _, r := range g.matchRegions(parts[1], "") {
			scopes = append(scopes, scope{country: r.country, region: r})
		}
		if len(scopes) == 0 {
			return Place{}, &PlaceError{Input: s, Problem: fmt.Sprintf("%q is neither a country nor a region", parts[1]),
				Hint: `write "CITY, REGION, COUNTRY"`}
		}
	case 3:
		code, ok := g.countries[fold(parts[2])]
		if !ok {
			return Place{}, &PlaceError{Input: s, Problem: fmt.Sprintf("unknown country %q", parts[2]),
				Hint: "use an ISO 3166-1 code such as US, CA or GB"}
		}
		regions := g.matchRegions(parts[1], code)
		if len(regions) == 0 {
			return Place{}, &PlaceError{Input: s, Problem: fmt.Sprintf("no region %q in %s", parts[1], code),
				Hint: "regions of " + code + ": " + regionList(g.regions[code])}
		}
		for _, r := range regions {
			scopes = append(scopes, scope{country: code, region: r})
		}
	}

	var matches []*gazCity
	for _, i := range g.byName[fold(city)] {
		c := &g.cities[i]
		for _, sc := range scopes {
			if sc.contains(c) {
				matches = append(matches, c)
				break
			}
		}
	}
	sort.SliceStable(matches, func(i, j int) bool { return matches[i].pop > matches[j].pop })
	switch {
	case len(matches) == 1:
		return g.place(matches[0]), nil
	case len(matches) > 1 && sameRegion(matches) && matches[0].pop >= dominance*max(1, matches[1].pop):
		return g.place(matches[0]), nil
	case len(matches) > 1:
		e := &PlaceError{Input: s, Problem: fmt.Sprintf("%d places match", len(matches)),
			Hint: fmt.Sprintf(`name the region and country, e.g. %q, or give "LAT,LON"`, g.place(matches[0]).String())}
		e.Candidates, e.More = g.candidates(matches)
		return Place{}, e
	}
	e := &PlaceError{Input: s, Problem: "no such place in the gazetteer (cities of about 1,000 people or more)",
		Hint: `check the spelling, try a nearby larger town, or give "LAT,LON"`}
	if suggest {
		e.Candidates, e.More = g.candidates(g.similar(fold(city), scopes))
	}
	return Place{}, e
}

type scope struct {
	country string     // "" for any
	region  *gazRegion // nil for any
}

func (sc scope) contains(c *gazCity) bool {
	return (sc.country == "" || c.country == sc.country) && (sc.region == nil || c.region == sc.region)
}

func sameRegion(cs []*gazCity) bool {
	for _, c := range cs[1:] {
		if c.region != cs[0].region || c.country != cs[0].country {
			return false
		}
	}
	return true
}

func (g *gazetteer) candidates(cs []*gazCity) ([]Place, int) {
	n := min(len(cs), maxCandidates)
	out := make([]Place, n)
	for i := range n {
		out[i] = g.place(cs[i])
	}
	return out, len(cs) - n
}

// similar finds places in scope whose folded name is within two edits of key, most populous first.
func (g *gazetteer) similar(key string, scopes []scope) []*gazCity {
	var out []*gazCity
	for name, idx := range g.byName {
		if abs(float64(len(name)-len(key))) > 2 || editDistance(name, key) > 2 {
			continue
		}
		for _, i := range idx {
			c := &g.cities[i]
			for _, sc := range scopes {
				if sc.contains(c) {
					out = append(out, c)
					break
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].pop != out[j].pop {
			return out[i].pop > out[j].pop
		}
		return out[i].name < out[j].name
	})
	return out
}

func regionList(rs []*gazRegion) string {
	codes := make([]string, 0, len(rs))
	for _, r := range rs {
		codes = append(codes, r.code())
	}
	sort.Strings(codes)
	return strings.Join(codes, " ")
}

// coordinatePlace is a home given as "lat,lon". The zone comes from the zone boundaries; region and
// country from the nearest gazetteer city when one is within 50 km.
func coordinatePlace(input, latText, lonText string) (Place, error) {
	lat, err1 := strconv.ParseFloat(latText, 64)
	lon, err2 := strconv.ParseFloat(lonText, 64)
	if err1 != nil || err2 != nil || math.Abs(lat) > 90 || math.Abs(lon) > 180 {
		return Place{}, &PlaceError{Input: input, Problem: "coordinates out of range",
			Hint: "latitude is -90..90 and longitude -180..180, in that order"}
	}
	p := Place{Name: strconv.FormatFloat(lat, 'f', -1, 64) + "," + strconv.FormatFloat(lon, 'f', -1, 64),
		Latitude: lat, Longitude: lon, TimeZone: ZoneAt(lat, lon)}
	if g, err := loadGazetteer(); err == nil {
		if c, d := g.nearest(lat, lon); c != nil && d <= 50 {
			near := g.place(c)
			p.Region, p.RegionCode, p.Country = near.Region, near.RegionCode, near.Country
		}
	}
	return p, nil
}
