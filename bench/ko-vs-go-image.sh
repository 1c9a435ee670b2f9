#!/usr/bin/env bash
# ko-vs-go-image.sh: build and push testdata/service with ko and with
# go-image's CLI, in one run, and print a side-by-side table:
#   cold   = fresh GOCACHE (the standard library is compiled too)
#   no-op  = the same source again (warm cache)
#   warm   = after a one-line change to main.go
#   stored = manifest + config + compressed layers, as the registry stores them
# Both push to a loopback registry (bench/registry, go-containerregistry's
# pkg/registry). ko's default base, cgr.dev/chainguard/static, is unreachable
# here, so ko's base is an empty linux/amd64 OCI image served by that same
# registry (KO_DEFAULTBASEIMAGE); go-image uses its own scratch base.
#
# Every round uses a fresh GOCACHE, so the cold and no-op digests of all
# rounds must be one digest per tool ("same digest every build").
#
# Usage: [ROUNDS=3] bench/ko-vs-go-image.sh   (from anywhere; needs go and the
#                                              Go module proxy once, to install ko)
set -euo pipefail

KO_VERSION=v0.19.1 # the latest the module proxy served when this was written

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/ko-vs-go-image.XXXXXX)
REG_PID=""
cleanup() {
	if [[ -n "$REG_PID" ]]; then kill "$REG_PID" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

log() { echo "bench: $*" >&2; }

log "installing ko $KO_VERSION from the module proxy and building go-image + the loopback registry"
GOBIN="$WORK/bin" go install "github.com/google/ko@$KO_VERSION"
(cd "$ROOT" && go build -o "$WORK/bin/go-image" ./cmd/go-image && go build -o "$WORK/bin/registry" ./bench/registry)
KO="$WORK/bin/ko"
GOIMAGE="$WORK/bin/go-image"

"$WORK/bin/registry" serve -addr 127.0.0.1:0 -ready "$WORK/addr" &
REG_PID=$!
for _ in $(seq 100); do [[ -s "$WORK/addr" ]] && break; sleep 0.1; done
[[ -s "$WORK/addr" ]] || { echo "bench: the loopback registry did not start" >&2; exit 1; }
REG=$(cat "$WORK/addr")
log "registry at $REG; ko base = $REG/base/static:latest (empty OCI image, linux/amd64)"

# now_ms: wall clock in milliseconds.
now_ms() { date +%s%3N; }

# build TOOL SRC TAG: build and push SRC, print the pushed reference; on a
# failure, show the end of the tool's log (it is removed with $WORK).
build() {
	if ! build1 "$@"; then
		echo "bench: $1 failed; the end of its log:" >&2
		tail -n 40 "$WORK/$1.log" >&2
		return 1
	fi
}

build1() {
	local tool=$1 src=$2 tag=$3
	case $tool in
	ko | ko-sw)
		(cd "$src" && KO_DOCKER_REPO="$REG/$tool" KO_DEFAULTBASEIMAGE="$REG/base/static:latest" \
			"$KO" build --bare --platform=linux/amd64 --sbom=none --tags="$tag" . 2>>"$WORK/$tool.log")
		;;
	go-image)
		"$GOIMAGE" release --source "$src" --address "$REG/$tool:$tag" --no-scan "$NOSCAN" 2>>"$WORK/$tool.log"
		grep -h 'compiled' "$WORK/$tool.log" | tail -1 >&2
		;;
	dagger)
		# The module as a user calls it; a fresh cache namespace per round
		# gives the builder empty module and build caches (a cold build).
		"$DAGGER" call -m "$ROOT" --source="$src" --cache-namespace="bench-$BENCH_ID-$round" \
			without-scan --reason="$NOSCAN" \
			release --address="$REG/$tool:$tag" --registry="tcp://$REG" 2>>"$WORK/$tool.log" | tail -1
		;;
	esac
}

# seconds START END
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }

# median of the numbers on stdin.
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.1f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# The benches compare build and push speed; there is no Trivy DB on the bench
# runner, so go-image's scan gate is off, with this reason in its report.
NOSCAN="bench: build speed; no Trivy DB on the bench runner"
BENCH_ID=$(date +%s)

