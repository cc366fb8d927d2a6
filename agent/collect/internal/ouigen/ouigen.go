// Package ouigen builds the agent's IP-KVM MAC vendor list from a small
// curated list of organizations and blocks and the IEEE MAC address
// registries (MA-L 24-bit, MA-M 28-bit, MA-S 36-bit) as Debian's ieee-data
// package ships them. Only the blocks of the curated organizations are kept:
// the agent embeds the result, never the whole registry.
package ouigen

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Registry files of ieee-data, one per block length.
var registryFiles = []struct {
	file string
	kind string
	bits int
}{
	{"oui.csv", "MA-L", 24},
	{"mam.csv", "MA-M", 28},
	{"oui36.csv", "MA-S", 36},
}

// Assignment is one registry row.
type Assignment struct {
	Registry     string // MA-L, MA-M, MA-S
	Prefix       string // lowercase hex digits: 6, 7 or 9 of them
	Organization string
}

// Snapshot is the registry as read from one ieee-data directory.
type Snapshot struct {
	Assignments []Assignment
	Date        string // YYYY-MM-DD of the package's last registry update
}

// ReadRegistry reads oui.csv, mam.csv and oui36.csv from dir (ieee-data's
// /usr/share/ieee-data) and the date in its .lastupdate (Unix seconds).
func ReadRegistry(dir string) (*Snapshot, error) {
	s := &Snapshot{}
	for _, rf := range registryFiles {
		path := filepath.Join(dir, rf.file)
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("open registry %s: %w", path, err)
		}
		rows, err := parseRegistryCSV(f, rf.kind, rf.bits)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read registry %s: %w", path, err)
		}
		s.Assignments = append(s.Assignments, rows...)
	}
	b, err := os.ReadFile(filepath.Join(dir, ".lastupdate"))
	if err != nil {
		return nil, fmt.Errorf("registry date: %w", err)
	}
	secs, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("registry date %q: %w", strings.TrimSpace(string(b)), err)
	}
	s.Date = time.Unix(secs, 0).UTC().Format("2006-01-02")
	return s, nil
}

// parseRegistryCSV reads the IEEE CSV layout:
// Registry,Assignment,Organization Name,Organization Address.
func parseRegistryCSV(r io.Reader, kind string, bits int) ([]Assignment, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	var out []Assignment
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if line == 1 || len(rec) < 3 {
			continue // header
		}
		prefix := strings.ToLower(strings.TrimSpace(rec[1]))
		if rec[0] != kind || len(prefix) != bits/4 || !isHex(prefix) {
			continue
		}
		out = append(out, Assignment{Registry: kind, Prefix: prefix, Organization: strings.TrimSpace(rec[2])})
	}
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return s != ""
}

// Curated is the hand-kept input: which organizations' blocks are IP-KVM
// evidence, and single blocks the registry snapshot may not hold yet.
type Curated struct {
	About         string                `json:"about"`
	Version       string                `json:"version"`
	Organizations []CuratedOrganization `json:"organizations"`
	Blocks        []CuratedBlock        `json:"blocks"`
}

// CuratedOrganization pulls every block the organization holds.
type CuratedOrganization struct {
	Organization string `json:"organization"` // exactly as the registry spells it
	Vendor       string `json:"vendor"`
	Confidence   string `json:"confidence"`
	Reason       string `json:"reason"`
}

// CuratedBlock is one prefix named by a public source; when the registry
// holds it, its owner there must be Organization.
type CuratedBlock struct {
	Prefix       string `json:"prefix"` // "30:52:53" or "04:c9:8b:1"
	Organization string `json:"organization"`
	Vendor       string `json:"vendor"`
	Confidence   string `json:"confidence"`
	Reason       string `json:"reason"`
}

// List is the generated file the agent embeds.
type List struct {
	About    string   `json:"about"`
	Version  string   `json:"version"`
	Registry Registry `json:"registry"`
	Vendors  []Vendor `json:"vendors"`
}

// Registry records where and when the blocks were taken from.
type Registry struct {
	Source string `json:"source"`
	Date   string `json:"date"`
	Rerun  string `json:"rerun"`
}

// Vendor is one block of the list.
type Vendor struct {
	Prefix       string `json:"prefix"` // colon-separated hex, 6, 7 or 9 digits
	Bits         int    `json:"bits"`
	Registry     string `json:"registry,omitempty"` // MA-L, MA-M, MA-S; empty when the snapshot lacks it
	Organization string `json:"organization"`
	Vendor       string `json:"vendor"`
	Confidence   string `json:"confidence"`
	Source       string `json:"source"`
}

// SourceText names the registry files the list is generated from.
const SourceText = "IEEE Registration Authority MA-L, MA-M and MA-S public listings (oui.csv, mam.csv, oui36.csv of Debian's ieee-data package)"

