package analysis

import (
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestIPZoneMismatch(t *testing.T) {
	// The claimed home is Austin (America/Chicago, UTC-6 at t0).
	ipIn := func(where city, laptopZone string) func(*Input) {
		return func(i *Input) {
			i.Report.Location = &pb.IPLocation{Country: where.country, City: where.name, Latitude: where.lat, Longitude: where.lon,
				TimeZone: where.zone, AccuracyKm: 20, Geolocatable: true}
			i.Report.Report.Locale = &pb.Locale{TimeZone: laptopZone}
		}
	}
	fires(t, "clock on Austin time, network in Phoenix", ipZoneMismatch, in(ipIn(phoenix, "America/Chicago")), true)
	fires(t, "clock on Austin time, network in Dallas (same offset)", ipZoneMismatch, in(ipIn(dallas, "America/Chicago")), false)
	fires(t, "clock on Phoenix time in Phoenix (tz_mismatch's case)", ipZoneMismatch, in(ipIn(phoenix, "America/Phoenix")), false)
	fires(t, "clock by offset only", ipZoneMismatch, in(func(i *Input) {
		ipIn(seattle, "")(i)
		i.Report.Report.Locale.UtcOffsetSeconds = -6 * 3600
	}), true)
	fires(t, "company egress", ipZoneMismatch, in(func(i *Input) {
		ipIn(phoenix, "America/Chicago")(i)
		c, _ := ParseConfig([]byte("allow:\n  egress_cidrs: [70.112.1.0/24]\n"))
		i.Config = &c
	}), false)
	fires(t, "IP zone unknown", ipZoneMismatch, in(ipIn(city{"?", "US", "", 33, -112}, "America/Chicago")), false)
}
