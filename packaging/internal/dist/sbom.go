package dist

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// SBOMSuffix names an artefact's SBOM: dist/NAME.cdx.json beside dist/NAME.
const SBOMSuffix = ".cdx.json"

// sbomTool builds cyclonedx-gomod, at the version packaging/go.mod pins, into dir.
func (o Options) sbomTool(dir string) (string, error) {
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return "", err
	}
	tool := filepath.Join(dir, "cyclonedx-gomod")
	c := exec.Command(o.Go, "build", "-trimpath", "-o", tool, "github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod")
	c.Dir = filepath.Join(root, "packaging")
	c.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=", "GOARCH=")
	if b, err := c.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build cyclonedx-gomod: %w\n%s", err, b)
	}
	return tool, nil
}

// sbom writes a CycloneDX SBOM (JSON) of the binary an artefact ships beside the artefact, with
// cyclonedx-gomod, the packaging module's pinned tool. It reads the module list the linker wrote into
// the binary, so it lists exactly what `go version -m` does. No serial number and no timestamp: the
// SBOM of a commit is as reproducible as its packages.
func (o Options) sbom(tool, binary, artefact string) (string, error) {
	out, err := filepath.Abs(filepath.Join(o.Out, artefact+SBOMSuffix))
	if err != nil {
		return "", err
	}
	bin, err := filepath.Abs(binary)
	if err != nil {
		return "", err
	}
	c := exec.Command(tool, "bin", "-json", "-noserial", "-notimestamp", "-version", o.Version, "-output", out, bin)
	if b, err := c.CombinedOutput(); err != nil {
		return "", fmt.Errorf("SBOM of %s: %w\n%s", artefact, err, b)
	}
	if _, err := os.Stat(out); err != nil {
		return "", fmt.Errorf("SBOM of %s: %w", artefact, err)
	}
	return artefact + SBOMSuffix, nil
}
