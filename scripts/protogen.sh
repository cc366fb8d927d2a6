#!/usr/bin/env bash
# Regenerates the Go code of proto/ with pinned generator versions.
# Usage: scripts/protogen.sh [OUTDIR]   (default: the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."

PROTOC_VERSION="3.21.12"          # Debian bookworm's protobuf-compiler
PROTOC_GEN_GO_VERSION="v1.36.12"  # google.golang.org/protobuf
PROTOC_GEN_GO_GRPC_VERSION="v1.6.2"

out="${1:-.}"
bin="$(pwd)/.tools/bin"
mkdir -p "$bin"

if ! command -v protoc >/dev/null 2>&1; then
  echo "protoc not found: install protobuf-compiler $PROTOC_VERSION (Debian: apt-get install protobuf-compiler)" >&2
  exit 1
fi
have="$(protoc --version | awk '{print $2}')"
if [ "$have" != "$PROTOC_VERSION" ]; then
  echo "protoc $have found, $PROTOC_VERSION pinned: generated headers would differ" >&2
  exit 1
fi
include="$(dirname "$(dirname "$(command -v protoc)")")/include"

if [ "$("$bin/protoc-gen-go" --version 2>/dev/null || true)" != "protoc-gen-go $PROTOC_GEN_GO_VERSION" ]; then
  GOBIN="$bin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION"
fi
if [ "$("$bin/protoc-gen-go-grpc" --version 2>/dev/null || true)" != "protoc-gen-go-grpc ${PROTOC_GEN_GO_GRPC_VERSION#v}" ]; then
  GOBIN="$bin" go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC_VERSION"
fi

mkdir -p "$out/proto"
PATH="$bin:$PATH" protoc -I proto -I "$include" \
  --go_out="$out/proto" --go_opt=paths=source_relative \
  --go-grpc_out="$out/proto" --go-grpc_opt=paths=source_relative \
  proto/farmwatch/v1/*.proto
