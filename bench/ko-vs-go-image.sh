#!/usr/bin/env bash
# ko-vs-go-image.sh: build and push testdata/service with ko and with
# go-image's CLI (and the Dagger module, when an engine answers), in one
# run, and print a side-by-side table, then issue 16's four goals as
# ratios, each marked met or not met:
#   cold   = fresh GOCACHE (the standard library is compiled too); for
#            Dagger, fresh cache volumes (a new --cache-namespace)
#   no-op  = the same source again (warm cache)
#   warm   = after a one-line change to main.go
#   stored = manifest + config + compressed layers, as the registry stores them
# Both push to a loopback registry (bench/registry, go-containerregistry's
# pkg/registry). ko's default base, cgr.dev/chainguard/static, is unreachable
# here, so ko's base is an empty linux/amd64 OCI image served by that same
# registry (KO_DEFAULTBASEIMAGE); go-image uses its own scratch base.
#
# Every round uses a fresh GOCACHE, so the cold and no-op digests of all
# rounds must be one digest per tool ("same digest every build"), the CLI's
# and the Dagger module's one digest, and their one-line-change digests one
# digest too (the remote-cache row's included). A wrong digest or a broken
# tool fails the script; a goal not met does not (timings vary with the
# machine's load, which the output states).
#
# With an engine whose containers reach the host on GOIMAGE_E2E_BRIDGE
# (ci/engine/engine.sh sets it), two more Dagger rows use a remote build
# cache (with-build-cache) in a second loopback registry on that address:
# "filling" builds the unchanged source with fresh cache volumes and an
# empty remote cache, which it fills, as the previous run of an ephemeral
# CI does; then "fresh engine + remote cache" builds the one-line change
# with other fresh cache volumes, served by that cache. The plain Dagger
# row uses no remote cache: its cold build is the "fresh engine, no
# remote cache" figure.
#
# Usage: [ROUNDS=3] bench/ko-vs-go-image.sh   (from anywhere; needs go and the
#                                              Go module proxy once, to install ko)
set -euo pipefail

KO_VERSION=v0.19.1 # the latest the module proxy served when this was written

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/ko-vs-go-image.XXXXXX)
PIDS=()
cleanup() {
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT

log() { echo "bench: $*" >&2; }

log "installing ko $KO_VERSION from the module proxy and building go-image + the loopback registry"
GOBIN="$WORK/bin" go install "github.com/google/ko@$KO_VERSION"
(cd "$ROOT" && go build -o "$WORK/bin/go-image" ./cmd/go-image && go build -o "$WORK/bin/registry" ./bench/registry)
KO="$WORK/bin/ko"
GOIMAGE="$WORK/bin/go-image"

# serve NAME ADDR: start a registry on ADDR; its host:port is in $WORK/NAME.addr.
# (Not in a command substitution: the cleanup must know its PID.)
serve() {
	"$WORK/bin/registry" serve -addr "$2" -ready "$WORK/$1.addr" >"$WORK/$1.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 100); do [[ -s "$WORK/$1.addr" ]] && break; sleep 0.1; done
	[[ -s "$WORK/$1.addr" ]] || { echo "bench: the $1 registry did not start on $2: $(cat "$WORK/$1.log")" >&2; exit 1; }
}
serve push 127.0.0.1:0
REG=$(cat "$WORK/push.addr")
log "registry at $REG; ko base = $REG/base/static:latest (empty OCI image, linux/amd64)"

# now_ms: wall clock in milliseconds.
now_ms() { date +%s%3N; }

# build TOOL SRC TAG [NAMESPACE]: build and push SRC, print the pushed
# reference; on a failure, show the end of the tool's log (it is removed
# with $WORK).
build() {
	if ! build1 "$@"; then
		echo "bench: $1 failed; the end of its log:" >&2
		tail -n 40 "$WORK/$1.log" >&2
		return 1
	fi
}

build1() {
	local tool=$1 src=$2 tag=$3 ns=${4:-} cache=()
	[[ -n ${5:-} ]] && cache=("${CACHE_ARGS[@]}")
	case $tool in
	ko | ko-sw)
		(cd "$src" && KO_DOCKER_REPO="$REG/$tool" KO_DEFAULTBASEIMAGE="$REG/base/static:latest" \
			"$KO" build --bare --platform=linux/amd64 --sbom=none --tags="$tag" . 2>>"$WORK/$tool.log")
		;;
	go-image)
		local rc=0
		"$GOIMAGE" release --timings --source "$src" --address "$REG/$tool:$tag" 2>"$WORK/last-$tag.log" || rc=$?
		cat "$WORK/last-$tag.log" >>"$WORK/$tool.log"
		return "$rc"
		;;
	dagger)
		# The module as a user calls it; the cache namespace names the
		# builder's cache volumes: a new one is a fresh engine's. The
		# scan is off in the source's go-image.yaml, as for the CLI.
		local rc=0 out
		out=$("$DAGGER" call --progress=plain -m "$ROOT" --source="$src" --cache-namespace="$ns" "${cache[@]}" \
			release --address="$REG/$tool:$tag" --registry="tcp://$REG" 2>"$WORK/last-$tag.log") || rc=$?
		cat "$WORK/last-$tag.log" >>"$WORK/$tool.log"
		[[ $rc == 0 && $out == *@sha256:* ]] || { echo "bench: dagger call exited $rc and printed ${out:-nothing}" >>"$WORK/$tool.log"; return 1; }
		echo "${out##*$'\n'}"
		;;
	esac
}

