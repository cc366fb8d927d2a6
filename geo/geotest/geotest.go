// Package geotest writes small City and ASN databases in the GeoLite2 schemas, so that tests, the demo and
// the simulator can exercise geo.Resolver without MaxMind or DB-IP files. By default they are named and
// typed like the files `make geodata` writes; Options.Flavor MaxMind names them like MaxMind's.
package geotest

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Network is one prefix and what the databases say about it. Zero fields are left out of the record, so a
// Network with only Prefix and ASN appears in the ASN database alone.
type Network struct {
	Prefix      string // CIDR, IPv4 or IPv6
	Country     string // ISO 3166-1 alpha-2
	CountryName string
	Region      string // first subdivision name
	City        string
	Lat, Lon    float64 // written only when either is non-zero
	AccuracyKM  uint16
	TimeZone    string
	ASN         uint32
	Org         string
}

// File names written by WriteDatabases: the stable names `make geodata` links to its dated files.
const (
	CityFile = "dbip-city-lite.mmdb"
	ASNFile  = "dbip-asn-lite.mmdb"
)

// Flavor chooses whose naming the test databases carry.
type Flavor int

const (
	// DBIP names and types the files as `make geodata` does (geo.TypeDBIPCity, geo.TypeDBIPASN).
	DBIP Flavor = iota
	// MaxMind names and types them GeoLite2-City and GeoLite2-ASN, as geoipupdate does.
	MaxMind
)

// Options for Write. The zero value is DB-IP naming built now.
type Options struct {
	Flavor Flavor
	Built  time.Time // the build epoch in the metadata; zero means now
}

// WriteDatabases writes DB-IP-named City and ASN databases for nets into dir, built now, and returns their
// paths.
func WriteDatabases(dir string, nets []Network) (cityPath, asnPath string, err error) {
	return Write(dir, Options{}, nets)
}

// Write writes City and ASN databases in the GeoLite2 schemas for nets into dir and returns their paths.
// Both are IPv6 trees, so they answer IPv4 and IPv6 lookups, as MaxMind's files do. Each file is written
// beside its path and renamed over it, as geoipupdate does, so a Resolver reading the old one is safe.
func Write(dir string, o Options, nets []Network) (cityPath, asnPath string, err error) {
	cityType, asnType, cityFile, asnFile := geoTypeDBIPCity, geoTypeASN, CityFile, ASNFile
	if o.Flavor == MaxMind {
		cityType, asnType, cityFile, asnFile = "GeoLite2-City", "GeoLite2-ASN", "GeoLite2-City.mmdb", "GeoLite2-ASN.mmdb"
	}
	built := o.Built
	if built.IsZero() {
		built = time.Now()
	}
	city, err := newTree(cityType, built)
	if err != nil {
		return "", "", err
	}
	asn, err := newTree(asnType, built)
	if err != nil {
		return "", "", err
	}
	for _, n := range nets {
		p, err := netip.ParsePrefix(n.Prefix)
		if err != nil {
			return "", "", fmt.Errorf("geotest: network %q: %w", n.Prefix, err)
		}
		ipnet := &net.IPNet{IP: p.Masked().Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
		if rec := CityRecord(n); len(rec) > 0 {
			if err := city.Insert(ipnet, rec); err != nil {
				return "", "", fmt.Errorf("geotest: insert %s into city database: %w", n.Prefix, err)
			}
		}
		if n.ASN != 0 || n.Org != "" {
			if err := asn.Insert(ipnet, ASNRecord(n.ASN, n.Org)); err != nil {
				return "", "", fmt.Errorf("geotest: insert %s into ASN database: %w", n.Prefix, err)
			}
		}
	}
	cityPath = filepath.Join(dir, cityFile)
	asnPath = filepath.Join(dir, asnFile)
	if err := writeTree(city, cityPath); err != nil {
		return "", "", err
	}
	if err := writeTree(asn, asnPath); err != nil {
		return "", "", err
	}
	return cityPath, asnPath, nil
}

// The geo package's type names, repeated because geo's tests import this package.
const (
	geoTypeDBIPCity = "DBIP-City-Lite"
	geoTypeASN      = "DBIP-ASN-Lite (compat=GeoLite2-ASN)"
)

func newTree(dbType string, built time.Time) (*mmdbwriter.Tree, error) {
	t, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            dbType,
		BuildEpoch:              built.Unix(),
		Description:             map[string]string{"en": "farmwatch test database"},
		Languages:               []string{"en"},
		IncludeReservedNetworks: true, // tests may place data anywhere; geo flags special ranges before looking
		RecordSize:              28,
	})
	if err != nil {
		return nil, fmt.Errorf("geotest: new %s tree: %w", dbType, err)
	}
	return t, nil
}

func writeTree(t *mmdbwriter.Tree, path string) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("geotest: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := t.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("geotest: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("geotest: %w", err)
	}
	return os.Rename(f.Name(), path)
}

// CityRecord is n in the GeoLite2-City schema, with English names only. It is exported for the geodata
// builder, which writes the same shape from DB-IP records.
func CityRecord(n Network) mmdbtype.Map {
	rec := mmdbtype.Map{}
	if n.Country != "" || n.CountryName != "" {
		c := mmdbtype.Map{}
		if n.Country != "" {
			c["iso_code"] = mmdbtype.String(n.Country)
		}
		if n.CountryName != "" {
			c["names"] = mmdbtype.Map{"en": mmdbtype.String(n.CountryName)}
		}
		rec["country"] = c
		rec["registered_country"] = c
	}
	if n.Region != "" {
		rec["subdivisions"] = mmdbtype.Slice{mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(n.Region)}}}
	}
	if n.City != "" {
		rec["city"] = mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(n.City)}}
	}
	loc := mmdbtype.Map{}
	if n.Lat != 0 || n.Lon != 0 {
		loc["latitude"] = mmdbtype.Float64(n.Lat)
		loc["longitude"] = mmdbtype.Float64(n.Lon)
	}
	if n.AccuracyKM != 0 {
		loc["accuracy_radius"] = mmdbtype.Uint16(n.AccuracyKM)
	}
	if n.TimeZone != "" {
		loc["time_zone"] = mmdbtype.String(n.TimeZone)
	}
	if len(loc) > 0 {
		rec["location"] = loc
	}
	return rec
}

// ASNRecord is one record in the GeoLite2-ASN schema.
func ASNRecord(asn uint32, org string) mmdbtype.Map {
	rec := mmdbtype.Map{}
	if asn != 0 {
		rec["autonomous_system_number"] = mmdbtype.Uint32(asn)
	}
	if org != "" {
		rec["autonomous_system_organization"] = mmdbtype.String(org)
	}
	return rec
}
