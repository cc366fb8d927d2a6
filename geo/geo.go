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
	"strings"
	"sync"

	"github.com/oschwald/geoip2-golang/v2"
)

// Accuracy radii used when a database gives coordinates without one. DB-IP Lite, which `make geodata`
// builds from, never gives one; these are the radii that builder writes.
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
	IP           netip.Addr `json:"ip"`
	Country      string     `json:"country,omitempty"` // ISO 3166-1 alpha-2, "" when unknown
	CountryName  string     `json:"country_name,omitempty"`
	Region       string     `json:"region,omitempty"` // first subdivision name
	City         string     `json:"city,omitempty"`
	Latitude     float64    `json:"latitude"`
	Longitude    float64    `json:"longitude"`
	HasCoords    bool       `json:"has_coords"`
	AccuracyKM   float64    `json:"accuracy_km"`         // accuracy radius
	TimeZone     string     `json:"time_zone,omitempty"` // IANA
	ASN          uint32     `json:"asn,omitempty"`
	ASOrg        string     `json:"as_org,omitempty"`
	Range        string     `json:"range,omitempty"`      // a Range* constant, "" for public addresses
	Geolocatable bool       `json:"geolocatable"`         // false for special ranges and public IPs absent from the database
	Anonymizer   string     `json:"anonymizer,omitempty"` // AnonymizerHosting or AnonymizerVPN when the network is listed
	Provider     string     `json:"provider,omitempty"`   // provider name from the anonymizer data file
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
// concurrent use.
type Resolver struct {
	city, asn         *geoip2.Reader
	cityPath, asnPath string
	cache             *lookupCache // nil when off
	anonymizers       *anonymizerTable
	closeOnce         sync.Once
}

// Open opens the City and ASN databases. Either path may be "", and that half of each Location is then
// empty. A missing, unreadable or wrong-kind file is an error that names it.
func Open(cityPath, asnPath string) (*Resolver, error) {
	return OpenWithOptions(Options{CityPath: cityPath, ASNPath: asnPath})
}

// OpenWithOptions is Open with a choice of cache size.
func OpenWithOptions(o Options) (*Resolver, error) {
	r := &Resolver{cityPath: o.CityPath, asnPath: o.ASNPath, anonymizers: defaultAnonymizers}
	var err error
	if o.CityPath != "" {
		if r.city, err = openDatabase("city", o.CityPath, "City", "Enterprise"); err != nil {
			return nil, err
		}
	}
	if o.ASNPath != "" {
		if r.asn, err = openDatabase("ASN", o.ASNPath, "ASN", "ISP"); err != nil {
			if r.city != nil {
				r.city.Close()
			}
			return nil, err
		}
	}
	switch {
	case o.CacheSize == 0:
		r.cache = newLookupCache(DefaultCacheSize)
	case o.CacheSize > 0:
		r.cache = newLookupCache(o.CacheSize)
	}
	return r, nil
}

// openDatabase opens path and checks that its database type contains one of kinds, so that a City file
// passed as the ASN database fails here rather than answering every lookup with nothing.
func openDatabase(role, path string, kinds ...string) (*geoip2.Reader, error) {
	db, err := geoip2.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open geo %s database %s: %w", role, path, err)
	}
	dbType := db.Metadata().DatabaseType
	for _, k := range kinds {
		if strings.Contains(dbType, k) {
			return db, nil
		}
	}
	db.Close()
	return nil, fmt.Errorf("open geo %s database %s: database type is %q, want a %s database", role, path, dbType, strings.Join(kinds, " or "))
}

// Close releases the databases. Lookups after Close return unlocated results.
func (r *Resolver) Close() error {
	var errs []error
	r.closeOnce.Do(func() {
		if r.city != nil {
			errs = append(errs, r.city.Close())
		}
		if r.asn != nil {
			errs = append(errs, r.asn.Close())
		}
	})
	return errors.Join(errs...)
}

// Lookup places ip. It never fails: special ranges are flagged without reading the databases, and an
// address the databases do not know comes back with Geolocatable false.
func (r *Resolver) Lookup(ip netip.Addr) Location {
	if rng := Classify(ip); rng != "" {
		return Location{IP: ip, Range: rng}
	}
	key, _ := publicForm(ip)
	key = key.WithZone("")
	if r.cache != nil {
		if loc, ok := r.cache.get(key); ok {
			loc.IP = ip
			return loc
		}
	}
	loc := r.lookup(key)
	if r.cache != nil {
		r.cache.put(key, loc)
	}
	loc.IP = ip
	return loc
}

func (r *Resolver) lookup(ip netip.Addr) Location {
	var loc Location
	if r.city != nil {
		rec, err := r.city.City(ip)
		if err != nil {
			slog.Debug("geo city lookup", "ip", ip, "database", r.cityPath, "err", err)
		} else {
			fillCity(&loc, rec)
		}
	}
	if r.asn != nil {
		rec, err := r.asn.ASN(ip)
		if err != nil {
			slog.Debug("geo ASN lookup", "ip", ip, "database", r.asnPath, "err", err)
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