# seconds START END
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }

# median of the numbers on stdin.
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.1f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# The benches compare build and push speed; there is no Trivy DB on the bench
# runner, so go-image's scan gate is off, with this reason in its report. It
# is switched off as a team would, in a committed go-image.yaml that both
# executors read (a chained without-scan would cost the Dagger row one more
# start of the module's runtime).
NOSCAN="bench: build speed; no Trivy DB on the bench runner"
# policy DIR: the source's go-image.yaml for go-image's rows.
policy() { printf 'gates:\n  off: {scan: "%s"}\n' "$NOSCAN" >"$1/go-image.yaml"; }
BENCH_ID=$(date +%s)

# digest REF: the digest the registry holds for REF.
digest() { "$WORK/bin/registry" inspect "$1" | cut -d' ' -f1; }

# run TOOL ROUND: one cold / no-op / warm sequence on a fresh copy of the
# service and a fresh GOCACHE (Dagger: fresh cache volumes); appends
# "cold noop warm" to times-TOOL, the cold and no-op digests to digests-TOOL
# and the one-line change's to changed.
run() {
	local tool=$1 round=$2 src="$WORK/src-$1-$2" ns="bench-$BENCH_ID-$2"
	cp -r "$ROOT/testdata/service" "$src"
	if [[ $tool == ko-sw ]]; then
		# ko does not strip by default; this row gives it go-image's -s -w.
		printf 'builds:\n- id: service\n  main: .\n  ldflags: ["-s", "-w"]\n' >"$src/.ko.yaml"
	fi
	[[ $tool == go-image || $tool == dagger ]] && policy "$src"
	export GOCACHE="$WORK/gocache-$tool-$round" # fresh and empty: a cold build
	log "round $round, $tool: cold build, no-op rebuild, warm build after a one-line change"
	local t0 t1 t2 t3 t4 ref1 ref2 ref3 d1 d2 d3 stored layers
	t0=$(now_ms); ref1=$(build "$tool" "$src" "cold$round" "$ns"); t1=$(now_ms)
	ref2=$(build "$tool" "$src" "again$round" "$ns"); t2=$(now_ms)
	sed -i 's/hello from service/hello again from service/' "$src/main.go"
	grep -q 'hello again from service' "$src/main.go" || { echo "bench: the one-line change did not apply" >&2; exit 1; }
	t3=$(now_ms); ref3=$(build "$tool" "$src" "changed$round" "$ns"); t4=$(now_ms)
	[[ $tool == go-image || $tool == dagger ]] && cp "$WORK/last-changed$round.log" "$WORK/timings-$tool"
	unset GOCACHE
	read -r d1 stored layers < <("$WORK/bin/registry" inspect "$ref1")
	d2=$(digest "$ref2")
	d3=$(digest "$ref3")
	[[ $d3 != "$d1" ]] || { echo "bench: $tool: the changed source gave the same digest" >&2; exit 1; }
	echo "$(seconds "$t0" "$t1") $(seconds "$t1" "$t2") $(seconds "$t3" "$t4")" >>"$WORK/times-$tool"
	printf '%s\n%s\n' "$d1" "$d2" >>"$WORK/digests-$tool"
	[[ $tool == go-image || $tool == dagger ]] && echo "$tool $d3" >>"$WORK/changed"
	echo "$stored $layers" >"$WORK/size-$tool"
	rm -rf "$WORK/gocache-$tool-$round"
	if [[ $tool == dagger && ${#CACHE_ARGS[@]} -gt 0 ]]; then
		# Ephemeral CI: the previous run (the unchanged source, fresh
		# cache volumes, filling the remote cache), then this run (the
		# one-line change, other fresh cache volumes, the remote cache).
		local prev="$WORK/src-dagger-fill-$round"
		cp -r "$ROOT/testdata/service" "$prev"
		policy "$prev"
		log "round $round, dagger: fresh cache volumes, filling the remote build cache; then other fresh ones served by it, the one-line change"
		t0=$(now_ms); ref1=$(build dagger "$prev" "fill$round" "$ns-fill" cache); t1=$(now_ms)
		t3=$(now_ms); ref3=$(build dagger "$src" "remote$round" "$ns-remote" cache); t4=$(now_ms)
		echo "$(seconds "$t0" "$t1") $(seconds "$t3" "$t4")" >>"$WORK/times-dagger-remote"
		digest "$ref1" >>"$WORK/digests-dagger"
		echo "dagger-remote $(digest "$ref3")" >>"$WORK/changed"
		cp "$WORK/last-remote$round.log" "$WORK/timings-dagger-remote"
	fi
}

TOOLS=(ko ko-sw go-image)
CACHE_ARGS=()
# The Dagger module joins when an engine answers (ci/engine/engine.sh start).
DAGGER=${GOIMAGE_DAGGER:-$(command -v dagger || true)}
if [[ -n $DAGGER ]] && "$DAGGER" core version >/dev/null 2>&1; then
	TOOLS+=(dagger)
	log "Dagger engine found ($DAGGER): the module joins as 'dagger'"
	if [[ -n ${GOIMAGE_E2E_BRIDGE:-} ]]; then
		serve cache "$GOIMAGE_E2E_BRIDGE:0"
		CACHE=$(cat "$WORK/cache.addr")/bench/go-build-cache
		export GOIMAGE_BUILD_CACHE_KEY
		GOIMAGE_BUILD_CACHE_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
		CACHE_ARGS=(with-build-cache --repository="$CACHE" --key=env:GOIMAGE_BUILD_CACHE_KEY --insecure)
		log "remote build cache for the Dagger rows at $CACHE (the engine's bridge address)"
	else
		log "GOIMAGE_E2E_BRIDGE is unset: no registry the engine's containers reach, so no remote-cache row (goal 3 is not measured)"
	fi
else
	log "no Dagger engine answers: the Dagger module is left out (start one with ci/engine/engine.sh start)"
fi
ROUNDS=${ROUNDS:-3}
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
START=$SECONDS
for round in $(seq "$ROUNDS"); do
	# Rotate the order each round, so no tool always runs first (or while
	# the machine is busiest).
	for i in "${!TOOLS[@]}"; do
		run "${TOOLS[$(((i + round - 1) % ${#TOOLS[@]}))]}" "$round"
	done
done

# col TOOL N: the median of column N of times-TOOL.
col() { awk -v c="$2" '{ print $c }' "$WORK/times-$1" | median; }

ROWS=()
for tool in "${TOOLS[@]}"; do
	cell() { # column: min / median
		local min
		min=$(awk -v c="$1" '{ print $c }' "$WORK/times-$tool" | sort -n | head -1)
		echo "$min / $(col "$tool" "$1")"
	}
	read -r stored layers <"$WORK/size-$tool"
	n=$(sort -u "$WORK/digests-$tool" | wc -l)
	same="no ($n digests)"
	[[ $n == 1 ]] && same="yes: $(head -1 "$WORK/digests-$tool" | cut -c8-19), $(wc -l <"$WORK/digests-$tool") builds"
	ROWS+=("| $tool | $(cell 1) | $(cell 2) | $(cell 3) | $(awk -v n="$stored" 'BEGIN { printf "%.2f MB (%d B)", n / 1e6, n }') | $layers | $same |")
done

echo
echo "ko $KO_VERSION vs go-image on testdata/service, linux/amd64, push to a loopback registry"
echo "($(go version | awk '{print $3}'), $(nproc) CPUs, load average at start $LOAD0 / end $(cut -d' ' -f1-3 /proc/loadavg);"
echo " $ROUNDS rounds, order rotated, $((SECONDS - START)) s in all; times are wall seconds including the push, min / median; each round"
echo " starts from a fresh GOCACHE, so every cold build is independent and all cold + no-op digests must agree)"
echo
echo "| tool | cold (fresh GOCACHE) s | no-op rebuild s | warm, 1-line change s | stored size | layers | same digest every build |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
if [[ -s $WORK/times-dagger-remote ]]; then
	echo "| dagger, filling the remote build cache | $(col dagger-remote 1) | | | | | (in the dagger row's) |"
	echo "| dagger, fresh engine + remote build cache | | | $(col dagger-remote 2) | | | (one digest, below) |"
fi
echo
echo "ko:       ko build --bare --platform=linux/amd64 --sbom=none, KO_DEFAULTBASEIMAGE=<loopback>/base/static (empty image)"
echo "ko-sw:    the same plus .ko.yaml ldflags -s -w (go-image's stripping)"
echo "go-image: go-image release --address <loopback>/go-image:TAG, go-image.yaml: gates.off.scan (scratch + CA bundle + passwd/group; size, upx, harden, lint and smoke gates run before the push)"
if [[ " ${TOOLS[*]} " == *" dagger "* ]]; then
	echo "dagger:   dagger call -m . --source=SRC --cache-namespace=<fresh per round> release --address <loopback>/dagger:TAG --registry tcp://<loopback> (the same go-image.yaml)"
	echo "          (the same gates, in the engine; the module itself is loaded and warm; cold = empty cache volumes, no remote cache)"
	if [[ ${#CACHE_ARGS[@]} -gt 0 ]]; then
		echo "          the remote-cache rows add with-build-cache --repository <bridge registry> --key env:… --insecure, each with cache volumes of its own"
	fi
	cli=$(sort -u "$WORK/digests-go-image" | head -1) dg=$(sort -u "$WORK/digests-dagger" | head -1)
	if [[ $cli != "$dg" ]]; then
		echo "bench: the Dagger module pushed $dg, the CLI $cli: the executors disagree" >&2
		exit 1
	fi
	echo "          the Dagger module and the CLI pushed the same digest: ${cli:7:12}"
	if [[ $(cut -d' ' -f2 "$WORK/changed" | sort -u | wc -l) != 1 ]]; then
		echo "bench: the one-line change gave different digests:" >&2
		cat "$WORK/changed" >&2
		exit 1
	fi
	echo "          and the same digest after the one-line change, in every row: $(cut -d' ' -f2 "$WORK/changed" | head -1 | cut -c8-19)"
fi

# goal NAME VALUE BASE MAX: one ratio and its mark.
goal() {
	awk -v name="$1" -v v="$2" -v b="$3" -v max="$4" 'BEGIN {
		r = v / b
		printf "  %-52s %5.2fx  (%s s / %s s; goal <= %sx)  %s\n", name, r, v, b, max, (r <= max ? "met" : "NOT MET")
	}'
}
echo
echo "Issue 16's goals, from the medians above (a goal not met does not fail the bench):"
echo "1. the CLI, gated, against ko-sw, ungated:"
goal "cold" "$(col go-image 1)" "$(col ko-sw 1)" 1.3
goal "warm, 1-line change" "$(col go-image 3)" "$(col ko-sw 3)" 1.3
goal "no-op" "$(col go-image 2)" "$(col ko-sw 2)" 1.3
if [[ " ${TOOLS[*]} " == *" dagger "* ]]; then
	echo "2. the Dagger module, warm, against the CLI:"
	goal "warm, 1-line change" "$(col dagger 3)" "$(col go-image 3)" 2
	goal "no-op" "$(col dagger 2)" "$(col go-image 2)" 2
	echo "3. Dagger in ephemeral CI (fresh cache volumes), 1-line change, against Dagger warm:"
	if [[ -s $WORK/times-dagger-remote ]]; then
		goal "with the remote build cache" "$(col dagger-remote 2)" "$(col dagger 3)" 1.5
		goal "(fresh engine, no remote cache: the cold row)" "$(col dagger 1)" "$(col dagger 3)" 1.5
	else
		echo "  not measured: no remote-cache row (see above)"
	fi
	echo "4. every row pushed the same digest for the same source: met (checked above; a difference fails the bench)"
else
	echo "2, 3. not measured: no Dagger engine"
	echo "4. every row pushed the same digest for the same source: met for the CLI (checked above)"
fi

# The per-stage breakdown of the last warm 1-line release (go-image
# --timings, and the module's own log).
echo
echo "Per-stage breakdown of the last warm release after the one-line change:"
for t in go-image dagger dagger-remote; do
	[[ -s $WORK/timings-$t ]] || continue
	echo "$t:"
	sed 's/\x1b\[[0-9;]*m//g; s/^.*| //' "$WORK/timings-$t" | sed -n '/go-image: timings:/,/push (tags)/p' | sed 's/^/  /'
done
