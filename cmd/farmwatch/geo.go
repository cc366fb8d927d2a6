package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/farmwatch/farmwatch/collector/server"
	"github.com/farmwatch/farmwatch/geo"
)

// Where `make geodata` links the newest databases; MaxMind's files from geoipupdate work the same.
const (
	defaultGeoIPCity = "data/geo/dbip-city-lite.mmdb"
	defaultGeoIPASN  = "data/geo/dbip-asn-lite.mmdb"
)

func newGeoCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "geo",
		Short: "Place IP addresses and claimed homes as farmwatch's rules see them",
	}
	cmd.AddCommand(newGeoLookupCmd(), newGeoPlaceCmd(), newGeoStatusCmd())
	return cmd
}

// geoLookupResult is `geo lookup --output json`: the locations and the credit line their data asks for.
type geoLookupResult struct {
	Locations   []geo.Location `json:"locations"`
	Attribution string         `json:"attribution,omitempty"`
}

func newGeoStatusCmd() *cobra.Command {
	var cityPath, asnPath, output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each geo database's type, build date, age and credit line, and warn when it is older than 45 days",
		Example: `  farmwatch geo status
  farmwatch geo status --geoip-city /var/lib/GeoIP/GeoLite2-City.mmdb --geoip-asn /var/lib/GeoIP/GeoLite2-ASN.mmdb`,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if err := geoCheckFile("--geoip-city", cityPath, "City"); err != nil {
				return err
			}
			if err := geoCheckFile("--geoip-asn", asnPath, "ASN"); err != nil {
				return err
			}
			r, err := geo.Open(cityPath, asnPath)
			if err != nil {
				return err
			}
			defer r.Close()
			return geoWriteStatus(cmd.OutOrStdout(), output, r.Databases(), time.Now())
		},
	}
	cmd.Flags().StringVar(&cityPath, "geoip-city", defaultGeoIPCity, `City database, any MaxMind-format file ("" to skip)`)
	cmd.Flags().StringVar(&asnPath, "geoip-asn", defaultGeoIPASN, `ASN database, any MaxMind-format file ("" to skip)`)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

type geoStatusEntry struct {
	geo.DatabaseInfo
	AgeDays int  `json:"age_days"`
	Stale   bool `json:"stale"`
}

