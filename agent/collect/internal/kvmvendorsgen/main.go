// Command kvmvendorsgen writes agent/collect/kvm_vendors.json from the
// curated list and the IEEE registry files of Debian's ieee-data package.
// Run it through `go generate ./agent/collect/` after updating ieee-data
// (apt-get install ieee-data) or editing kvm_vendors_curated.json.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/farmwatch/farmwatch/agent/collect/internal/ouigen"
)

func main() {
	registry := flag.String("registry", "/usr/share/ieee-data", "directory holding oui.csv, mam.csv, oui36.csv and .lastupdate")
	curated := flag.String("curated", "kvm_vendors_curated.json", "curated organizations and blocks")
	out := flag.String("out", "kvm_vendors.json", "generated list")
	flag.Parse()
	if err := run(*registry, *curated, *out); err != nil {
		slog.Error("kvmvendorsgen", "err", err)
		os.Exit(1)
	}
}

func run(registryDir, curatedPath, outPath string) error {
	b, err := os.ReadFile(curatedPath)
	if err != nil {
		return fmt.Errorf("read curated list: %w", err)
	}
	c, err := ouigen.ParseCurated(b)
	if err != nil {
		return err
	}
	snap, err := ouigen.ReadRegistry(registryDir)
	if err != nil {
		return err
	}
	list, err := ouigen.Generate(c, snap)
	if err != nil {
		return err
	}
	data, err := ouigen.Marshal(list)
	if err != nil {
		return err
	}
	if err := os.WriteFile(outPath, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", outPath, err)
	}
	slog.Info("kvmvendorsgen", "out", outPath, "blocks", len(list.Vendors), "registry_date", snap.Date)
	return nil
}
