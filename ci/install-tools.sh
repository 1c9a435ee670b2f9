#!/usr/bin/env bash
# install-tools.sh builds the external tools go-image's gates and tests run,
# pinned, into ${GOIMAGE_TOOLS:-$HOME/.cache/go-image/tools}/bin. It is
# idempotent: a tool whose recorded version matches the pin is not rebuilt.
# Trivy and cosign are built from source with the Go toolchain because this
# project never downloads prebuilt binaries.
#
# Usage: ci/install-tools.sh            # build what is missing
#        eval "$(ci/install-tools.sh --env)"  # also print `export GOIMAGE_TRIVY=... GOIMAGE_COSIGN=...`
set -euo pipefail

# Keep in sync with internal/trivy.PinnedVersion (a test checks they match).
TRIVY_VERSION=v0.67.2
# cosign is for the tests only: they check go-image's signatures and
# attestations with the real CLI. Keep in sync with internal/sign.CosignVersion.
COSIGN_VERSION=v2.6.1

TOOLS=${GOIMAGE_TOOLS:-$HOME/.cache/go-image/tools}
BIN=$TOOLS/bin
# One Go build cache for everything CI compiles (Trivy, the Dagger engine, the
# tests): their shared dependencies (grpc, protobuf, otel, containerd…) are
# compiled once. GOIMAGE_TOOLS_GOCACHE sets another.
export GOCACHE=${GOIMAGE_TOOLS_GOCACHE:-$(go env GOCACHE)}
mkdir -p "$BIN" "$GOCACHE"

log() { printf '[install-tools] %s\n' "$*" >&2; }

# install NAME VERSION PACKAGE LDFLAGS [VAR=VALUE...] builds NAME from
# PACKAGE@VERSION with go install, unless the stamp says that version is
# already there. -mod=mod builds outside a module with the dependency
# versions the tool's go.mod pins; -trimpath and -s -w (no symbol tables,
# ~1/3 smaller) keep the binary and the build small; CGO_ENABLED=0 leaves
# out what needs C (cosign's PIV/PKCS#11 keys, which no test uses).
install() {
  local name=$1 version=$2 pkg=$3 ldflags=$4
  shift 4
  local stamp=$BIN/.$name.version
  if [[ -x $BIN/$name && -f $stamp && $(cat "$stamp") == "$version" ]]; then
    log "$name $version already in $BIN (skip)"
    return
  fi
  log "building $name $version into $BIN (GOCACHE=$GOCACHE)"
  local start=$SECONDS
  env GOBIN="$BIN" GOFLAGS=-mod=mod CGO_ENABLED=0 "$@" \
    go install -trimpath -ldflags "-s -w $ldflags" "$pkg@$version"
  echo "$version" >"$stamp"
  log "$name $version built in $((SECONDS - start))s: $BIN/$name ($(du -h "$BIN/$name" | cut -f1))"
}

# Trivy: cold ~11-18 min on 2 cores. GOEXPERIMENT=jsonv2: it imports
# encoding/json/v2. app.ver makes `trivy version` report the pin.
install trivy "$TRIVY_VERSION" github.com/aquasecurity/trivy/cmd/trivy \
  "-X github.com/aquasecurity/trivy/pkg/version/app.ver=${TRIVY_VERSION#v}" GOEXPERIMENT=jsonv2
# cosign, after Trivy: the shared GOCACHE already holds the modules both use
# (go-containerregistry, sigstore, grpc, protobuf, cloud SDKs). gitVersion
# makes `cosign version` report the pin.
install cosign "$COSIGN_VERSION" github.com/sigstore/cosign/v2/cmd/cosign \
  "-X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN_VERSION"

if [[ ${1:-} == --env ]]; then
  printf 'export GOIMAGE_TRIVY=%q\n' "$BIN/trivy"
  printf 'export GOIMAGE_COSIGN=%q\n' "$BIN/cosign"
fi
