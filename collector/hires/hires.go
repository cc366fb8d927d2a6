// Package hires validates hire records and reads them from CSV. The CLI
// checks a whole file before it sends anything, and the collector checks
// again before it stores: either every hire of a file is stored or none is.
package hires

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/farmwatch/farmwatch/geo"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Resolve validates a hire record and resolves its claimed home with the
// gazetteer; the error names the field and says how to fix it.
func Resolve(h *pb.Hire) error {
	if !idPattern.MatchString(h.GetId()) {
		return fmt.Errorf("id %q: use 1-64 letters, digits, '.', '_' or '-'", h.GetId())
	}
	if strings.TrimSpace(h.GetName()) == "" {
		return errors.New("name: missing")
	}
	if strings.TrimSpace(h.GetClaimedHome()) == "" {
		return errors.New(`claimed_home: missing (e.g. "Austin, TX, US")`)
	}
	for _, f := range []struct{ name, v string }{{"name", h.GetName()}, {"email", h.GetEmail()},
		{"claimed_home", h.GetClaimedHome()}, {"shipping_address", h.GetShippingAddress()}, {"phone", h.GetPhone()}} {
		if len(f.v) > 512 {
			return fmt.Errorf("%s: %d bytes, limit 512", f.name, len(f.v))
		}
	}
	if len(h.GetInstitutions()) > 64 {
		return fmt.Errorf("institutions: %d, limit 64", len(h.GetInstitutions()))
	}
	if e := h.GetEmail(); e != "" && !strings.Contains(e, "@") {
		return fmt.Errorf("email %q: not an address", e)
	}
	if d := h.GetStartDate(); d != "" {
		if _, err := time.Parse("2006-01-02", d); err != nil {
			return fmt.Errorf("start_date %q: want YYYY-MM-DD", d)
		}
	}
	if d := h.GetEndDate(); d != "" {
		end, err := time.Parse("2006-01-02", d)
		if err != nil {
			return fmt.Errorf("end_date %q: want YYYY-MM-DD", d)
		}
		if start, err := time.Parse("2006-01-02", h.GetStartDate()); err == nil && end.Before(start) {
			return fmt.Errorf("end_date %s is before start_date %s", d, h.GetStartDate())
		}
	}
	place, err := geo.ParsePlace(h.GetClaimedHome())
	if err != nil {
		return fmt.Errorf("claimed_home: %w", err)
	}
	name := place.Name
	if place.Region != "" {
		name += ", " + place.Region
	}
	if place.Country != "" {
		name += ", " + place.Country
	}
	h.Home = &pb.ClaimedHome{Place: name, Country: place.Country, Latitude: place.Latitude,
		Longitude: place.Longitude, TimeZone: place.TimeZone}
	h.Shipping = nil
	if sp, ok := ShippingPlace(h.GetShippingAddress(), place.Country); ok {
		h.Shipping = &pb.ClaimedHome{Place: sp.String(), Country: sp.Country, Latitude: sp.Latitude,
			Longitude: sp.Longitude, TimeZone: sp.TimeZone}
	}
	return nil
}

var postalCode = regexp.MustCompile(`\b(\d{5}(-\d{4})?|[A-Z]\d[A-Z] ?\d[A-Z]\d)\b`)

// ShippingPlace finds the city of a free-form shipping address
// ("1 Main St, Apt 2, Austin, TX 78701") with the gazetteer, trying its last
// parts with and without the claimed home's country.
func ShippingPlace(addr, country string) (geo.Place, bool) {
	var parts []string
	for _, p := range strings.Split(addr, ",") {
		p = strings.TrimSpace(postalCode.ReplaceAllString(p, ""))
		if p != "" {
			parts = append(parts, p)
		}
	}
	var tries []string
	if n := len(parts); n >= 3 {
		tries = append(tries, strings.Join(parts[n-3:], ", "))
	}
	if n := len(parts); n >= 2 && country != "" {
		tries = append(tries, strings.Join(parts[n-2:], ", ")+", "+country)
	}
	for _, t := range tries {
		if p, err := geo.ParsePlace(t); err == nil {
			return p, true
		}
	}
	return geo.Place{}, false
}

// Columns are the CSV header, in any order; id, name and claimed_home are required.
var Columns = []string{"id", "name", "email", "claimed_home", "shipping_address", "phone", "institutions", "start_date", "end_date"}

// RowError is a problem with one line of a CSV file.
type RowError struct {
	Line int
	Err  error
}

func (e RowError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// MaxRows bounds one import.
const MaxRows = 100000

// ParseCSV reads and validates every row. It returns all row errors, not just
// the first, so a whole file can be fixed in one pass; a file with any error
// must not be imported.
func ParseCSV(r io.Reader) ([]*pb.Hire, []RowError) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, []RowError{{1, errors.New("empty file: want a header line " + strings.Join(Columns, ","))}}
		}
		return nil, []RowError{{1, err}}
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		known := false
		for _, c := range Columns {
			known = known || c == h
		}
		if !known {
			return nil, []RowError{{1, fmt.Errorf("unknown column %q; columns are %s", h, strings.Join(Columns, ","))}}
		}
		if _, dup := col[h]; dup {
			return nil, []RowError{{1, fmt.Errorf("column %q twice", h)}}
		}
		col[h] = i
	}
	for _, req := range []string{"id", "name", "claimed_home"} {
		if _, ok := col[req]; !ok {
			return nil, []RowError{{1, fmt.Errorf("missing column %q", req)}}
		}
	}
	var out []*pb.Hire
	var errs []RowError
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// FieldPos is only valid after a successful Read: the parse
			// error carries its own line.
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.StartLine
			}
			errs = append(errs, RowError{max(line, 1), err})
			if len(errs) > 100 {
				break
			}
			continue
		}
		line, _ := cr.FieldPos(0)
		if len(out)+len(errs) >= MaxRows {
			errs = append(errs, RowError{line, fmt.Errorf("more than %d rows; split the file", MaxRows)})
			break
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		if len(rec) != len(header) {
			errs = append(errs, RowError{line, fmt.Errorf("%d fields, header has %d", len(rec), len(header))})
			continue
		}
		h := &pb.Hire{Id: get("id"), Name: get("name"), Email: get("email"), ClaimedHome: get("claimed_home"),
			ShippingAddress: get("shipping_address"), Phone: get("phone"), StartDate: get("start_date"), EndDate: get("end_date")}
		for _, inst := range strings.Split(get("institutions"), ";") {
			if inst = strings.TrimSpace(inst); inst != "" {
				h.Institutions = append(h.Institutions, inst)
			}
		}
		if err := Resolve(h); err != nil {
			errs = append(errs, RowError{line, err})
			continue
		}
		if first, dup := seen[h.Id]; dup {
			errs = append(errs, RowError{line, fmt.Errorf("id %q already on line %d", h.Id, first)})
			continue
		}
		seen[h.Id] = line
		out = append(out, h)
	}
	if len(out) == 0 && len(errs) == 0 {
		errs = append(errs, RowError{1, errors.New("no hires after the header")})
	}
	return out, errs
}
