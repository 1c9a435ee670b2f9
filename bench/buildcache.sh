#!/usr/bin/env bash
# buildcache.sh: what --build-cache buys a CI run on a fresh machine. Builds
# testdata/service with the go-image CLI, in one run, against a loopback
# registry (bench/registry, go-containerregistry's pkg/registry):
#   cold, no cache            fresh GOCACHE, no --build-cache (the baseline)
#   cold, filling the cache   fresh GOCACHE, empty registry: the upload's cost
#   cold local, warm remote   fresh GOCACHE, the registry filled by the row above
#   warm local, warm remote   the same GOCACHE again (a no-op build)
#   warm local, no cache      the baseline's GOCACHE again
# Each row prints seconds, the digest (all must be one) and the machine's
# load average, since the numbers mean little without it.
#
# Usage: bench/buildcache.sh   (from anywhere; needs go, no network)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/go-image-buildcache.XXXXXX)
REG_PID=""
cleanup() {
	if [[ -n "$REG_PID" ]]; then kill "$REG_PID" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

(cd "$ROOT" && go build -o "$WORK/go-image" ./cmd/go-image && go build -o "$WORK/registry" ./bench/registry)
"$WORK/registry" serve -addr 127.0.0.1:0 -ready "$WORK/addr" &
REG_PID=$!
for _ in $(seq 100); do [[ -s "$WORK/addr" ]] && break; sleep 0.1; done
[[ -s "$WORK/addr" ]] || { echo "bench: the loopback registry did not start" >&2; exit 1; }
CACHE="$(cat "$WORK/addr")/ci/go-build-cache"
export GOIMAGE_BUILD_CACHE_KEY
GOIMAGE_BUILD_CACHE_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')

# row NAME GOCACHE [flags]: one build, one table row.
row() {
	local name=$1 gocache=$2
	shift 2
	local load start end digest
	load=$(cut -d' ' -f1 /proc/loadavg)
	start=$(date +%s%3N)
	digest=$(GOCACHE="$gocache" "$WORK/go-image" build --source "$ROOT/testdata/service" --output "$WORK/out.tar" "$@" 2>"$WORK/log") ||
		{ cat "$WORK/log" >&2; exit 1; }
	end=$(date +%s%3N)
	printf '| %s | %d.%03d | %s | %s |\n' "$name" $(((end - start) / 1000)) $(((end - start) % 1000)) "${digest:7:12}" "$load"
	grep -h 'build cache' "$WORK/log" | sed 's/^/    /' >&2 || true
}

echo "| build of testdata/service | s | digest | load (1 min) before |"
echo "|---|---|---|---|"
row "cold, no cache" "$WORK/gc-baseline"
row "cold, filling the cache" "$WORK/gc-fill" --build-cache "$CACHE"
row "cold local, warm remote" "$WORK/gc-remote" --build-cache "$CACHE"
row "warm local, warm remote (no-op)" "$WORK/gc-remote" --build-cache "$CACHE"
row "warm local, no cache (no-op)" "$WORK/gc-baseline"
echo "($(nproc) cores)"
