package server

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/farmwatch/farmwatch/collector/analysis"
	"github.com/farmwatch/farmwatch/geo"
)

// GeoRules are the rules that cannot fire without the geo databases: they compare countries, distances or
// time zones of the address a report came from, or place remote-access peers.
var GeoRules = []string{
	analysis.RuleCountryMismatch, analysis.RuleFarFromClaimed, analysis.RuleImpossibleTravel,
	analysis.RuleIPZoneMismatch, analysis.RuleHighRiskPeer, analysis.RuleRTTMismatch, analysis.RuleFarmFar,
}

// DefaultGeoCheckInterval is how often the collector looks for replaced geo databases.
const DefaultGeoCheckInterval = time.Minute

// geoStaleEvery is how often the age warning repeats while the data stays old.
const geoStaleEvery = 24 * time.Hour

// logGeoAtStart names the databases in use, warns when they are old, and warns loudly when there are
// none, naming the rules that are then silent.
func (s *Server) logGeoAtStart() {
	if s.geo == nil {
		s.log.Warn("NO GEO DATABASES: the collector runs without --geoip-city/--geoip-asn, so these rules cannot fire; build the databases with `make geodata` or point the flags at MaxMind files",
			"rules_that_cannot_fire", GeoRules)
		return
	}
	for _, d := range s.geo.Databases() {
		s.log.Info("geo database", "role", d.Role, "path", d.Path, "type", d.Type,
			"built", d.Built.Format(time.DateOnly), "attribution", d.Attribution)
	}
	s.warnStaleGeo()
}

// warnStaleGeo warns about every database older than geo.MaxAge on the collector's clock.
func (s *Server) warnStaleGeo() {
	now := s.cfg.Now()
	for _, d := range s.geo.Databases() {
		if d.Stale(now) {
			s.log.Warn("geo database is older than 45 days: places, distances and time zones drift as networks move; refresh it (docs/DEPLOY.md, Geo data)",
				"role", d.Role, "path", d.Path, "built", d.Built.Format(time.DateOnly), "age_days", int(d.Age(now).Hours()/24))
		}
	}
}

// ReloadGeo reopens the geo databases at their paths (SIGHUP, or a replaced file). Lookups continue
// meanwhile; on error the databases in use stay.
func (s *Server) ReloadGeo() error {
	if s.geo == nil {
		return errors.New("no geo databases: the collector was started without --geoip-city/--geoip-asn")
	}
	if err := s.geo.Reload(); err != nil {
		s.log.Error("reload geo databases: keeping the ones in use", "err", err)
		return err
	}
	for _, d := range s.geo.Databases() {
		s.log.Info("geo database reloaded", "role", d.Role, "path", d.Path, "type", d.Type,
			"built", d.Built.Format(time.DateOnly))
	}
	s.warnStaleGeo()
	return nil
}

// geoLoop reloads databases replaced on disk and repeats the age warning daily, until Stop. started is
// the clock's time when New logged the databases, read there rather than here so that the loop reads
// the clock only at its ticks.
func (s *Server) geoLoop(stop <-chan struct{}, started time.Time) {
	t := time.NewTicker(s.cfg.GeoCheckInterval)
	defer t.Stop()
	lastAgeCheck := started
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if s.geo.Changed() {
			if s.ReloadGeo() == nil {
				lastAgeCheck = s.cfg.Now()
			}
			continue
		}
		if s.cfg.Now().Sub(lastAgeCheck) >= geoStaleEvery {
			lastAgeCheck = s.cfg.Now()
			s.warnStaleGeo()
		}
	}
}

// GeoAttributionHeader is the response header that carries the credit line of the geo databases with
// every answer that shows places, so the CLI can print it as their licences ask.
const GeoAttributionHeader = "farmwatch-geo-attribution"

// setGeoAttribution sends the databases' credit line with a response that shows places.
func (s *Server) setGeoAttribution(ctx context.Context) {
	if s.geo == nil {
		return
	}
	if a := s.geo.Attribution(); a != "" {
		grpc.SetHeader(ctx, metadata.Pairs(GeoAttributionHeader, a)) // fails only outside a call
	}
}

// Geo is the collector's geo resolver, nil without databases.
func (s *Server) Geo() *geo.Resolver { return s.geo }
