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
	"slices"
	"strings"
	"time"

	"github.com/farmwatch/farmwatch/geo"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// FieldError is one problem with one field of a hire record.
type FieldError struct {
	Field string
	Why   string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Why }

// Resolve validates a hire record and resolves its claimed home with the
// gazetteer; the error names every wrong field and says how to fix it.
func Resolve(h *pb.Hire) error {
	if errs := resolve(h, geo.ParsePlace); len(errs) > 0 {
		joined := make([]error, len(errs))
		for i, e := range errs {
			joined[i] = e
		}
		return errors.Join(joined...)
	}
	return nil
}

// Resolver resolves many hires, remembering the gazetteer's answers: an
// import names the same cities again and again. Not safe for concurrent use.
type Resolver struct{ places placeCache }

// Resolve is the package's Resolve, with the remembered answers.
func (r *Resolver) Resolve(h *pb.Hire) error {
	if r.places == nil {
		r.places = placeCache{}
	}
	if errs := resolve(h, r.places.parse); len(errs) > 0 {
		joined := make([]error, len(errs))
		for i, e := range errs {
			joined[i] = e
		}
		return errors.Join(joined...)
	}
	return nil
}

// resolve is Resolve with each problem apart, so an import can report every
// wrong field of every row.
func resolve(h *pb.Hire, parsePlace func(string) (geo.Place, error)) []FieldError {
	var errs []FieldError
	bad := func(field, format string, args ...any) {
		errs = append(errs, FieldError{field, fmt.Sprintf(format, args...)})
	}
	if !idPattern.MatchString(h.GetId()) {
		bad("id", "%q: use 1-64 letters, digits, '.', '_' or '-'", h.GetId())
	}
	if strings.TrimSpace(h.GetName()) == "" {
		bad("name", "missing")
	}
	for _, f := range []struct{ name, v string }{{"name", h.GetName()}, {"email", h.GetEmail()},
		{"claimed_home", h.GetClaimedHome()}, {"shipping_address", h.GetShippingAddress()}, {"phone", h.GetPhone()}} {
		if len(f.v) > 512 {
			bad(f.name, "%d bytes, limit 512", len(f.v))
		}
	}
	if len(h.GetInstitutions()) > 64 {
		bad("institutions", "%d, limit 64", len(h.GetInstitutions()))
	}
	if e := h.GetEmail(); e != "" && !strings.Contains(e, "@") {
		bad("email", "%q: not an address", e)
	}
	start, startErr := time.Parse("2006-01-02", h.GetStartDate())
	if d := h.GetStartDate(); d != "" && startErr != nil {
		bad("start_date", "%q: want YYYY-MM-DD", d)
	}
	if d := h.GetEndDate(); d != "" {
		end, err := time.Parse("2006-01-02", d)
		switch {
		case err != nil:
			bad("end_date", "%q: want YYYY-MM-DD", d)
		case startErr == nil && end.Before(start):
			bad("end_date", "%s is before start_date %s", d, h.GetStartDate())
		}
	}
	var place geo.Place
	if strings.TrimSpace(h.GetClaimedHome()) == "" {
		bad("claimed_home", `missing (e.g. "Austin, TX, US")`)
	} else if p, err := parsePlace(h.GetClaimedHome()); err != nil {
		bad("claimed_home", "%v", err)
	} else {
		place = p
	}
	if len(errs) > 0 {
		return errs
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
		if p, ok := geo.FindPlace(t); ok {
			return p, true
		}
	}
	return geo.Place{}, false
}

// Columns are the CSV header, in any order; id, name and claimed_home are
// required. Other columns (an HR export's department, manager, ...) are
// ignored and named in Parsed.Ignored.
var Columns = []string{"id", "name", "email", "claimed_home", "shipping_address", "phone", "institutions", "start_date", "end_date", "applicant_id"}

// RowError is a problem with one line of a CSV file; Err is a FieldError
// when one field is wrong.
type RowError struct {
	Line int
	Err  error
}

