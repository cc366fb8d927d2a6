package applicants

import (
	"strings"
	"sync"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
	"unicode"

	"github.com/farmwatch/farmwatch/collector/hires"
	"github.com/farmwatch/farmwatch/geo"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// placeCache remembers the gazetteer's answers: an import names the same
// cities again and again, and a lookup costs tens of microseconds. Bounded:
// a million-row import must not grow it without end.
var placeCache = struct {
	sync.Mutex
	m map[[2]string]placeAnswer
}{m: map[[2]string]placeAnswer{}}

type placeAnswer struct {
	place geo.Place
	ok    bool
}

const placeCacheMax = 20000

// placeAddress finds the city of a free-form address with the gazetteer,
// the way a hire's shipping address is placed: a country-less address is
// tried in country ("US" when empty), then its last two parts alone
// ("Calle Mayor 1, Madrid, Spain").
func placeAddress(addr, country string) (geo.Place, bool) {
	if country == "" {
		country = "US"
	}
	// The answer depends on the last three parts only (street and unit are
	// not read), so two flats of one city share an entry.
	tail := addr
	if parts := strings.Split(addr, ","); len(parts) > 3 {
		tail = strings.Join(parts[len(parts)-3:], ",")
	}
	key := [2]string{tail, country}
	placeCache.Lock()
	a, hit := placeCache.m[key]
	placeCache.Unlock()
	if hit {
		return a.place, a.ok
	}
	p, ok := hires.ShippingPlace(addr, country)
	if !ok {
		if parts := strings.Split(addr, ","); len(parts) >= 2 {
			tail := strings.TrimSpace(parts[len(parts)-2]) + ", " + strings.TrimSpace(parts[len(parts)-1])
			p, ok = geo.FindPlace(tail)
		}
	}
	placeCache.Lock()
	if len(placeCache.m) >= placeCacheMax {
		clear(placeCache.m)
	}
	placeCache.m[key] = placeAnswer{p, ok}
	placeCache.Unlock()
	return p, ok
}

func claimedHome(p geo.Place) *pb.ClaimedHome {
	return &pb.ClaimedHome{Place: p.String(), Country: p.Country, Latitude: p.Latitude,
		Longitude: p.Longitude, TimeZone: p.TimeZone}
}

// Spellings of one thing in a postal address, folded to one.
var addressWords = map[string]string{
	"street": "st", "str": "st", "avenue": "ave", "av": "ave", "road": "rd", "boulevard": "blvd",
	"drive": "dr", "lane": "ln", "court": "ct", "place": "pl", "highway": "hwy", "parkway": "pkwy",
	"circle": "cir", "terrace": "ter", "square": "sq", "trail": "trl", "way": "way", "freeway": "fwy",
	"expressway": "expy", "crescent": "cres", "mount": "mt", "fort": "ft", "saint": "st",
	"north": "n", "south": "s", "east": "e", "west": "w",
	"northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw",
}

// Words that introduce a flat, suite or unit: all read as one marker, so
// "Apt 4B", "Apartment 4B", "#4B" and "Unit 4B" are one flat and "Apt 4B"
// and "Apt 5B" are two.
var unitWords = map[string]bool{"apt": true, "apartment": true, "unit": true, "suite": true, "ste": true,
	"flat": true, "no": true, "number": true, "room": true, "rm": true, "#": true}

// US states' names, read as their postal codes.
var usStates = map[string]string{
	"alabama": "al", "alaska": "ak", "arizona": "az", "arkansas": "ar", "california": "ca", "colorado": "co",
	"connecticut": "ct", "delaware": "de", "district of columbia": "dc", "florida": "fl", "georgia": "ga",
	"hawaii": "hi", "idaho": "id", "illinois": "il", "indiana": "in", "iowa": "ia", "kansas": "ks",
	"kentucky": "ky", "louisiana": "la", "maine": "me", "maryland": "md", "massachusetts": "ma",
	"michigan": "mi", "minnesota": "mn", "mississippi": "ms", "missouri": "mo", "montana": "mt",
	"nebraska": "ne", "nevada": "nv", "new hampshire": "nh", "new jersey": "nj", "new mexico": "nm",
	"new york": "ny", "north carolina": "nc", "north dakota": "nd", "ohio": "oh", "oklahoma": "ok",
	"oregon": "or", "pennsylvania": "pa", "rhode island": "ri", "south carolina": "sc",
	"south dakota": "sd", "tennessee": "tn", "texas": "tx", "utah": "ut", "vermont": "vt",
	"virginia": "va", "washington": "wa", "west virginia": "wv", "wisconsin": "wi", "wyoming": "wy",
}

// A trailing country that only restates the United States.
var usNames = []string{"united states of america", "united states", "usa", "us", "u s a", "u s"}

// stripMarks is made per call: a Transformer keeps state and is not safe for
// concurrent use, and the collector normalises rows on every core.
func stripMarks() transform.Transformer {
	return transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
}

// AddressKey folds an address for comparison: case, accents, punctuation,
// spacing, street-type and direction spellings ("Street"/"St."), unit
// spellings ("Apartment"/"Apt"/"#"), US state names, a trailing "USA" and
// ZIP+4 (to ZIP) do not matter; the unit does. Two spellings of one flat get
// one key, two flats of one building two keys.
func AddressKey(addr string) string {
	s := addr
	for _, r := range s {
		if r >= 0x80 {
			s, _, _ = transform.String(stripMarks(), s)
			break
		}
	}
	s = strings.ToLower(s)
	// Each comma-separated part is folded on its own, so a state's name is
	// only read where a whole part (or a part's head before a ZIP) names it.
	var parts []string
	for _, part := range strings.Split(s, ",") {
		words := addressTokens(part)
		if len(words) > 0 {
			parts = append(parts, strings.Join(words, " "))
		}
	}
	// A trailing country restating the US goes: most US addresses omit it.
	if n := len(parts); n > 1 {
		for _, u := range usNames {
			if parts[n-1] == u {
				parts = parts[:n-1]
				break
			}
		}
	}
	var words, unit []string
	for _, p := range parts {
		ws := strings.Fields(p)
		// "texas 78704" and "new york" name states; read them as codes.
		for k := len(ws); k >= 1; k-- {
			if code, ok := usStates[strings.Join(ws[:k], " ")]; ok && (k == len(ws) || isZip(ws[k])) && len(parts) > 1 {
				ws = append([]string{code}, ws[k:]...)
				break
			}
		}
		for i := 0; i < len(ws); i++ {
			w := ws[i]
			if unitWords[w] && i+1 < len(ws) {
				unit = append(unit, ws[i+1])
				i++
				continue
			}
			if strings.HasPrefix(w, "#") && len(w) > 1 {
				unit = append(unit, w[1:])
				continue
			}
			if a, ok := addressWords[w]; ok && i > 0 {
				w = a
			}
			words = append(words, w)
		}
	}
	if len(unit) > 0 {
		words = append(words, "#"+strings.Join(unit, "-"))
	}
	return strings.Join(words, " ")
}

// addressTokens splits one part of an address into words: punctuation other
// than '#' and a ZIP+4's '-' is a space.
func addressTokens(part string) []string {
	var b strings.Builder
	rs := []rune(part)
	for i, r := range rs {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		case r == '#':
			b.WriteString(" #")
		case r == '-' && i > 0 && i+1 < len(rs) && unicode.IsDigit(rs[i-1]) && unicode.IsDigit(rs[i+1]):
			b.WriteRune(r)
		case r == '\'' || r == '’' || r == '.':
			// "St." and "O'Brien": dropped, not split.
		default:
			b.WriteByte(' ')
		}
	}
	ws := strings.Fields(b.String())
	for i, w := range ws {
		// ZIP+4 to ZIP: the four digits are a delivery route, not a place.
		if len(w) == 10 && w[5] == '-' && isZip(w[:5]) && isDigits(w[6:]) {
			ws[i] = w[:5]
		}
	}
	// "# 4B" as well as "#4B".
	for i := 0; i+1 < len(ws); i++ {
		if ws[i] == "#" {
			ws[i] = "#" + ws[i+1]
			ws = append(ws[:i+1], ws[i+2:]...)
		}
	}
	return ws
}

func isZip(s string) bool { return len(s) == 5 && isDigits(s) }

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
