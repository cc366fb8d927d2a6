package geo

import (
	_ "embed"
	"encoding/csv"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// Anonymizer kinds, the values of Location.Anonymizer.
const (
	AnonymizerHosting = "hosting"
	AnonymizerVPN     = "vpn"
)

//go:embed anonymizers.csv
var anonymizersCSV string

// Anonymizer is one row of the anonymizer data file: a network whose addresses hide where the user is.
type Anonymizer struct {
	ASN      uint32       // 0 for a prefix row
	Prefix   netip.Prefix // zero for an ASN row
	Kind     string       // AnonymizerHosting or AnonymizerVPN
	Provider string
}

// anonymizerTable answers "is this network a cloud or a VPN" by ASN, then by prefix.
type anonymizerTable struct {
	byASN    map[uint32]Anonymizer
	prefixes []Anonymizer
}

var defaultAnonymizers = mustParseAnonymizers(anonymizersCSV)

// Anonymizers returns the rows of the embedded anonymizer data file, ASN rows first.
func Anonymizers() []Anonymizer {
	rows := make([]Anonymizer, 0, len(defaultAnonymizers.byASN)+len(defaultAnonymizers.prefixes))
	for _, a := range defaultAnonymizers.byASN {
		rows = append(rows, a)
	}
	return append(rows, defaultAnonymizers.prefixes...)
}

func mustParseAnonymizers(text string) *anonymizerTable {
	t, err := parseAnonymizers(strings.NewReader(text))
	if err != nil {
		panic(fmt.Sprintf("geo: embedded anonymizers.csv: %v", err))
	}
	return t
}

func parseAnonymizers(r io.Reader) (*anonymizerTable, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = 4
	t := &anonymizerTable{byASN: map[uint32]Anonymizer{}}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return t, nil
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		network, kind, provider := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1]), strings.TrimSpace(rec[2])
		if kind != AnonymizerHosting && kind != AnonymizerVPN {
			return nil, fmt.Errorf("line %d: kind %q is neither %s nor %s", line, kind, AnonymizerHosting, AnonymizerVPN)
		}
		a := Anonymizer{Kind: kind, Provider: provider}
		if num, ok := strings.CutPrefix(strings.ToUpper(network), "AS"); ok {
			n, err := strconv.ParseUint(num, 10, 32)
			if err != nil || n == 0 {
				return nil, fmt.Errorf("line %d: bad AS number %q", line, network)
			}
			if _, dup := t.byASN[uint32(n)]; dup {
				return nil, fmt.Errorf("line %d: AS%d listed twice", line, n)
			}
			a.ASN = uint32(n)
			t.byASN[a.ASN] = a
			continue
		}
		p, err := netip.ParsePrefix(network)
		if err != nil {
			return nil, fmt.Errorf("line %d: network %q is neither ASnnn nor a CIDR prefix", line, network)
		}
		a.Prefix = p.Masked()
		t.prefixes = append(t.prefixes, a)
	}
}

func (t *anonymizerTable) match(ip netip.Addr, asn uint32) (Anonymizer, bool) {
	if a, ok := t.byASN[asn]; ok && asn != 0 {
		return a, true
	}
	for _, a := range t.prefixes {
		if a.Prefix.Contains(ip) {
			return a, true
		}
	}
	return Anonymizer{}, false
}
