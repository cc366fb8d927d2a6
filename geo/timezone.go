package geo

import (
	"fmt"
	"log/slog"
	"sync"
	"time"
	_ "time/tzdata" // zone rules in the binary, so Windows and minimal hosts agree with Linux
)

// OffsetDiffers compares the UTC offsets of two IANA zones at one instant, so daylight saving is taken
// into account: America/Phoenix and America/Denver agree in January and differ in July. Offsets are in
// seconds east of UTC.
func OffsetDiffers(zoneA, zoneB string, at time.Time) (differs bool, offA, offB int, err error) {
	a, err := LoadZone(zoneA)
	if err != nil {
		return false, 0, 0, err
	}
	b, err := LoadZone(zoneB)
	if err != nil {
		return false, 0, 0, err
	}
	_, offA = at.In(a).Zone()
	_, offB = at.In(b).Zone()
	return offA != offB, offA, offB, nil
}

var zoneCache sync.Map // zone name -> *time.Location

// LoadZone is time.LoadLocation with a cache: LoadLocation reads and parses
// the zone file on every call, and the analysis and the simulator need two
// or three zones per report. Only zones that exist are kept, so the cache is
// bounded by the IANA database.
func LoadZone(name string) (*time.Location, error) {
	if name == "" {
		return nil, fmt.Errorf("time zone is empty")
	}
	if l, ok := zoneCache.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", name, err)
	}
	zoneCache.Store(name, l)
	return l, nil
}

// zoneFinder holds the zone boundaries; loading them takes a moment and some memory, so only callers
// that need a zone for bare coordinates pay for it.
var zoneFinder = sync.OnceValue(func() *zoneIndex {
	x, err := loadZoneIndex()
	if err != nil {
		slog.Error("load time zone boundaries", "err", err)
		return nil
	}
	return x
})

// ZoneAt returns the IANA time zone at a coordinate from the embedded zone boundaries, or "" when none
// is found. At sea it returns the nautical zone (Etc/GMT±N).
func ZoneAt(lat, lon float64) string {
	x := zoneFinder()
	if x == nil {
		return ""
	}
	return x.zoneAt(lat, lon)
}