# run TOOL ROUND: one cold / no-op / warm sequence on a fresh copy of the
# service and a fresh GOCACHE; appends "cold noop warm" to times-TOOL and the
# digests to digests-TOOL.
run() {
	local tool=$1 round=$2 src="$WORK/src-$1-$2"
	cp -r "$ROOT/testdata/service" "$src"
	if [[ $tool == ko-sw ]]; then
		# ko does not strip by default; this row gives it go-image's -s -w.
		printf 'builds:\n- id: service\n  main: .\n  ldflags: ["-s", "-w"]\n' >"$src/.ko.yaml"
	fi
	export GOCACHE="$WORK/gocache-$tool-$round" # fresh and empty: a cold build
	log "round $round, $tool: cold build, no-op rebuild, warm build after a one-line change"
	local t0 t1 t2 t3 t4 ref1 ref2 ref3 d1 d2 d3 stored layers
	t0=$(now_ms); ref1=$(build "$tool" "$src" "cold$round"); t1=$(now_ms)
	ref2=$(build "$tool" "$src" "again$round"); t2=$(now_ms)
	sed -i 's/hello from service/hello again from service/' "$src/main.go"
	grep -q 'hello again from service' "$src/main.go" || { echo "bench: the one-line change did not apply" >&2; exit 1; }
	t3=$(now_ms); ref3=$(build "$tool" "$src" "changed$round"); t4=$(now_ms)
	unset GOCACHE
	read -r d1 stored layers < <("$WORK/bin/registry" inspect "$ref1")
	read -r d2 _ _ < <("$WORK/bin/registry" inspect "$ref2")
	read -r d3 _ _ < <("$WORK/bin/registry" inspect "$ref3")
	[[ $d3 != "$d1" ]] || { echo "bench: $tool: the changed source gave the same digest" >&2; exit 1; }
	echo "$(seconds "$t0" "$t1") $(seconds "$t1" "$t2") $(seconds "$t3" "$t4")" >>"$WORK/times-$tool"
	printf '%s\n%s\n' "$d1" "$d2" >>"$WORK/digests-$tool"
	echo "$stored $layers" >"$WORK/size-$tool"
	rm -rf "$WORK/gocache-$tool-$round"
}

TOOLS=(ko ko-sw go-image)
# The Dagger module joins when an engine answers (ci/engine/engine.sh start).
DAGGER=${GOIMAGE_DAGGER:-$(command -v dagger || true)}
if [[ -n $DAGGER ]] && "$DAGGER" core version >/dev/null 2>&1; then
	TOOLS+=(dagger)
	log "Dagger engine found ($DAGGER): the module joins as 'dagger'"
else
	log "no Dagger engine answers: the Dagger module is left out (start one with ci/engine/engine.sh start)"
fi
ROUNDS=${ROUNDS:-3}
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq "$ROUNDS"); do
	# Rotate the order each round, so no tool always runs first (or while
	# the machine is busiest).
	for i in "${!TOOLS[@]}"; do
		run "${TOOLS[$(((i + round - 1) % ${#TOOLS[@]}))]}" "$round"
	done
done

ROWS=()
for tool in "${TOOLS[@]}"; do
	cell() { # column: min / median
		local col=$1
		local min med
		min=$(awk -v c="$col" '{ print $c }' "$WORK/times-$tool" | sort -n | head -1)
		med=$(awk -v c="$col" '{ print $c }' "$WORK/times-$tool" | median)
		echo "$min / $med"
	}
	read -r stored layers <"$WORK/size-$tool"
	n=$(sort -u "$WORK/digests-$tool" | wc -l)
	same="no ($n digests)"
	[[ $n == 1 ]] && same="yes: $(head -1 "$WORK/digests-$tool" | cut -c8-19), $((ROUNDS * 2)) builds"
	ROWS+=("| $tool | $(cell 1) | $(cell 2) | $(cell 3) | $(awk -v n="$stored" 'BEGIN { printf "%.2f MB (%d B)", n / 1e6, n }') | $layers | $same |")
done

echo
echo "ko $KO_VERSION vs go-image on testdata/service, linux/amd64, push to a loopback registry"
echo "($(go version | awk '{print $3}'), $(nproc) CPUs, load average at start $LOAD0 / end $(cut -d' ' -f1-3 /proc/loadavg);"
echo " $ROUNDS rounds, order rotated; times are wall seconds including the push, min / median; each round"
echo " starts from a fresh GOCACHE, so every cold build is independent and all cold + no-op digests must agree)"
echo
echo "| tool | cold (fresh GOCACHE) s | no-op rebuild s | warm, 1-line change s | stored size | layers | same digest every build |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
echo
echo "ko:       ko build --bare --platform=linux/amd64 --sbom=none, KO_DEFAULTBASEIMAGE=<loopback>/base/static (empty image)"
echo "ko-sw:    the same plus .ko.yaml ldflags -s -w (go-image's stripping)"
echo "go-image: go-image release --address <loopback>/go-image:TAG --no-scan (scratch + CA bundle + passwd/group; size, upx, harden, lint and smoke gates run before the push)"
if [[ " ${TOOLS[*]} " == *" dagger "* ]]; then
	echo "dagger:   dagger call -m . --source=SRC --cache-namespace=<fresh per round> without-scan release --address <loopback>/dagger:TAG --registry tcp://<loopback>"
	echo "          (the same gates, in the engine; the module itself is loaded and warm; cold = empty builder caches)"
	cli=$(sort -u "$WORK/digests-go-image" | head -1) dg=$(sort -u "$WORK/digests-dagger" | head -1)
	[[ $cli == "$dg" ]] && echo "          the Dagger module and the CLI pushed the same digest: ${cli:7:12}" ||
		{ echo "bench: the Dagger module pushed $dg, the CLI $cli: the executors disagree" >&2; exit 1; }
fi
