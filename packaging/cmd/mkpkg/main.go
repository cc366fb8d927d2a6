// Command mkpkg builds farmwatch's packages and archives (make package):
// .deb and .rpm of the agent and the collector for Linux, tar.gz and zip of
// the agent for macOS and Windows, a CycloneDX SBOM beside each, and
// SHA256SUMS, reproducibly. With FARMWATCH_SIGNING_KEY_FILE (an OpenPGP
// secret key; FARMWATCH_SIGNING_KEY_PASSPHRASE when it has one) the .deb and
// .rpm are signed.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/farmwatch/farmwatch/packaging/internal/dist"
)

func main() {
	var o dist.Options
	var epoch int64
	var platforms, formats string
	flag.StringVar(&o.Root, "root", ".", "repository root")
	flag.StringVar(&o.Out, "out", "dist", "output directory")
	flag.StringVar(&o.Version, "version", "", "version (git describe)")
	flag.Int64Var(&epoch, "source-date-epoch", 0, "timestamp of every file, in Unix seconds (default $SOURCE_DATE_EPOCH)")
	flag.StringVar(&platforms, "platforms", strings.Join(dist.Platforms, ","), "GOOS/GOARCH list")
	flag.StringVar(&formats, "formats", strings.Join(dist.Formats, ","), "deb, rpm, archive")
	flag.StringVar(&o.Maintainer, "maintainer", "", "package maintainer, \"Name <email>\"")
	flag.Parse()
	if epoch == 0 {
		if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
			var err error
			if epoch, err = strconv.ParseInt(s, 10, 64); err != nil {
				fail(fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", s, err))
			}
		}
	}
	if epoch <= 0 || o.Version == "" {
		fail(fmt.Errorf("-version and -source-date-epoch (or SOURCE_DATE_EPOCH) are required"))
	}
	o.Epoch = time.Unix(epoch, 0)
	o.Platforms = strings.Split(platforms, ",")
	o.Formats = strings.Split(formats, ",")
	o.Log = os.Stdout
	// The key comes from the environment, not a flag, so its passphrase stays out of ps and shell history.
	o.Signing = dist.Signing{
		KeyFile:    os.Getenv("FARMWATCH_SIGNING_KEY_FILE"),
		Passphrase: os.Getenv("FARMWATCH_SIGNING_KEY_PASSPHRASE"),
		KeyID:      os.Getenv("FARMWATCH_SIGNING_KEY_ID"),
	}
	if o.Signing.KeyFile == "" && (o.Signing.Passphrase != "" || o.Signing.KeyID != "") {
		fail(fmt.Errorf("FARMWATCH_SIGNING_KEY_PASSPHRASE or FARMWATCH_SIGNING_KEY_ID without FARMWATCH_SIGNING_KEY_FILE"))
	}
	if o.Signing.KeyFile != "" {
		fmt.Printf("signing .deb and .rpm with %s\n", o.Signing.KeyFile)
	}
	if err := dist.Build(o); err != nil {
		fail(err)
	}
	sums, _ := os.ReadFile(o.Out + "/SHA256SUMS")
	fmt.Print(string(sums))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "mkpkg:", err)
	os.Exit(1)
}
