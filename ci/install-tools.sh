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
# cosign is for the tests only: they check go-image's signatures and
# attestations with the real CLI. Keep in sync with internal/sign.CosignVersion.
COSIGN_VERSION=v2.6.1

TOOLS=${GOIMAGE_TOOLS:-$HOME/.cache/go-image/tools}
BIN=$TOOLS/bin
# Trivy's own build cache lives beside the binaries so CI can cache one directory
# and a rebuild after a version bump stays incremental.
export GOCACHE=${GOIMAGE_TOOLS_GOCACHE:-$TOOLS/gocache}
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

install_cosign() {
  local stamp=$BIN/.cosign.version
  if [[ -x $BIN/cosign && -f $stamp && $(cat "$stamp") == "$COSIGN_VERSION" ]]; then
    log "cosign $COSIGN_VERSION already in $BIN (skip)"
    return
  fi
  log "building cosign $COSIGN_VERSION into $BIN (cold: ~6 min on 2 cores after trivy; GOCACHE=$GOCACHE)"
  local start=$SECONDS
  # Same GOCACHE as trivy, which shares go-containerregistry, sigstore, grpc and
  # protobuf with cosign. CGO_ENABLED=0 leaves out the PIV/PKCS#11 key support,
  # which the tests do not use. gitVersion makes `cosign version` report the pin.
  GOBIN=$BIN GOFLAGS=-mod=mod CGO_ENABLED=0 \
    go install -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN_VERSION" \
    "github.com/sigstore/cosign/v2/cmd/cosign@$COSIGN_VERSION"
  echo "$COSIGN_VERSION" >"$stamp"
  log "cosign $COSIGN_VERSION built in $((SECONDS - start))s: $BIN/cosign ($(du -h "$BIN/cosign" | cut -f1))"
}

install_trivy
install_cosign

if [[ ${1:-} == --env ]]; then
  printf 'export GOIMAGE_TRIVY=%q\n' "$BIN/trivy"
  printf 'export GOIMAGE_COSIGN=%q\n' "$BIN/cosign"
fi
