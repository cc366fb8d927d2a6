package readme

import (
	"slices"
	"strings"
	"testing"
)

const sample = "# Title\n\n## Running it\n\ntext\n\n```sh\n" +
	"farmwatch serve --listen 0.0.0.0:7443 \\\n    --geoip-city city.mmdb --geoip-asn 'asn db.mmdb' &   # bg\n" +
	"# a comment\n\nTOKEN=$(farmwatch tokens create --hire H-7)  # token\nfarmwatch hires import people.csv\n" +
	"```\n\n## Next\n```sh\nother\n```\n"

func TestExtract(t *testing.T) {
	block, err := Block([]byte(sample), Section)
	if err != nil {
		t.Fatal(err)
	}
	cmds := Commands(block)
	want := []string{
		"farmwatch serve --listen 0.0.0.0:7443 --geoip-city city.mmdb --geoip-asn 'asn db.mmdb' &   # bg",
		"TOKEN=$(farmwatch tokens create --hire H-7)  # token",
		"farmwatch hires import people.csv",
	}
	if !slices.Equal(cmds, want) {
		t.Fatalf("commands:\n%q\nwant\n%q", cmds, want)
	}
	in, err := InputsOf(block)
	if err != nil {
		t.Fatal(err)
	}
	if in != (Inputs{HiresCSV: "people.csv", GeoCity: "city.mmdb", GeoASN: "asn db.mmdb", HireID: "H-7"}) {
		t.Fatalf("inputs %+v", in)
	}
	if _, err := Block([]byte(strings.Replace(sample, "## Running it", "## Running", 1)), Section); err == nil {
		t.Error("no error for a README without the section")
	}
	if _, err := InputsOf("farmwatch serve\n"); err == nil || !strings.Contains(err.Error(), "--geoip-city") {
		t.Errorf("InputsOf a block without inputs: %v", err)
	}
}
