// Package geo places the public IP addresses farmwatch sees: country, region, city, coordinates with their
// accuracy radius, IANA time zone, autonomous system, and whether the address is special (private, CGNAT,
// ...) or belongs to a cloud or VPN. It reads MaxMind-format (GeoIP2 schema) City and ASN databases, either
// MaxMind's own files or the ones `make geodata` builds from DB-IP Lite, turns claimed homes into
// coordinates with an embedded gazetteer, and holds the distance and time-zone arithmetic the rules need.
package geo

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/oschwald/geoip2-golang/v2"
)

// Accuracy radii assumed when a database gives coordinates without one. DB-IP Lite, which `make geodata`
// builds from, never gives one, and the builder writes none rather than invent one; Lookup then sets
// AccuracyAssumed so that outputs can say the radius is farmwatch's, not the database's.
const (
	// DefaultAccuracyKM is for a city-level position. It is wider than most of GeoLite2's radii for
	// fixed broadband: FarFromHome subtracts it, and a too-small radius turns a wrong city into a
	// false alarm about a real employee.
	DefaultAccuracyKM = 100
	// CountryAccuracyKM is for a position that is only a country's or region's centre.
	CountryAccuracyKM = 1000
)

// Location is what farmwatch knows about where one IP address is.
type Location struct {
	IP          netip.Addr `json:"ip"`
	Country     string     `json:"country,omitempty"` // ISO 3166-1 alpha-2, "" when unknown
	CountryName string     `json:"country_name,omitempty"`
	Region      string     `json:"region,omitempty"` // first subdivision name
	City        string     `json:"city,omitempty"`
	Latitude    float64    `json:"latitude"`
	Longitude   float64    `json:"longitude"`
	HasCoords   bool       `json:"has_coords"`
	AccuracyKM  float64    `json:"accuracy_km"` // accuracy radius
	// AccuracyAssumed is true when the database gave no radius and AccuracyKM is DefaultAccuracyKM or
	// CountryAccuracyKM by the record's granularity.
	AccuracyAssumed bool   `json:"accuracy_assumed,omitempty"`
	TimeZone        string `json:"time_zone,omitempty"` // IANA
	ASN             uint32 `json:"asn,omitempty"`
	ASOrg           string `json:"as_org,omitempty"`
	Range           string `json:"range,omitempty"`      // a Range* constant, "" for public addresses
	Geolocatable    bool   `json:"geolocatable"`         // false for special ranges and public IPs absent from the database
	Anonymizer      string `json:"anonymizer,omitempty"` // AnonymizerHosting or AnonymizerVPN when the network is listed
	Provider        string `json:"provider,omitempty"`   // provider name from the anonymizer data file
}

// Options configures OpenWithOptions.
type Options struct {
	CityPath string // GeoIP2/GeoLite2 City (or Enterprise) database; "" for none
	ASNPath  string // GeoLite2 ASN (or GeoIP2 ISP) database; "" for none
	// CacheSize is how many addresses the lookup cache holds: 0 means DefaultCacheSize, a negative
	// value turns the cache off.
	CacheSize int
}

// DefaultCacheSize holds a busy collector's working set of addresses in a few tens of MB.
const DefaultCacheSize = 1 << 16

// Resolver answers Lookup from a City and an ASN database, with a cache in front. It is safe for
// concurrent use, Reload included.
type Resolver struct {
	opts        Options
	anonymizers *anonymizerTable
	// mu is held shared by every lookup and exclusively by Reload and Close, so no lookup ever reads a
	// database whose mapping has been released.
	mu     sync.RWMutex
	dbs    *databases
	closed bool
}

// databases is one generation of open files, with the cache of answers drawn from them.
type databases struct {
	city, asn         *geoip2.Reader
	cityStat, asnStat os.FileInfo
	info              []DatabaseInfo
	cache             *lookupCache // nil when off
}

// Open opens the City and ASN databases. Either path may be "", and that half of each Location is then
// empty. A missing, unreadable or wrong-kind file is an error that names it.
func Open(cityPath, asnPath string) (*Resolver, error) {
	return OpenWithOptions(Options{CityPath: cityPath, ASNPath: asnPath})
}

// OpenWithOptions is Open with a choice of cache size.
func OpenWithOptions(o Options) (*Resolver, error) {
	d, err := openDatabases(o)
	if err != nil {
		return nil, err
	}
	return &Resolver{opts: o, anonymizers: defaultAnonymizers, dbs: d}, nil
}

func openDatabases(o Options) (*databases, error) {
	d := &databases{}
	var err error
	if o.CityPath != "" {
		if d.city, d.cityStat, err = openDatabase("city", o.CityPath, "City", "Enterprise"); err != nil {
			return nil, err
		}
		d.info = append(d.info, describeDatabase("city", o.CityPath, d.city))
	}
	if o.ASNPath != "" {
		if d.asn, d.asnStat, err = openDatabase("ASN", o.ASNPath, "ASN", "ISP"); err != nil {
			d.close()
			return nil, err
		}
		d.info = append(d.info, describeDatabase("asn", o.ASNPath, d.asn))
	}
	switch {
	case o.CacheSize == 0:
		d.cache = newLookupCache(DefaultCacheSize)
	case o.CacheSize > 0:
		d.cache = newLookupCache(o.CacheSize)
	}
	return d, nil
}

func (d *databases) close() error {
	var errs []error
	if d.city != nil {
		errs = append(errs, d.city.Close())
	}
	if d.asn != nil {
		errs = append(errs, d.asn.Close())
	}
	return errors.Join(errs...)
}