func (e RowError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// MaxRows bounds one import.
const MaxRows = 100000

// Parsed is what ParseCSV read from a file.
type Parsed struct {
	Hires []*pb.Hire
	// Columns are the known columns the file has, in Columns order: an
	// update changes only these fields of an existing hire.
	Columns []string
	// Ignored are the header names that are not columns, in file order.
	Ignored []string
	Errors  []RowError
}

// ParseCSV reads and validates every row. It returns every error of every
// row, not just the first, so a whole file can be fixed in one pass; a file
// with any error must not be imported.
func ParseCSV(r io.Reader) Parsed {
	var p Parsed
	fail := func(line int, err error) Parsed {
		p.Errors = append(p.Errors, RowError{line, err})
		return p
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return fail(1, errors.New("empty file: want a header line "+strings.Join(Columns, ",")))
		}
		return fail(1, err)
	}
	width := len(header)
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !slices.Contains(Columns, h) {
			if h == "" {
				h = fmt.Sprintf("(blank, column %d)", i+1)
			}
			p.Ignored = append(p.Ignored, h)
			continue
		}
		if _, dup := col[h]; dup {
			return fail(1, FieldError{h, "column twice in the header"})
		}
		col[h] = i
	}
	for _, req := range []string{"id", "name", "claimed_home"} {
		if _, ok := col[req]; !ok {
			return fail(1, FieldError{req, "missing column; columns are " + strings.Join(Columns, ",")})
		}
	}
	for _, c := range Columns {
		if _, ok := col[c]; ok {
			p.Columns = append(p.Columns, c)
		}
	}
	parseErrs, rows := 0, 0
	places := placeCache{}
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
			p.Errors = append(p.Errors, RowError{max(line, 1), err})
			if parseErrs++; parseErrs > 100 {
				break // a broken quote makes every later line wrong
			}
			continue
		}
		line, _ := cr.FieldPos(0)
		if rows++; rows > MaxRows {
			p.Errors = append(p.Errors, RowError{line, fmt.Errorf("more than %d rows; split the file", MaxRows)})
			break
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		if len(rec) != width {
			p.Errors = append(p.Errors, RowError{line, fmt.Errorf("%d fields, header has %d", len(rec), width)})
			continue
		}
		h := &pb.Hire{Id: get("id"), Name: get("name"), Email: get("email"), ClaimedHome: get("claimed_home"),
			ShippingAddress: get("shipping_address"), Phone: get("phone"), StartDate: get("start_date"), EndDate: get("end_date"),
			ApplicantId: get("applicant_id")}
		for _, inst := range strings.Split(get("institutions"), ";") {
			if inst = strings.TrimSpace(inst); inst != "" {
				h.Institutions = append(h.Institutions, inst)
			}
		}
		rowErrs := resolve(h, places.parse)
		if first, dup := seen[h.Id]; dup && h.Id != "" {
			rowErrs = append(rowErrs, FieldError{"id", fmt.Sprintf("%q already on line %d", h.Id, first)})
		} else if h.Id != "" {
			seen[h.Id] = line
		}
		for _, e := range rowErrs {
			p.Errors = append(p.Errors, RowError{line, e})
		}
		if len(rowErrs) == 0 {
			p.Hires = append(p.Hires, h)
		}
	}
	if len(p.Hires) == 0 && len(p.Errors) == 0 {
		p.Errors = append(p.Errors, RowError{1, errors.New("no hires after the header")})
	}
	return p
}

// placeCache remembers the gazetteer's answers within one file: an HR export
// names the same cities again and again.
type placeCache map[string]placeAnswer

type placeAnswer struct {
	place geo.Place
	err   error
}

func (c placeCache) parse(s string) (geo.Place, error) {
	if a, ok := c[s]; ok {
		return a.place, a.err
	}
	p, err := geo.ParsePlace(s)
	if len(c) < 100000 {
		c[s] = placeAnswer{p, err}
	}
	return p, err
}