func geoWriteStatus(w io.Writer, output string, dbs []geo.DatabaseInfo, now time.Time) error {
	entries := make([]geoStatusEntry, len(dbs))
	for i, d := range dbs {
		entries[i] = geoStatusEntry{DatabaseInfo: d, AgeDays: int(d.Age(now).Hours() / 24), Stale: d.Stale(now)}
	}
	if output == "json" {
		return geoWriteJSON(w, struct {
			Databases   []geoStatusEntry `json:"databases"`
			MaxAgeDays  int              `json:"max_age_days"`
			Attribution string           `json:"attribution,omitempty"`
		}{entries, int(geo.MaxAge.Hours() / 24), geo.JoinAttributions(dbs)})
	}
	tw := newTableFor(w, output, "ROLE", "PATH", "TYPE", "BUILT", "AGE").shrink("PATH", "TYPE")
	for _, e := range entries {
		row(tw, e.Role, e.Path, e.Type, e.Built.Format("2006-01-02"), fmt.Sprintf("%d days", e.AgeDays))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, e := range entries {
		if e.Stale {
			printf(w, "WARNING: the %s database %s is %d days old (more than %d): refresh it (docs/DEPLOY.md, \"Geo data\")\n",
				e.Role, e.Path, e.AgeDays, int(geo.MaxAge.Hours()/24))
		}
	}
	return geoWriteAttribution(w, geo.JoinAttributions(dbs))
}

// geoAttribution is the credit line the collector sent with places it showed.
func geoAttribution(header metadata.MD) string {
	if v := header.Get(server.GeoAttributionHeader); len(v) > 0 {
		return v[0]
	}
	return ""
}

// printJSONAttributed prints m as printJSON does, with the credit line of its places as a last field
// "attribution" when there is one.
func printJSONAttributed(w io.Writer, m proto.Message, attribution string) error {
	if attribution == "" {
		return printJSON(w, m)
	}
	var b bytes.Buffer
	if err := printJSON(&b, m); err != nil {
		return err
	}
	obj := bytes.TrimRight(b.Bytes(), "\n")
	if !bytes.HasSuffix(obj, []byte("}")) {
		return fmt.Errorf("JSON output is not an object: %.40s", obj)
	}
	attr, err := json.Marshal(attribution)
	if err != nil {
		return err
	}
	body := bytes.TrimSpace(obj[:len(obj)-1])
	sep := ","
	if bytes.Equal(body, []byte("{")) {
		sep = ""
	}
	_, err = fmt.Fprintf(w, "%s%s\n  \"attribution\": %s\n}\n", body, sep, attr)
	return err
}

// geoWriteAttribution is the footer every table of places ends with, as the data's licence asks.
func geoWriteAttribution(w io.Writer, attribution string) error {
	if attribution == "" {
		return nil
	}
	_, err := fmt.Fprintln(w, attribution)
	return err
}

func newGeoLookupCmd() *cobra.Command {
	var cityPath, asnPath, output string
	cmd := &cobra.Command{
		Use:   "lookup IP...",
		Short: "Geolocate IP addresses: place, accuracy, time zone, AS, and special-range or hosting/VPN flags",
		Example: `  farmwatch geo lookup 8.8.8.8 2001:4860:4860::8888 100.64.1.1
  farmwatch geo lookup --output json 175.45.176.1`,
		Args:         cobra.MinimumNArgs(1),
		SilenceUsage: true, // a missing database or an ambiguous place is not a usage mistake
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			ips := make([]netip.Addr, 0, len(args))
			for _, a := range args {
				ip, err := netip.ParseAddr(strings.Trim(a, "[]"))
				if err != nil {
					return fmt.Errorf("%q is not an IP address", a)
				}
				ips = append(ips, ip)
			}
			if err := geoCheckFile("--geoip-city", cityPath, "City"); err != nil {
				return err
			}
			if err := geoCheckFile("--geoip-asn", asnPath, "ASN"); err != nil {
				return err
			}
			r, err := geo.Open(cityPath, asnPath)
			if err != nil {
				return err
			}
			defer r.Close()
			locs := make([]geo.Location, len(ips))
			for i, ip := range ips {
				locs[i] = r.Lookup(ip)
			}
			if output == "json" {
				return geoWriteJSON(cmd.OutOrStdout(), geoLookupResult{Locations: locs, Attribution: r.Attribution()})
			}
			if err := geoWriteLocationTable(cmd.OutOrStdout(), output, locs, time.Now()); err != nil {
				return err
			}
			return geoWriteAttribution(cmd.OutOrStdout(), r.Attribution())
		},
	}
	cmd.Flags().StringVar(&cityPath, "geoip-city", defaultGeoIPCity, `City database, any MaxMind-format file: DB-IP's, make geodata's, GeoIP2/GeoLite2 ("" to skip)`)
	cmd.Flags().StringVar(&asnPath, "geoip-asn", defaultGeoIPASN, `ASN database, any MaxMind-format file ("" to skip)`)
	addOutputFlag(cmd, &output)
	return cmd
}

func newGeoPlaceCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "place TEXT",
		Short: `Resolve a claimed home ("CITY, REGION, COUNTRY" or "LAT,LON") to coordinates and a time zone`,
		Example: `  farmwatch geo place "Austin, TX, US"
  farmwatch geo place "Toronto, ON, CA" --output json
  farmwatch geo place 30.27,-97.74`,
		Args:         cobra.MinimumNArgs(1),
		SilenceUsage: true, // a missing database or an ambiguous place is not a usage mistake
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			p, err := geo.ParsePlace(strings.Join(args, " "))
			var pe *geo.PlaceError
			if errors.As(err, &pe) && len(pe.Candidates) > 0 && output != "json" {
				printf(cmd.ErrOrStderr(), "%s: %s; %s\n", pe.Input, pe.Problem, pe.Hint)
				geoWritePlaceTable(cmd.ErrOrStderr(), output, pe.Candidates, time.Now())
				if pe.More > 0 {
					printf(cmd.ErrOrStderr(), "... and %d more\n", pe.More)
				}
				return fmt.Errorf("place %q is not one known place", pe.Input)
			}
			if err != nil {
				return err
			}
			if output == "json" {
				return geoWriteJSON(cmd.OutOrStdout(), p)
			}
			return geoWritePlaceTable(cmd.OutOrStdout(), output, []geo.Place{p}, time.Now())
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

// geoCheckFile turns a missing database into advice rather than a bare "no such file".
func geoCheckFile(flag, path, kind string) error {
	if path == "" {
		return nil
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("geo %s database %s not found: run `make geodata` to build it, or point %s at a MaxMind GeoIP2/GeoLite2 %s file (kept fresh by geoipupdate); %s \"\" skips it",
			kind, path, flag, kind, flag)
	}
	return nil
}

func geoWriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func geoWriteLocationTable(w io.Writer, output string, locs []geo.Location, now time.Time) error {
	tw := newTableFor(w, output, "IP", "COUNTRY", "REGION", "CITY", "LAT,LON", "RADIUS", "TIME ZONE", "ASN", "ORGANISATION", "FLAGS").
		shrink("ORGANISATION", "REGION", "CITY", "TIME ZONE", "FLAGS")
	for _, l := range locs {
		coords, radius := "-", "-"
		if l.HasCoords {
			coords = fmt.Sprintf("%.4f,%.4f", l.Latitude, l.Longitude)
			radius = fmt.Sprintf("%.0f km", l.AccuracyKM)
			if l.AccuracyAssumed {
				radius = "~" + radius // the database gave none; this is farmwatch's assumption
			}
		}
		asn := "-"
		if l.ASN != 0 {
			asn = "AS" + strconv.FormatUint(uint64(l.ASN), 10)
		}
		row(tw, l.IP, orDash(l.Country), orDash(l.Region), orDash(l.City),
			coords, radius, geoZoneWithOffset(l.TimeZone, now), asn, orDash(l.ASOrg), geoLocationFlags(l))
	}
	return tw.Flush()
}

func geoLocationFlags(l geo.Location) string {
	var flags []string
	if l.Range != "" {
		flags = append(flags, l.Range)
	}
	if l.Anonymizer != "" {
		flags = append(flags, l.Anonymizer+" ("+l.Provider+")")
	}
	if !l.Geolocatable && l.Range == "" {
		flags = append(flags, "not-in-database")
	}
	return orDash(strings.Join(flags, ", "))
}

func geoWritePlaceTable(w io.Writer, output string, places []geo.Place, now time.Time) error {
	tw := newTableFor(w, output, "PLACE", "REGION", "COUNTRY", "LAT,LON", "TIME ZONE", "POPULATION").shrink("PLACE", "REGION", "COUNTRY")
	for _, p := range places {
		pop := "-"
		if p.Population > 0 {
			pop = strconv.Itoa(p.Population)
		}
		row(tw, p.String(), orDash(p.Region), orDash(geo.CountryName(p.Country)),
			fmt.Sprintf("%.4f,%.4f", p.Latitude, p.Longitude), geoZoneWithOffset(p.TimeZone, now), pop)
	}
	return tw.Flush()
}

// geoZoneWithOffset shows a zone with its offset now, which is what a reviewer compares.
func geoZoneWithOffset(zone string, now time.Time) string {
	if zone == "" {
		return "-"
	}
	if _, off, _, err := geo.OffsetDiffers(zone, "UTC", now); err == nil {
		sign := "+"
		if off < 0 {
			sign, off = "-", -off
		}
		return fmt.Sprintf("%s (UTC%s%02d:%02d)", zone, sign, off/3600, off%3600/60)
	}
	return zone
}
