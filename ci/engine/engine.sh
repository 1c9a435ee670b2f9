#!/usr/bin/env bash
# engine.sh builds a Dagger engine and CLI from the Go module proxy and runs
# them on this machine, for go-image's engine tests (internal/e2e). The engine
# release is the one dagger.json pins (engineVersion): what the tests call is
# what a user with that engine installs.
#
#   ci/engine/engine.sh build   # binaries into $T/bin (cached; ~20-30 min cold on 2 cores)
#   ci/engine/engine.sh start   # build if needed, start the engine in the background,
#                               # wait until it answers; prints `export ...` lines to eval
#   ci/engine/engine.sh stop    # stop it and everything it started
#   ci/engine/engine.sh env     # the `export ...` lines of a running engine
#
# T defaults to ~/.cache/go-image/engine-<version>; start/stop need root
# (mount and PID namespaces, the CNI bridge, iptables). Only one engine runs at
# a time: it owns the bridge goimage0 (10.89.0.1/16).
#
# How it runs without an engine image (see FINDINGS.md for the investigation):
# - engine/distconsts is a nested module the proxy does not serve: a local
#   stand-in holds its constants; sdk/go is replaced by dagger.io/dagger of the
#   same release.
# - Every binary is static (CGO_ENABLED=0), so one build compiles the shared
#   dependencies once; dagger-init must be static anyway (it is bind-mounted
#   into every container as /.init).
# - The engine runs in private mount and PID namespaces, with its fixed paths
#   (/usr/local/bin/{runc,dagger-init}, /usr/local/share/dagger/content, /run)
#   bind-mounted from $T; stopping the namespace's first process stops the
#   engine, dnsmasq and every container.
# - ci/engine/patches holds fixes of later releases, applied to the source
#   before the build: 0001 is dagger/dagger#11795 (after a restart on a used
#   state, a cache volume with a source, like the Go SDK's module cache, is
#   mounted twice by concurrent calls and fails with EINVAL); 0002 waits up to
#   15 s for a nested client's own session (dagger/dagger#10160, #13108: on a
#   loaded machine a module function could return its value before its
#   session registered, "failed to get requester session").
# - The Go SDK runtime image is built locally (ci/engine/sdkimage) into the
#   engine's builtin content store.
# - Docker Hub is replaced by a mirror on 127.0.0.1:$MIRROR_PORT (engine.toml);
#   the engine tests serve stand-in images there (internal/e2e/standin).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VERSION=$(sed -n 's/.*"engineVersion": *"\([^"]*\)".*/\1/p' "$repo/dagger.json")
[[ -n $VERSION ]] || { echo "engine.sh: no engineVersion in dagger.json" >&2; exit 1; }
T=${T:-$HOME/.cache/go-image/engine-$VERSION}
NET=goimage
CIDR=10.89.0.0/16
BRIDGE_IP=10.89.0.1
MIRROR_PORT=${GOIMAGE_E2E_MIRROR_PORT:-5000}
# Bump when the build below changes, so cached binaries are rebuilt.
BUILD_REV=4

