# Packaging (included by the Makefile):
#   make package        .deb/.rpm (agent, collector; amd64, arm64), darwin tar.gz and windows zip of the
#                       agent, an SBOM beside each, SHA256SUMS, all in dist/
#   make package-check  build twice (the second with an empty Go build cache) and compare SHA256SUMS
#                       (unsigned: a signature carries its creation time)
#   make package-test   build this machine's .deb files and install, verify, run (the README's "Running it"
#                       block against the installed binaries and packaged paths), purge them (root, dpkg)
# FARMWATCH_SIGNING_KEY_FILE (and _PASSPHRASE, _ID) in the environment signs the .deb and .rpm.
# Every timestamp is the last commit's time, so two builds of one commit are byte-identical.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)
DIST ?= dist
# mkpkg lives in the packaging module (packaging/go.mod); -root and -out are given from here.
MKPKG = $(GO) -C packaging run ./cmd/mkpkg -root $(CURDIR) -version '$(VERSION)' -source-date-epoch '$(SOURCE_DATE_EPOCH)'

.PHONY: package package-check package-test

package:
	@rm -rf $(DIST)/pkg
	$(MKPKG) -out $(abspath $(DIST)/pkg)

package-check:
	@set -e; rm -rf $(DIST)/check-a $(DIST)/check-b; mkdir -p $(DIST); \
	cache="$$(mktemp -d)"; trap 'chmod -R u+w "$$cache"; rm -rf "$$cache"' EXIT; \
	echo "package-check: build 1"; unset FARMWATCH_SIGNING_KEY_FILE FARMWATCH_SIGNING_KEY_PASSPHRASE FARMWATCH_SIGNING_KEY_ID; $(MKPKG) -out $(abspath $(DIST)/check-a) >/dev/null; \
	echo "package-check: build 2 (empty Go build cache)"; GOCACHE="$$cache" $(MKPKG) -out $(abspath $(DIST)/check-b) >/dev/null; \
	cat $(DIST)/check-a/SHA256SUMS; \
	if cmp -s $(DIST)/check-a/SHA256SUMS $(DIST)/check-b/SHA256SUMS; then \
		echo "package-check: two builds are byte-identical"; \
	else diff $(DIST)/check-a/SHA256SUMS $(DIST)/check-b/SHA256SUMS; echo "package-check: builds differ"; exit 1; fi

package-test:
	@rm -rf $(DIST)/package-test
	$(MKPKG) -out $(abspath $(DIST)/package-test) -platforms linux/$$($(GO) env GOARCH) -formats deb
	FARMWATCH_PACKAGE_TEST=1 FARMWATCH_PACKAGE_DIR=$(abspath $(DIST)/package-test) \
		$(GO) -C packaging test -count=1 -v -run 'TestDeb' .
