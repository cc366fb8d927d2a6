#!/usr/bin/env bash
# farmwatch demo: a collector on a temporary data dir, a simulated fleet (a
# laptop farm, a VPN user, a foreign remote controller, honest hires) plus the
# real agent of this machine; prints what a reviewer would see, then stops
# everything it started.
set -euo pipefail
bin="${1:-bin}"
bin="$(cd "$bin" && pwd)"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d -t farmwatch-demo.XXXXXX)"
data="$work/collector"
pid=""
cpid=""
cleanup() {
  if [ -n "$cpid" ] && kill -0 "$cpid" 2>/dev/null; then
    kill -TERM "$cpid" 2>/dev/null || true
    wait "$cpid" 2>/dev/null || true
  fi
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

fw() { "$bin/farmwatch" --data "$data" "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

city="$root/data/geo/dbip-city-lite.mmdb"
asn="$root/data/geo/dbip-asn-lite.mmdb"
if [ -f "$city" ] && [ -f "$asn" ]; then
  say "Geo data: the full databases built by 'make geodata'"
else
  say "Geo data: a small generated database of the demo networks (run 'make geodata' for full City and ASN data)"
  "$bin/farmwatch-sim" geodb --out "$work/geo" >/dev/null
  city="$work/geo/dbip-city-lite.mmdb"
  asn="$work/geo/dbip-asn-lite.mmdb"
fi

say "Starting the collector (mutual TLS on a loopback port, bbolt store in a temporary dir)"
# The simulator reaches the collector from 127.0.0.1 and names each device's
# public IP in a PROXY protocol header, the way a pass-through load balancer
# does: 127.0.0.1 is the trusted proxy. This machine's real agent connects
# from there too, without a header, and is seen at 127.0.0.1.
"$bin/farmwatch" serve --data "$data" --listen 127.0.0.1:0 --trusted-proxy 127.0.0.1 \
  --geoip-city "$city" --geoip-asn "$asn" >"$work/collector.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  [ -s "$data/collector.addr" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/collector.log"; exit 1; }
  sleep 0.1
done
addr="$(cat "$data/collector.addr")"
head -n 1 "$work/collector.log" | sed 's/^/  /' || true
echo "  listening on $addr"

say "Simulated fleet: hires registered, one-time tokens, enrollment, reports"
"$bin/farmwatch-sim" run --data "$data" --devices 24 --days 4 --rounds 1 --labels "$work/labels.json"

say "This machine's real agent"
# The hire of this machine claims a home in the machine's own time zone.
zone="$(readlink /etc/localtime 2>/dev/null | sed 's|.*zoneinfo/||')"
case "$zone" in
  America/Chicago) home="Austin, TX, US" ;; America/New_York) home="New York, NY, US" ;;
  America/Denver) home="Denver, CO, US" ;; America/Los_Angeles) home="Seattle, WA, US" ;;
  Europe/London) home="London, ENG, GB" ;; Europe/Berlin) home="Berlin, DE" ;;
  *) home="Reykjavik, IS" ;;  # UTC all year
esac
fw hires add --id this-machine --name "This Machine" --claimed-home "$home" --email it@example.com >/dev/null
token="$(fw tokens create --hire this-machine 2>/dev/null)"
fp="$(openssl x509 -in "$data/tls/ca.pem" -noout -fingerprint -sha256 2>/dev/null | sed 's/.*=//' || true)"
"$bin/farmwatch-agent" enroll --collector "$addr" --token "$token" ${fp:+--ca-fingerprint "$fp"} --state "$work/agent"
"$bin/farmwatch-agent" run --once --state "$work/agent"

say "Devices"
fw devices list

say "Open alerts, highest score first"
fw alerts list --status open

say "Laptop-farm clusters"
fw clusters list --farms
farm="$(fw clusters list --farms --output json | sed -n 's/.*"id": *"\(C-[0-9]*\)".*/\1/p' | head -n 1)"
if [ -n "$farm" ]; then
  echo
  fw clusters show "$farm"
fi

say "The alerts explained: every sign with its contribution"
device_of() { grep -B2 "\"scenario\": \"$1\"" "$work/labels.json" | sed -n 's/.*"device_id": "\(.*\)".*/\1/p' | head -n 1; }
farm_alert="$(fw clusters list --farms --output json | sed -n 's/.*"alert_id": *"\(A-[0-9]*\)".*/\1/p' | head -n 1)"
shown="$farm_alert"
for scenario in farm foreign-controller vpn-tz ip-kvm; do
  dev="$(device_of "$scenario")"
  id="$(fw alerts list --device "$dev" --output json | sed -n 's/^ *"id": *"\(A-[0-9]*\)".*/\1/p' | head -n 1)"
  shown="$shown $id"
done
for id in $shown; do
  echo
  fw alerts show "$id"
done

say "An honest hire, for comparison"
hid="$(grep -B2 '"scenario": "honest"' "$work/labels.json" | sed -n 's/.*"hire_id": "\(.*\)".*/\1/p' | head -n 1)"
dev="$(grep -B1 "\"hire_id\": \"$hid\"" "$work/labels.json" | sed -n 's/.*"device_id": "\(.*\)".*/\1/p' | head -n 1)"
fw devices show "$dev" | sed -n '1,12p;/^Alerts:/,$p'

say "The reviewer console and a case report"
# The console serves the web view on loopback with this launch's secret in
# its URL (docs/CONSOLE.md); the case report is one self-contained page.
"$bin/farmwatch" --data "$data" console --open=false >"$work/console.url" 2>"$work/console.log" &
cpid=$!
for _ in $(seq 1 100); do
  [ -s "$work/console.url" ] && break
  kill -0 "$cpid" 2>/dev/null || { cat "$work/console.log"; exit 1; }
  sleep 0.1
done
echo "  console: $(cat "$work/console.url")"
fhid="$(grep -B2 '"scenario": "farm"' "$work/labels.json" | sed -n 's/.*"hire_id": "\(.*\)".*/\1/p' | head -n 1)"
if [ -n "$fhid" ]; then
  fw report "$fhid" --format html --out "$bin/demo-case-report.html"
fi
if [ "${DEMO_KEEP:-}" = 1 ]; then
  echo "  DEMO_KEEP=1: the collector and the console run until Ctrl-C"
  wait "$cpid" || true
else
  echo "  (make demo DEMO_KEEP=1 keeps the collector and the console running until Ctrl-C)"
fi

say "Done: stopping the collector"
