package geo

import (
	"slices"
	"strings"
	"time"

	"github.com/oschwald/geoip2-golang/v2"
)

// Credit lines the databases' licences ask for wherever a location they gave is shown.
const (
	// AttributionDBIP is the wording DB-IP's CC BY 4.0 Lite licence asks for.
	AttributionDBIP = "IP Geolocation by DB-IP"
	// AttributionGeoLite2 is the wording MaxMind's GeoLite2 EULA asks for.
	AttributionGeoLite2 = "This product includes GeoLite2 data created by MaxMind, available from https://www.maxmind.com"
	// AttributionGeoIP2 credits MaxMind's commercial databases, whose licence asks for no wording.
	AttributionGeoIP2 = "IP geolocation by MaxMind GeoIP2"
)

// Database types of the files `make geodata` writes: the ones DB-IP gives its own Lite mmdb files, which
// MaxMind-format readers know. The ASN data is the ip-location-db project's merge of DB-IP's ASN Lite with
// RouteViews and NRO data; its metadata description says so.
const (
	TypeDBIPCity = "DBIP-City-Lite"
	TypeDBIPASN  = "DBIP-ASN-Lite (compat=GeoLite2-ASN)"
)

// MaxAge is how old a database may grow before farmwatch warns: DB-IP publishes monthly and MaxMind
// twice a week, so 45 days means at least one missed release.
const MaxAge = 45 * 24 * time.Hour

// DatabaseInfo describes one open database from its metadata.
type DatabaseInfo struct {
	Role        string    `json:"role"` // "city" or "asn"
	Path        string    `json:"path"`
	Type        string    `json:"database_type"`
	Built       time.Time `json:"built"` // the file's build epoch
	Attribution string    `json:"attribution,omitempty"`
}

// Age is how old the data is at now.
func (d DatabaseInfo) Age(now time.Time) time.Duration { return now.Sub(d.Built) }

// Stale tells whether the data is older than MaxAge at now.
func (d DatabaseInfo) Stale(now time.Time) bool { return d.Age(now) > MaxAge }

func describeDatabase(role, path string, db *geoip2.Reader) DatabaseInfo {
	m := db.Metadata()
	return DatabaseInfo{Role: role, Path: path, Type: m.DatabaseType, Built: time.Unix(int64(m.BuildEpoch), 0).UTC(),
		Attribution: AttributionFor(m.DatabaseType)}
}

// AttributionFor is the credit line for a database of type dbType: DB-IP's for DB-IP data (its own files
// and those `make geodata` builds), MaxMind's for GeoLite2 and GeoIP2, "" for a type it does not know.
func AttributionFor(dbType string) string {
	t := strings.ToLower(dbType)
	switch {
	case strings.HasPrefix(t, "dbip"):
		return AttributionDBIP
	case strings.HasPrefix(t, "geolite2"):
		return AttributionGeoLite2
	case strings.HasPrefix(t, "geoip2"):
		return AttributionGeoIP2
	}
	return ""
}

// JoinAttributions joins the distinct credit lines of dbs with "; ".
func JoinAttributions(dbs []DatabaseInfo) string {
	var lines []string
	for _, d := range dbs {
		if d.Attribution != "" && !slices.Contains(lines, d.Attribution) {
			lines = append(lines, d.Attribution)
		}
	}
	return strings.Join(lines, "; ")
}
