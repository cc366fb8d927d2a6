package applicants

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// ghCandidate is the part of a Greenhouse Harvest candidate (GET
// /v1/candidates) an applicant is made of.
type ghCandidate struct {
	ID                   json.RawMessage `json:"id"`
	FirstName            string          `json:"first_name"`
	LastName             string          `json:"last_name"`
	Company              string          `json:"company"`
	Title                string          `json:"title"`
	EmailAddresses       []ghValue       `json:"email_addresses"`
	PhoneNumbers         []ghValue       `json:"phone_numbers"`
	Addresses            []ghValue       `json:"addresses"`
	WebsiteAddresses     []ghValue       `json:"website_addresses"`
	SocialMediaAddresses []ghValue       `json:"social_media_addresses"`
	Educations           []struct {
		SchoolName string `json:"school_name"`
		Degree     string `json:"degree"`
		Discipline string `json:"discipline"`
		StartDate  string `json:"start_date"`
		EndDate    string `json:"end_date"`
	} `json:"educations"`
	Employments []struct {
		CompanyName string `json:"company_name"`
		Title       string `json:"title"`
		StartDate   string `json:"start_date"`
		EndDate     string `json:"end_date"`
	} `json:"employments"`
	Applications []struct {
		AppliedAt string `json:"applied_at"`
		Prospect  bool   `json:"prospect"`
		Jobs      []struct {
			Name string `json:"name"`
		} `json:"jobs"`
	} `json:"applications"`
	CustomFields      map[string]json.RawMessage `json:"custom_fields"`
	KeyedCustomFields map[string]json.RawMessage `json:"keyed_custom_fields"`
}

type ghValue struct {
	Value string `json:"value"`
	Type  string `json:"type"`
}

// ghCustom are the candidate custom fields read for what Greenhouse has no
// field of its own for, when an organisation records them.
var ghCustom = []string{"submission_ip", "interview_time_zone", "shipping_address", "agency"}

type greenhouseRows struct {
	t    *tracker
	dec  *json.Decoder
	done bool
}

func newGreenhouseRows(r io.Reader) (*greenhouseRows, error) {
	t := &tracker{r: r}
	g := &greenhouseRows{t: t, dec: json.NewDecoder(t)}
	tok, err := g.dec.Token()
	if err != nil {
		return nil, fmt.Errorf("line %d: want a JSON array of candidates: %w", t.lineAt(g.dec.InputOffset()), err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, fmt.Errorf("line %d: want a JSON array of candidates, found %v", t.lineAt(g.dec.InputOffset()), tok)
	}
	t.mark(g.dec.InputOffset())
	return g, nil
}

func (g *greenhouseRows) next() (*rawRow, error) {
	if g.done {
		return nil, io.EOF
	}
	if !g.dec.More() {
		g.done = true
		if _, err := g.dec.Token(); err != nil {
			return nil, fmt.Errorf("line %d: %w", g.t.lineAt(g.dec.InputOffset()), err)
		}
		return nil, io.EOF
	}
	line := g.t.mark(g.startOf(g.dec.InputOffset()))
	var c ghCandidate
	err := g.dec.Decode(&c)
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te):
		// The decoder read the whole candidate; only a field's type was wrong.
		g.t.mark(g.dec.InputOffset())
		return &rawRow{a: &pb.Applicant{}, line: line, errs: []FieldError{{"row", fmt.Sprintf("%s: JSON %s where %s belongs", te.Field, te.Value, te.Type)}}}, nil
	case err != nil:
		g.done = true
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("line %d: candidate: %w", line, err)
	}
	g.t.mark(g.dec.InputOffset())
	return candidateRow(&c, line), nil
}

// startOf skips the separator after off to where the next candidate begins,
// so a candidate's line is its '{' line.
func (g *greenhouseRows) startOf(off int64) int64 {
	k := int(off - g.t.markOff)
	if k < 0 || k > len(g.t.pending) {
		return off
	}
	for k < len(g.t.pending) && bytes.IndexByte([]byte(" \t\r\n,"), g.t.pending[k]) >= 0 {
		k++
	}
	return g.t.markOff + int64(k)
}