log() { printf '[engine] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# The dagger module zips of these releases are not in sum.golang.org as served
# here (lookup 404): checksum-db verification is off for this build only.
# Dependencies are still checked against the go.sum inside the dagger zip.
# source prepares a buildable copy of the release's source in $T/src and
# prints the module cache directory it came from.
source_dir() {
  local dir
  dir=$(GOFLAGS=-mod=mod GOSUMDB=off go mod download -json "github.com/dagger/dagger@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [[ -d $dir ]] || die "go mod download github.com/dagger/dagger@$VERSION gave no directory"
  echo "$dir"
}

prepare_source() {
  local dir; dir=$(source_dir)
  mkdir -p "$T"
  rm -rf "$T/src"; cp -r "$dir" "$T/src"; chmod -R u+w "$T/src"
  mkdir -p "$T/distconsts"
  printf 'module github.com/dagger/dagger/engine/distconsts\n\ngo 1.22\n' >"$T/distconsts/go.mod"
  cat >"$T/distconsts/consts.go" <<'GO'
// Local stand-in for github.com/dagger/dagger/engine/distconsts (not served by the proxy).
package distconsts

const (
	EngineContainerName                = "dagger-engine.dev"
	DefaultEngineSockAddr              = "unix:///run/dagger/engine.sock"
	RuncPath                           = "/usr/local/bin/runc"
	DaggerInitPath                     = "/usr/local/bin/dagger-init"
	EngineDefaultStateDir              = "/var/lib/dagger"
	EngineContainerBuiltinContentDir   = "/usr/local/share/dagger/content"
	GoSDKManifestDigestEnvName         = "DAGGER_GO_SDK_MANIFEST_DIGEST"
	PythonSDKManifestDigestEnvName     = "DAGGER_PYTHON_SDK_MANIFEST_DIGEST"
	TypescriptSDKManifestDigestEnvName = "DAGGER_TYPESCRIPT_SDK_MANIFEST_DIGEST"
	EngineCustomCACertsDir             = "/usr/local/share/ca-certificates"
	OCIVersionAnnotation               = "org.opencontainers.image.version"
	// Only used for default images pulled from Docker Hub (terminal, tests).
	AlpineVersion  = "3.22.1"
	AlpineImage    = "alpine:" + AlpineVersion
	GolangVersion  = "1.25.3"
	GolangImage    = "golang:" + GolangVersion + "-alpine"
	BusyboxVersion = "1.37.0"
	BusyboxImage   = "busybox:" + BusyboxVersion
)
GO
  # Fixes of later releases that the tests need, backported (see each patch).
  local p
  for p in "$repo"/ci/engine/patches/*.patch; do
    (cd "$T/src" && git apply "$p") || die "$p does not apply to Dagger $VERSION"
  done
  (cd "$T/src" && go mod edit -dropreplace dagger.io/dagger -require "dagger.io/dagger@$VERSION" \
    -replace "github.com/dagger/dagger/engine/distconsts=$T/distconsts")
}

stamp() { echo "$VERSION $(go env GOVERSION) rev$BUILD_REV"; }

build() {
  if [[ -f $T/bin/.stamp && $(cat "$T/bin/.stamp") == "$(stamp)" ]]; then
    log "engine $VERSION already built in $T/bin (skip)"
    return
  fi
  install_packages
  local start=$SECONDS
  log "building Dagger $VERSION (engine, CLI, dagger-init, dnsname, codegen) into $T/bin"
  prepare_source
  local ldf="-s -w -X github.com/dagger/dagger/engine.Version=$VERSION -X github.com/dagger/dagger/engine.Tag=$VERSION"
  local out=$T/bin.tmp
  rm -rf "$out"; mkdir -p "$out"
  (cd "$T/src" && GOFLAGS=-mod=mod GOSUMDB=off CGO_ENABLED=0 go build -trimpath -ldflags "$ldf" -o "$out/" \
    ./cmd/engine ./cmd/dagger ./cmd/init ./cmd/dnsname ./cmd/codegen)
  mv "$out/engine" "$out/dagger-engine"; mv "$out/init" "$out/dagger-init"
  stamp >"$out/.stamp"
  rm -rf "${T:?}/bin"; mv "$out" "$T/bin"
  rm -rf "$T/src"
  log "built in $((SECONDS - start))s: $(du -sh "$T/bin" | cut -f1)"
}

# codegen prints a codegen binary of the release, for ci/gen-bindings.sh:
# the engine build's, else one built alone (about 2 minutes cold).
codegen() {
  if [[ -f $T/bin/.stamp && $(cat "$T/bin/.stamp") == "$(stamp)" ]]; then
    echo "$T/bin/codegen"; return
  fi
  if [[ ! -f $T/codegen/.stamp || $(cat "$T/codegen/.stamp") != "$(stamp)" ]]; then
    log "building Dagger $VERSION codegen into $T/codegen"
    prepare_source
    mkdir -p "$T/codegen"
    (cd "$T/src" && GOFLAGS=-mod=mod GOSUMDB=off CGO_ENABLED=0 go build -trimpath -o "$T/codegen/codegen" ./cmd/codegen)
    stamp >"$T/codegen/.stamp"
    rm -rf "$T/src"
  fi
  echo "$T/codegen/codegen"
}

# schema prints the release's core API schema (SDL), which ci/gen-bindings.sh
# turns into the introspection JSON codegen reads.
schema() { echo "$(source_dir)/docs/docs-graphql/schema.graphqls"; }

install_packages() {
  local need=()
  for p in runc:runc dnsmasq:dnsmasq-base iptables:iptables busybox:busybox-static; do
    command -v "${p%%:*}" >/dev/null || need+=("${p#*:}")
  done
  [[ -d /usr/lib/cni ]] || need+=(containernetworking-plugins)
  [[ -f /etc/ssl/certs/ca-certificates.crt ]] || need+=(ca-certificates)
  ((${#need[@]})) || return 0
  [[ $(id -u) == 0 ]] || die "need root to install ${need[*]}"
  log "apt-get install ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}

env_lines() {
  printf 'export _EXPERIMENTAL_DAGGER_RUNNER_HOST=%q\n' "unix://$T/engine.sock"
  printf 'export GOIMAGE_DAGGER=%q\n' "$T/bin/dagger"
  printf 'export GOIMAGE_E2E_MIRROR=%q\n' "127.0.0.1:$MIRROR_PORT"
  printf 'export GOIMAGE_E2E_BRIDGE=%q\n' "$BRIDGE_IP"
  printf 'export DO_NOT_TRACK=1 DAGGER_NO_NAG=1\n'
}

start() {
  [[ $(id -u) == 0 ]] || die "start needs root (namespaces, CNI bridge, iptables)"
  build
  stop 2>/dev/null || true
  install_packages
  mkdir -p "$T/localbin" "$T/cni-bin" "$T/state" "$T/ushare/dagger/content"
  cp "$T/bin/dagger-engine" "$T/bin/dagger-init" "$T/localbin/"
  ln -sf "$(command -v runc)" "$T/localbin/runc"
  cp /usr/lib/cni/* "$T/cni-bin/"; cp "$T/bin/dnsname" "$T/cni-bin/"

  # The bridge exists before the engine, so registries can listen on its
  # address for containers (release targets, Trivy's DB mirror); the CNI
  # bridge plugin adopts it.
  if ! ip link show "${NET}0" >/dev/null 2>&1; then
    ip link add "${NET}0" type bridge
    ip addr add "$BRIDGE_IP/16" dev "${NET}0"
  fi
  ip link set "${NET}0" up

  log "Go SDK runtime image -> $T/ushare/dagger/content"
  local digest
  digest=$(cd "$repo" && go run ./ci/engine/sdkimage -codegen "$T/bin/codegen" -content "$T/ushare/dagger/content")
  cat >"$T/engine.toml" <<TOML
debug = true
# Bounded cache: CI machines share this disk with the Go build cache, and
# an engine that fills it fails the next run. Above maxUsedSpace, or below
# minFreeSpace free, the engine's GC drops the least recently used records.
# A GC during a call can fail it inside the engine ("could not get used
# client id", seen once at 18 GB of state with a 16 GB bound), so the bound
# sits well above one test run (about 12 GB from empty), and ci/test.sh
# prunes a state that a run could push over it.
[worker.oci]
  maxUsedSpace = "${ENGINE_MAX_CACHE:-30GB}"
  minFreeSpace = "${ENGINE_MIN_FREE:-12GB}"
  reservedSpace = "2GB"
[registry."docker.io"]
  mirrors = ["127.0.0.1:$MIRROR_PORT"]
[registry."127.0.0.1:$MIRROR_PORT"]
  http = true
  insecure = true
[registry."$BRIDGE_IP:$MIRROR_PORT"]
  http = true
  insecure = true
TOML
  log "starting engine $VERSION (log: $T/engine.log)"
  DAGGER_GO_SDK_MANIFEST_DIGEST=$digest GOPROXY=${GOPROXY:-https://proxy.golang.org,direct} \
    setsid unshare --mount --pid --fork --kill-child=SIGTERM --mount-proc --propagation private -- sh -c "
    mount -t tmpfs tmpfs /run
    mount --bind '$T/localbin' /usr/local/bin
    mkdir -p /usr/local/share
    mount --bind '$T/ushare' /usr/local/share
    exec /usr/local/bin/dagger-engine --config '$T/engine.toml' --root '$T/state' \
      --oci-cni-binary-dir '$T/cni-bin' --network-name $NET --network-cidr $CIDR \
      --addr 'unix://$T/engine.sock'" >"$T/engine.log" 2>&1 &
  echo $! >"$T/engine.pid"
  local deadline=$((SECONDS + 180))
  until _EXPERIMENTAL_DAGGER_RUNNER_HOST=unix://$T/engine.sock DO_NOT_TRACK=1 \
    timeout 60 "$T/bin/dagger" core version >/dev/null 2>&1; do
    if ! kill -0 "$(cat "$T/engine.pid")" 2>/dev/null; then
      tail -n 30 "$T/engine.log" >&2; die "the engine exited"
    fi
    ((SECONDS < deadline)) || { tail -n 30 "$T/engine.log" >&2; die "the engine did not answer within 180s"; }
    sleep 1
  done
  log "engine $VERSION answers on unix://$T/engine.sock"
  env_lines
}

stop() {
  local pid
  pid=$(cat "$T/engine.pid" 2>/dev/null || true)
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    log "stopping engine (pid $pid)"
    # unshare --kill-child passes SIGTERM to the engine; when the engine, the
    # PID namespace's first process, exits, the kernel ends dnsmasq and every
    # container with it.
    kill -TERM "$pid" 2>/dev/null || true
  fi
  for _ in $(seq 1 30); do pgrep -f "$T/engine.toml" >/dev/null || break; sleep 1; done
  pkill -KILL -f "$T/engine.toml" 2>/dev/null || true
  rm -f "$T/engine.pid" "$T/engine.sock"
  ip link del "${NET}0" 2>/dev/null || true
}

# prune drops the engine's cache (its state directory), for a machine short
# of disk. Only with the engine stopped: a running engine owns the state.
prune() {
  if pgrep -f "$T/engine.toml" >/dev/null; then
    die "the engine is running; stop it first (ci/engine/engine.sh stop)"
  fi
  log "dropping the engine's cache $T/state ($(du -sh "$T/state" 2>/dev/null | cut -f1 || echo empty))"
  rm -rf "$T/state"
}

case ${1:-} in
  build) build ;;
  prune) prune ;;
  codegen) codegen ;;
  schema) schema ;;
  version) echo "$VERSION" ;;
  start) start ;;
  stop) stop ;;
  env) env_lines ;;
  *) echo "usage: $0 build|start|stop|prune|env|codegen|schema|version" >&2; exit 2 ;;
esac
