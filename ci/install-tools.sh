#!/usr/bin/env bash
# install-tools.sh builds the external tools go-image's gates run, pinned, into
# ${GOIMAGE_TOOLS:-$HOME/.cache/go-image/tools}/bin. It is idempotent: a tool whose
# recorded version matches the pin is not rebuilt. Trivy is built from source
# with the Go toolchain because this project never downloads prebuilt binaries.
#
# Usage: ci/install-tools.sh            # build what is missing
#        eval "$(ci/install-tools.sh --env)"  # also print `export GOIMAGE_TRIVY=...`
set -euo pipefail

# Keep in sync with internal/trivy.PinnedVersion (a test checks they match).
TRIVY_VERSION=v0.67.2

TOOLS=${GOIMAGE_TOOLS:-$HOME/.cache/go-image/tools}
BIN=$TOOLS/bin
# One Go build cache for everything CI compiles (Trivy, the Dagger engine, the
# tests): their shared dependencies (grpc, protobuf, otel, containerd…) are
# compiled once. GOIMAGE_TOOLS_GOCACHE sets another.
export GOCACHE=${GOIMAGE_TOOLS_GOCACHE:-$(go env GOCACHE)}
mkdir -p "$BIN" "$GOCACHE"

log() { printf '[install-tools] %s\n' "$*" >&2; }

install_trivy() {
  local stamp=$BIN/.trivy.version
  if [[ -x $BIN/trivy && -f $stamp && $(cat "$stamp") == "$TRIVY_VERSION" ]]; then
    log "trivy $TRIVY_VERSION already in $BIN (skip)"
    return
  fi
  log "building trivy $TRIVY_VERSION into $BIN (cold: ~11 min on 2 cores; GOCACHE=$GOCACHE)"
  local start=$SECONDS
  # GOEXPERIMENT=jsonv2: trivy imports encoding/json/v2. -mod=mod: build outside a
  # module with the dependency versions trivy's go.mod pins. -s -w: drop symbol
  # tables (~1/3 smaller); app.ver makes `trivy version` report the pin.
  GOBIN=$BIN GOEXPERIMENT=jsonv2 GOFLAGS=-mod=mod CGO_ENABLED=0 \
    go install -trimpath \
    -ldflags "-s -w -X github.com/aquasecurity/trivy/pkg/version/app.ver=${TRIVY_VERSION#v}" \
    "github.com/aquasecurity/trivy/cmd/trivy@$TRIVY_VERSION"
  echo "$TRIVY_VERSION" >"$stamp"
  log "trivy $TRIVY_VERSION built in $((SECONDS - start))s: $BIN/trivy ($(du -h "$BIN/trivy" | cut -f1))"
}

install_trivy

if [[ ${1:-} == --env ]]; then
  printf 'export GOIMAGE_TRIVY=%q\n' "$BIN/trivy"
fi