// candidateRow maps a candidate to an applicant; see docs/APPLICANTS.md
// for the mapping and what Greenhouse does not record.
func candidateRow(c *ghCandidate, line int) *rawRow {
	row := &rawRow{a: &pb.Applicant{}, line: line}
	bad := func(field, format string, args ...any) {
		row.errs = append(row.errs, FieldError{field, fmt.Sprintf(format, args...)})
	}
	a := row.a
	id := strings.Trim(string(c.ID), `"`)
	if id == "null" {
		id = ""
	}
	a.Id = id
	a.Name = strings.TrimSpace(c.FirstName + " " + c.LastName)
	for _, e := range c.EmailAddresses {
		a.Emails = append(a.Emails, e.Value)
	}
	for _, p := range c.PhoneNumbers {
		// A Skype name is not a number a phone rule can compare.
		if p.Type != "skype" {
			a.Phones = append(a.Phones, p.Value)
		}
	}
	for _, ad := range c.Addresses {
		if ad.Type == "home" && a.ClaimedAddress == "" {
			a.ClaimedAddress = ad.Value
		}
	}
	if a.ClaimedAddress == "" && len(c.Addresses) > 0 {
		a.ClaimedAddress = c.Addresses[0].Value
	}
	for _, w := range append(c.WebsiteAddresses, c.SocialMediaAddresses...) {
		// "@handle" social entries name no site: kept out of profile_urls.
		if v := strings.TrimSpace(w.Value); v != "" && !strings.HasPrefix(v, "@") {
			a.ProfileUrls = append(a.ProfileUrls, v)
		}
	}
	for i, e := range c.Employments {
		start, err1 := ghDate(e.StartDate)
		end, err2 := ghDate(e.EndDate)
		if err1 != nil {
			bad(fmt.Sprintf("employments[%d].start_date", i), "%q: %v", e.StartDate, err1)
		}
		if err2 != nil {
			bad(fmt.Sprintf("employments[%d].end_date", i), "%q: %v", e.EndDate, err2)
		}
		a.WorkHistory = append(a.WorkHistory, &pb.WorkEntry{Employer: e.CompanyName, Title: e.Title, Start: start, End: end})
	}
	if len(c.Employments) == 0 && strings.TrimSpace(c.Company) != "" {
		// The candidate's current company and title, when no history is listed.
		a.WorkHistory = append(a.WorkHistory, &pb.WorkEntry{Employer: c.Company, Title: c.Title})
	}
	for i, e := range c.Educations {
		start, err1 := ghDate(e.StartDate)
		end, err2 := ghDate(e.EndDate)
		if err1 != nil {
			bad(fmt.Sprintf("educations[%d].start_date", i), "%q: %v", e.StartDate, err1)
		}
		if err2 != nil {
			bad(fmt.Sprintf("educations[%d].end_date", i), "%q: %v", e.EndDate, err2)
		}
		degree := e.Degree
		if e.Discipline != "" {
			degree = strings.TrimSpace(degree + ", " + e.Discipline)
		}
		a.Education = append(a.Education, &pb.EducationEntry{Institution: e.SchoolName, Degree: strings.Trim(degree, ", "), Start: start, End: end})
	}
	// The latest application names the role and the time applied.
	var latest time.Time
	for i, app := range c.Applications {
		t, err := parseWhen(app.AppliedAt)
		if app.AppliedAt != "" && err != nil {
			bad(fmt.Sprintf("applications[%d].applied_at", i), "%q: %v", app.AppliedAt, err)
			continue
		}
		if a.AppliedAt != nil && !t.After(latest) {
			continue
		}
		latest = t
		if app.AppliedAt != "" {
			a.AppliedAt = timestamppb.New(t)
		}
		var jobs []string
		for _, j := range app.Jobs {
			jobs = append(jobs, j.Name)
		}
		a.Role = strings.Join(jobs, "; ")
	}
	for _, key := range ghCustom {
		v := customValue(c.KeyedCustomFields[key])
		if v == "" {
			v = customValue(c.CustomFields[key])
		}
		switch key {
		case "submission_ip":
			a.SubmissionIp = v
		case "interview_time_zone":
			a.InterviewTimeZone = v
		case "shipping_address":
			a.ShippingAddress = v
		case "agency":
			a.Agency = v
		}
	}
	return row
}

// customValue reads a custom field: a bare string (custom_fields) or an
// object with a value (keyed_custom_fields).
func customValue(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	var o struct {
		Value any `json:"value"`
	}
	if json.Unmarshal(raw, &o) == nil {
		if s, ok := o.Value.(string); ok {
			return strings.TrimSpace(s)
		}
	}
	return ""
}

// ghDate reads a Greenhouse employment or education date: a timestamp
// ("2012-08-15T00:00:00.000Z"), "MM/DD/YYYY" as older exports write it, or
// already YYYY-MM(-DD); it returns YYYY-MM-DD or YYYY-MM.
func ghDate(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if _, ok := parseDate(s); ok {
		return s, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC().Format("2006-01-02"), nil
	}
	if t, err := time.Parse("01/02/2006", s); err == nil {
		return t.Format("2006-01-02"), nil
	}
	return "", errors.New("want a timestamp, MM/DD/YYYY or YYYY-MM-DD")
}