// openDatabase opens path and checks that its database type contains one of kinds, so that a City file
// passed as the ASN database fails here rather than answering every lookup with nothing. The FileInfo is
// taken before opening, so a file replaced meanwhile counts as changed at the next check.
func openDatabase(role, path string, kinds ...string) (*geoip2.Reader, os.FileInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open geo %s database %s: %w", role, path, err)
	}
	db, err := geoip2.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open geo %s database %s: %w", role, path, err)
	}
	dbType := db.Metadata().DatabaseType
	for _, k := range kinds {
		if strings.Contains(dbType, k) {
			return db, st, nil
		}
	}
	db.Close()
	return nil, nil, fmt.Errorf("open geo %s database %s: database type is %q, want a %s database", role, path, dbType, strings.Join(kinds, " or "))
}

// Reload reopens the databases at the paths given to Open, for a file replaced by `farmwatch geo update`,
// `make geodata` or geoipupdate. Lookups continue meanwhile; on error the databases in use stay.
func (r *Resolver) Reload() error {
	d, err := openDatabases(r.opts)
	if err != nil {
		return err
	}
	r.mu.Lock()
	old := r.dbs
	if r.closed {
		old = d // a reload that lost the race with Close keeps nothing open
	} else {
		r.dbs = d
	}
	r.mu.Unlock()
	return old.close()
}

// Changed tells whether a database file now differs from the one open: replaced (another inode), or
// rewritten with another size or time. A file that vanished is not a change to reload: the one open stays.
func (r *Resolver) Changed() bool {
	r.mu.RLock()
	d := r.dbs
	r.mu.RUnlock()
	return fileChanged(r.opts.CityPath, d.cityStat) || fileChanged(r.opts.ASNPath, d.asnStat)
}

func fileChanged(path string, was os.FileInfo) bool {
	if path == "" || was == nil {
		return false
	}
	now, err := os.Stat(path)
	if err != nil {
		return false
	}
	return !os.SameFile(now, was) || now.Size() != was.Size() || !now.ModTime().Equal(was.ModTime())
}

// Databases describes the open databases, City first.
func (r *Resolver) Databases() []DatabaseInfo {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.dbs.info)
}

// Attribution is the credit line the open databases' licences ask for wherever a location is shown,
// each distinct line once, joined by "; ". It is "" when no database needs one.
func (r *Resolver) Attribution() string {
	return JoinAttributions(r.Databases())
}

// Close releases the databases. Lookups after Close return unlocated results.
func (r *Resolver) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.dbs.close()
	r.dbs = &databases{}
	return err
}

// Lookup places ip. It never fails: special ranges are flagged without reading the databases, and an
// address the databases do not know comes back with Geolocatable false.
func (r *Resolver) Lookup(ip netip.Addr) Location {
	if rng := Classify(ip); rng != "" {
		return Location{IP: ip, Range: rng}
	}
	key, _ := publicForm(ip)
	key = key.WithZone("")
	r.mu.RLock()
	defer r.mu.RUnlock()
	d := r.dbs
	if d.cache != nil {
		if loc, ok := d.cache.get(key); ok {
			loc.IP = ip
			return loc
		}
	}
	loc := r.lookup(d, key)
	if d.cache != nil {
		d.cache.put(key, loc)
	}
	loc.IP = ip
	return loc
}

func (r *Resolver) lookup(d *databases, ip netip.Addr) Location {
	var loc Location
	if d.city != nil {
		rec, err := d.city.City(ip)
		if err != nil {
			slog.Debug("geo city lookup", "ip", ip, "database", r.opts.CityPath, "err", err)
		} else {
			fillCity(&loc, rec)
		}
	}
	if d.asn != nil {
		rec, err := d.asn.ASN(ip)
		if err != nil {
			slog.Debug("geo ASN lookup", "ip", ip, "database", r.opts.ASNPath, "err", err)
		} else {
			loc.ASN = uint32(rec.AutonomousSystemNumber)
			loc.ASOrg = rec.AutonomousSystemOrganization
		}
	}
	if a, ok := r.anonymizers.match(ip, loc.ASN); ok {
		loc.Anonymizer, loc.Provider = a.Kind, a.Provider
	}
	return loc
}

func fillCity(loc *Location, rec *geoip2.City) {
	loc.Country = rec.Country.ISOCode
	loc.CountryName = rec.Country.Names.English
	if loc.CountryName == "" {
		loc.CountryName = CountryName(loc.Country)
	}
	if len(rec.Subdivisions) > 0 {
		loc.Region = rec.Subdivisions[0].Names.English
	}
	loc.City = rec.City.Names.English
	if rec.Location.HasCoordinates() {
		loc.Latitude, loc.Longitude, loc.HasCoords = *rec.Location.Latitude, *rec.Location.Longitude, true
		loc.AccuracyKM = float64(rec.Location.AccuracyRadius)
		if loc.AccuracyKM == 0 {
			loc.AccuracyAssumed = true
			loc.AccuracyKM = DefaultAccuracyKM
			if loc.City == "" {
				loc.AccuracyKM = CountryAccuracyKM
			}
		}
	}
	loc.TimeZone = rec.Location.TimeZone
	if loc.TimeZone == "" && loc.HasCoords {
		loc.TimeZone = ZoneAt(loc.Latitude, loc.Longitude)
	}
	loc.Geolocatable = loc.Country != "" || loc.HasCoords
}
