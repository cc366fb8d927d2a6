#!/usr/bin/env bash
# Installs the Debian packages the real-machine tests need: a virtual X
# display and a VNC server for the remote-access test, and Prometheus'
# node_exporter as the footprint benchmark's baseline, and the IEEE MAC
# registries (ieee-data) that the agent's KVM vendor list is checked against,
# and gnupg and rpm, with which the package tests sign a .deb and .rpm with a
# throwaway key and verify them, and Prometheus (its promtool checks the
# collector's /metrics and the sample alerting rules), and Chromium, in which
# the console's browser test runs headless, and PostgreSQL, whose initdb and
# server the store's PostgreSQL tests run as throw-away clusters
# (internal/pgtest).
# Idempotent: installs only what is missing. Run as root (CI images) or with sudo.
set -euo pipefail

packages=(xvfb x11vnc prometheus-node-exporter prometheus ieee-data gnupg rpm chromium postgresql)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "ci-packages: ${packages[*]} already installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
echo "ci-packages: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
# The Debian packages start node_exporter and Prometheus as services where
# systemd runs; the benchmark starts its own node_exporter on a loopback
# port and the tests need only promtool, so the services are not needed.
# The same goes for the cluster Debian's postgresql creates and starts: the
# tests start their own.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  $sudo systemctl disable --now prometheus-node-exporter >/dev/null 2>&1 || true
  $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
  $sudo systemctl disable --now postgresql >/dev/null 2>&1 || true
fi
# Without systemd (a container), the package's scripts start the cluster
# through pg_ctlcluster; stop it the same way.
if command -v pg_lsclusters >/dev/null 2>&1; then
  pg_lsclusters --no-header 2>/dev/null | while read -r ver name _; do
    $sudo pg_ctlcluster "$ver" "$name" stop >/dev/null 2>&1 || true
  done
fi
