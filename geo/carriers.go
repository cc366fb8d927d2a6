package geo

import (
	_ "embed"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
)

//go:embed carriers.csv
var carriersCSV string

// Carrier is one mobile network whose public addresses are shared by many
// subscribers (carrier-grade NAT).
type Carrier struct {
	ASN            uint32
	Provider       string
	RegisteredName string // the AS organisation name in the ASN data
	Source         string // where the AS is published as this carrier's mobile network
}

var carriers = mustParseCarriers(carriersCSV)

// Carriers returns the rows of the embedded carriers.csv.
func Carriers() []Carrier { return append([]Carrier(nil), carriers...) }

func mustParseCarriers(text string) []Carrier {
	c, err := parseCarriers(strings.NewReader(text))
	if err != nil {
		panic(fmt.Sprintf("geo: embedded carriers.csv: %v", err))
	}
	return c
}

func parseCarriers(r io.Reader) ([]Carrier, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = 4
	var out []Carrier
	seen := map[uint32]bool{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		n, err := strconv.ParseUint(rec[0], 10, 32)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("asn %q: not an AS number", rec[0])
		}
		if seen[uint32(n)] {
			return nil, fmt.Errorf("AS%d listed twice", n)
		}
		seen[uint32(n)] = true
		for i, name := range []string{"provider", "registered_name", "source"} {
			if strings.TrimSpace(rec[i+1]) == "" {
				return nil, fmt.Errorf("AS%d: %s is empty: every entry names its network and a published source", n, name)
			}
		}
		out = append(out, Carrier{ASN: uint32(n), Provider: rec[1], RegisteredName: rec[2], Source: rec[3]})
	}
}