// RerunText says how to regenerate the list.
const RerunText = "go generate ./agent/collect/ (needs ieee-data in /usr/share/ieee-data; kvm_vendors_curated.json is the input)"

// Generate builds the list: every block of each curated organization, then
// the curated blocks (checked against the registry when it holds them).
func Generate(c *Curated, s *Snapshot) (*List, error) {
	byPrefix := map[string]Assignment{}
	for _, a := range s.Assignments {
		byPrefix[a.Prefix] = a
	}
	out := &List{About: c.About, Version: c.Version,
		Registry: Registry{Source: SourceText, Date: s.Date, Rerun: RerunText}}
	seen := map[string]bool{}
	for _, o := range c.Organizations {
		if err := checkCurated(o.Organization, o.Vendor, o.Confidence, o.Reason); err != nil {
			return nil, err
		}
		n := 0
		for _, a := range s.Assignments {
			if a.Organization != o.Organization {
				continue
			}
			n++
			if seen[a.Prefix] {
				continue
			}
			seen[a.Prefix] = true
			out.Vendors = append(out.Vendors, Vendor{Prefix: colonize(a.Prefix), Bits: len(a.Prefix) * 4,
				Registry: a.Registry, Organization: a.Organization, Vendor: o.Vendor, Confidence: o.Confidence,
				Source: fmt.Sprintf("IEEE %s registry (%s): %s is assigned to %s. %s",
					a.Registry, s.Date, strings.ToUpper(colonize(a.Prefix)), a.Organization, o.Reason)})
		}
		if n == 0 {
			return nil, fmt.Errorf("organization %q holds no block in the registry of %s", o.Organization, s.Date)
		}
	}
	for _, b := range c.Blocks {
		if err := checkCurated(b.Organization, b.Vendor, b.Confidence, b.Reason); err != nil {
			return nil, err
		}
		hex := strings.ToLower(strings.ReplaceAll(b.Prefix, ":", ""))
		if !isHex(hex) || (len(hex) != 6 && len(hex) != 7 && len(hex) != 9) {
			return nil, fmt.Errorf("block %q: not a 24-, 28- or 36-bit prefix", b.Prefix)
		}
		if seen[hex] {
			// A newer registry may already have given it through its organization.
			if a, ok := byPrefix[hex]; ok && a.Organization == b.Organization {
				continue
			}
			return nil, fmt.Errorf("block %q: already listed", b.Prefix)
		}
		seen[hex] = true
		v := Vendor{Prefix: colonize(hex), Bits: len(hex) * 4, Organization: b.Organization,
			Vendor: b.Vendor, Confidence: b.Confidence}
		if a, ok := byPrefix[hex]; ok {
			if a.Organization != b.Organization {
				return nil, fmt.Errorf("block %q: the registry of %s assigns it to %q, the curated list says %q",
					b.Prefix, s.Date, a.Organization, b.Organization)
			}
			v.Registry = a.Registry
			v.Source = fmt.Sprintf("IEEE %s registry (%s): %s is assigned to %s. %s",
				a.Registry, s.Date, strings.ToUpper(v.Prefix), a.Organization, b.Reason)
		} else {
			v.Source = fmt.Sprintf("Not in the IEEE registry snapshot of %s; kept from the curated list. %s", s.Date, b.Reason)
		}
		out.Vendors = append(out.Vendors, v)
	}
	sort.Slice(out.Vendors, func(i, j int) bool { return out.Vendors[i].Prefix < out.Vendors[j].Prefix })
	return out, nil
}

func checkCurated(org, vendor, confidence, reason string) error {
	switch {
	case org == "" || vendor == "" || strings.TrimSpace(reason) == "":
		return fmt.Errorf("curated entry %q/%q: needs an organization, a vendor and a reason", org, vendor)
	case confidence != "low" && confidence != "medium" && confidence != "high":
		return fmt.Errorf("curated entry %q: confidence %q is not low, medium or high", org, confidence)
	}
	return nil
}

// colonize writes "04c98b1" as "04:c9:8b:1".
func colonize(hex string) string {
	var parts []string
	for len(hex) > 2 {
		parts = append(parts, hex[:2])
		hex = hex[2:]
	}
	return strings.Join(append(parts, hex), ":")
}

// Marshal renders the list as the committed file: indented, ending in a
// newline, so a rerun on the same registry gives the same bytes.
func Marshal(l *List) ([]byte, error) {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ParseCurated reads the curated input.
func ParseCurated(b []byte) (*Curated, error) {
	var c Curated
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("curated kvm vendor list: %w", err)
	}
	if c.Version == "" {
		return nil, errors.New("curated kvm vendor list: no version")
	}
	return &c, nil
}
