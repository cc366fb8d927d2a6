// Package readme runs the README's "Running it" block as written: it takes
// the fenced block out of README.md and prepares the files the block reads
// (hires.csv, the geo databases), taking their names from the block itself,
// so that the block stays a command sequence that works.
package readme

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/farmwatch/farmwatch/geo/geotest"
)

// Section is the heading of the block that is run.
const Section = "## Running it"

// Block returns the first ```sh block under heading in markdown.
func Block(markdown []byte, heading string) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(markdown))
	var in, inBlock bool
	var b strings.Builder
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in:
			in = strings.TrimSpace(line) == heading
		case !inBlock && strings.HasPrefix(line, "## "):
			return "", fmt.Errorf("section %q has no ```sh block", heading)
		case !inBlock && strings.TrimSpace(line) == "```sh":
			inBlock = true
		case inBlock && strings.TrimSpace(line) == "```":
			return b.String(), nil
		case inBlock:
			b.WriteString(line + "\n")
		}
	}
	if !in {
		return "", fmt.Errorf("no section %q", heading)
	}
	return "", fmt.Errorf("section %q: no closed ```sh block", heading)
}

// Commands are the block's command lines: continuation lines joined,
// comments and blank lines left out.
func Commands(block string) []string {
	var cmds []string
	var cur strings.Builder
	for _, line := range strings.Split(block, "\n") {
		t := strings.TrimSpace(line)
		if cur.Len() == 0 && (t == "" || strings.HasPrefix(t, "#")) {
			continue
		}
		if strings.HasSuffix(t, "\\") {
			cur.WriteString(strings.TrimSpace(strings.TrimSuffix(t, "\\")) + " ")
			continue
		}
		cur.WriteString(t)
		cmds = append(cmds, cur.String())
		cur.Reset()
	}
	return cmds
}

// Arg is the value after flag in the first command that has it ("" when
// none does), quotes removed.
func Arg(block, flag string) string {
	re := regexp.MustCompile(`(?:^|\s)` + regexp.QuoteMeta(flag) + `[ =]("[^"]*"|'[^']*'|[^\s)"';|&]+)`)
	for _, c := range Commands(block) {
		if m := re.FindStringSubmatch(c); m != nil {
			return strings.Trim(m[1], `"'`)
		}
	}
	return ""
}

// Operand is the first word after prefix (e.g. "farmwatch hires import") in
// the block's commands.
func Operand(block, prefix string) string {
	for _, c := range Commands(block) {
		if rest, ok := strings.CutPrefix(c, prefix+" "); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				return strings.TrimRight(strings.Trim(f[0], `"'`), ");|&")
			}
		}
	}
	return ""
}

// Inputs are the files the block reads from its working directory, named as
// the block names them.
type Inputs struct {
	HiresCSV, GeoCity, GeoASN, HireID string
}

// InputsOf reads the names out of the block.
func InputsOf(block string) (Inputs, error) {
	in := Inputs{
		HiresCSV: Operand(block, "farmwatch hires import"),
		GeoCity:  Arg(block, "--geoip-city"),
		GeoASN:   Arg(block, "--geoip-asn"),
		HireID:   Arg(block, "--hire"),
	}
	var missing []string
	for name, v := range map[string]string{"farmwatch hires import FILE": in.HiresCSV, "--geoip-city": in.GeoCity,
		"--geoip-asn": in.GeoASN, "tokens create --hire": in.HireID} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return in, fmt.Errorf("the block lacks %s", strings.Join(missing, ", "))
	}
	return in, nil
}

// Prepare writes the block's inputs into dir: a hires.csv whose one hire,
// the one the block makes a token for, has a phone, shipping address and
// employer that point abroad (so the agent's first report raises an alert
// the block can show and resolve), and geo databases in the GeoLite2
// schemas.
func Prepare(dir string, in Inputs) error {
	csv := "id,name,claimed_home,shipping_address,phone,institutions\n" +
		in.HireID + `,Alex Morgan,"Austin, TX, US","Miami, FL, US",+7 495 123 4567,Volasys Silverstar` + "\n"
	if err := os.WriteFile(filepath.Join(dir, in.HiresCSV), []byte(csv), 0o644); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(dir, "geo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	city, asn, err := geotest.WriteDatabases(tmp, geotest.DemoNetworks())
	if err != nil {
		return err
	}
	return errors.Join(os.Rename(city, filepath.Join(dir, in.GeoCity)), os.Rename(asn, filepath.Join(dir, in.GeoASN)))
}
