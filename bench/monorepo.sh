#!/usr/bin/env bash
# monorepo.sh: how go-image scales with the number of main packages of a
# repository. For each repository below, at its pinned commit, with the
# policy file bench/monorepo/<name>.go-image.yaml as its go-image.yaml
# (every main package of the repository, each exception with its reason):
#
#   one call   go-image release of every binary in one call
#   N calls    one go-image release --main M per binary, one after the other,
#              sharing one GOCACHE (as a loop in CI would): only the first
#              compiles the dependencies
#   alone      each binary in a call of its own; the slowest (the largest
#              median over the rounds) is the bar: the goal is one call
#              <= 1.5x the slowest binary alone
#   ko         ko build of the same packages in one call (no gates)
#
# cold = a fresh GOCACHE (the standard library and every dependency are
# compiled; the module cache is warm), warm = the same call again. Every
# go-image call runs its gates (size, upx, harden, lint; scan and smoke as
# the policy says) and pushes to a loopback registry (bench/registry); the
# digests of the one call must equal those of the N calls. The order of the
# four rotates from round to round. Besides wall seconds, each call's CPU
# seconds (user+sys) are logged and tabled: the machine's other load
# stretches wall time, CPU time much less, so the two together tell load
# noise from work.
#
# Usage: [ROUNDS=1] bench/monorepo.sh [--clone-from DIR] WORKDIR [REPO...]
#   --clone-from DIR  lay out WORKDIR/<name> from DIR/<owner>+<name>/repo,
#                     bare clones (the fetch tool's mirror), at the commits
#                     below; without it WORKDIR/<name> must be checkouts
#   REPO              podinfo, nsq (default: both)
#   ROUNDS            rounds per repository; each figure is the median
# Needs go and the Go module proxy (ko is built from it, as in
# bench/ko-vs-go-image.sh). Logs every call (wall, CPU, compile, load) and
# prints the tables README shows.
set -euo pipefail

KO_VERSION=v0.19.1
# name owner/repo commit
REPOS=(
	"podinfo stefanprodan/podinfo eec06d1ea459af4cb4e10e806f8be7c7bd58b361"
	"nsq nsqio/nsq 3103474b6c5afe8feca0a598797e82c06ed726e3"
)

ROOT=$(cd "$(dirname "$0")/.." && pwd)
clone_from=""
if [[ ${1:-} == --clone-from ]]; then
	clone_from=$2
	shift 2
fi
[[ $# -ge 1 ]] || { sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
CORPUS=$(mkdir -p "$1" && cd "$1" && pwd)
shift
WANT=("$@")

WORK=$(mktemp -d /tmp/monorepo-bench.XXXXXX)
REG_PID=""
cleanup() {
	if [[ -n $REG_PID ]]; then kill "$REG_PID" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "bench: $*" >&2; }

log "building go-image, the loopback registry and ko $KO_VERSION"
(cd "$ROOT" && go build -o "$WORK/bin/go-image" ./cmd/go-image && go build -o "$WORK/bin/registry" ./bench/registry)
GOBIN="$WORK/bin" go install "github.com/google/ko@$KO_VERSION"
"$WORK/bin/registry" serve -addr 127.0.0.1:0 -ready "$WORK/addr" &
REG_PID=$!
for _ in $(seq 100); do [[ -s $WORK/addr ]] && break; sleep 0.1; done
REG=$(cat "$WORK/addr")

now_ms() { date +%s%3N; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1000 }'; }

# go_seconds DURATION: a Go duration as go-image logs it (1m2.5s, 845ms) in
# seconds.
go_seconds() {
	awk -v d="$1" 'BEGIN {
		s = 0
		while (match(d, /^[0-9.]+(h|ms|m|s|µs)/)) {
			t = substr(d, 1, RLENGTH); d = substr(d, RLENGTH + 1)
			v = t + 0; u = t; sub(/^[0-9.]+/, "", u)
			s += v * (u == "h" ? 3600 : u == "m" ? 60 : u == "s" ? 1 : u == "ms" ? 0.001 : 0.000001)
		}
		printf "%.1f", s
	}'
}

# timed LABEL CMD...: run CMD in the checkout, print its wall and CPU
# (user+sys: less sensitive to the machine's other load than wall) seconds;
# log them with the compile time go-image logged and the load average
# (kept in $WORK/loads); on a failure show the end of its log.
timed() {
	local label=$1
	shift
	local t wall user sys cpu compile=""
	# The redirections are inside the subshell: on the timed command
	# they would swallow time's own report.
	if ! t=$({ TIMEFORMAT='%R %U %S'; time (cd "$SRC" && "$@" >"$WORK/out" 2>"$WORK/log"); } 2>&1); then
		log "$label failed; the end of its log:"
		tail -n 30 "$WORK/log" >&2
		exit 1
	fi
	read -r wall user sys <<<"$t"
	wall=$(awk -v w="$wall" 'BEGIN { printf "%.2f", w }')
	cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
	local d
	d=$(sed -n 's/^go-image: compiled .* in \([^ ]*\)$/\1/p' "$WORK/log" | tail -n 1)
	[[ -z $d ]] || compile=", compile $(go_seconds "$d") s"
	local load
	load=$(cut -d' ' -f1 /proc/loadavg)
	echo "$load" >>"$WORK/loads"
	log "$label: wall $wall s, CPU $cpu s$compile, load $load"
	echo "$wall $cpu"
}

fresh_cache() { rm -rf "$WORK/gocache"; export GOCACHE="$WORK/gocache"; }

ROWS=() CPU_ROWS=()
for entry in "${REPOS[@]}"; do
	read -r name repo commit <<<"$entry"
	if [[ ${#WANT[@]} -gt 0 && " ${WANT[*]} " != *" $name "* ]]; then continue; fi
	SRC="$CORPUS/$name"
	if [[ -n $clone_from ]]; then
		rm -rf "$SRC"
		git clone -q "$clone_from/${repo/\//+}/repo" "$SRC"
		git -C "$SRC" checkout -q "$commit"
	fi
	[[ -d $SRC ]] || { log "no checkout $SRC (use --clone-from)"; exit 1; }
	cp "$ROOT/bench/monorepo/$name.go-image.yaml" "$SRC/go-image.yaml"
	(cd "$SRC" && go mod download)
	mapfile -t mains < <("$WORK/bin/go-image" config --source "$SRC" --format json | awk -F'"' '/^      "main": "/ { print $4 }')
	mapfile -t names < <("$WORK/bin/go-image" config --source "$SRC" --format json | awk -F'"' '/^      "name": "/ { print $4 }')
	n=${#mains[@]}
	log "$name@$commit: $n binaries (${names[*]})"
	gi=("$WORK/bin/go-image" release --source .)
	ko=(env KO_DOCKER_REPO="$REG/$name-ko" KO_DEFAULTBASEIMAGE="$REG/base/static:latest" "$WORK/bin/ko" build --base-import-paths --platform=linux/amd64 --sbom=none --tags=v1)
	: >"$WORK/rounds"
	: >"$WORK/alone"
	# The four measurements of a round, each from a fresh GOCACHE. The
	# order rotates from round to round, so that a burst of the machine's
	# other load does not always fall on the same one.
	measure_one() {
		fresh_cache
		read -r one_cold one_cold_cpu < <(timed "one call" "${gi[@]}" --address "$REG/$name-one/{name}:v1")
		cp "$WORK/out" "$WORK/one.refs"
		read -r one_warm one_warm_cpu < <(timed "one call, warm" "${gi[@]}" --address "$REG/$name-one/{name}:v1")
	}
	# N calls one after the other, as a loop in CI would run them: they
	# share the GOCACHE, so only the first compiles the dependencies.
	measure_sep() {
		fresh_cache
		local t0 w c
		t0=$(now_ms)
		sep_cold_cpu=0
		: >"$WORK/sep.refs"
		for m in "${mains[@]}"; do
			read -r w c < <(timed "--main $m" "${gi[@]}" --main "$m" --address "$REG/$name-sep/{name}:v1")
			sep_cold_cpu=$(awk -v a="$sep_cold_cpu" -v b="$c" 'BEGIN { printf "%.2f", a + b }')
			cat "$WORK/out" >>"$WORK/sep.refs"
		done
		sep_cold=$(seconds "$t0" "$(now_ms)")
	}
	measure_alone() {
		local i m c cc w wc
		for i in "${!mains[@]}"; do
			m=${mains[i]}
			fresh_cache
			read -r c cc < <(timed "$m alone" "${gi[@]}" --main "$m" --address "$REG/$name-alone/{name}:v1")
			read -r w wc < <(timed "$m alone, warm" "${gi[@]}" --main "$m" --address "$REG/$name-alone/{name}:v1")
			echo "${names[i]} $c $cc $w $wc" >>"$WORK/alone"
			log "$name: $m alone: cold $c s (CPU $cc s), warm $w s (CPU $wc s)"
		done
	}
	measure_ko() {
		fresh_cache
		read -r ko_cold ko_cold_cpu < <(timed "ko" "${ko[@]}" "${mains[@]}")
		read -r ko_warm ko_warm_cpu < <(timed "ko, warm" "${ko[@]}" "${mains[@]}")
	}
	phases=(one sep alone ko)
	for round in $(seq "${ROUNDS:-1}"); do
		k=$(((round - 1) % ${#phases[@]}))
		order=("${phases[@]:k}" "${phases[@]:0:k}")
		log "$name: round $round: ${order[*]}"
		for p in "${order[@]}"; do "measure_$p"; done
		unset GOCACHE
		# The same images from one call and from N calls.
		if ! diff <(sed 's/.*@//' "$WORK/one.refs" | sort) <(sed 's/.*@//' "$WORK/sep.refs" | sort) >/dev/null; then
			log "$name: one call and N calls pushed different digests"
			exit 1
		fi
		echo "$one_cold $sep_cold $ko_cold $one_warm $ko_warm $one_cold_cpu $sep_cold_cpu $ko_cold_cpu $one_warm_cpu $ko_warm_cpu" >>"$WORK/rounds"
		log "$name round $round: one call $one_cold s cold / $one_warm s warm; N calls $sep_cold s; ko $ko_cold / $ko_warm s"
	done
	# median COLUMN [FILE]: the median of a column of the rounds.
	median() { awk -v c="$1" '{ print $c }' "${2:-$WORK/rounds}" | sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
	one_cold=$(median 1) sep_cold=$(median 2) ko_cold=$(median 3) one_warm=$(median 4) ko_warm=$(median 5)
	one_cold_cpu=$(median 6) sep_cold_cpu=$(median 7) ko_cold_cpu=$(median 8) one_warm_cpu=$(median 9) ko_warm_cpu=$(median 10)
	# The bar: the binary whose median cold wall time over the rounds is the
	# largest (the median first: the largest of single noisy samples would
	# be biased upwards); warm, the largest median likewise.
	: >"$WORK/alone.median"
	for b in "${names[@]}"; do
		awk -v b="$b" '$1 == b' "$WORK/alone" >"$WORK/alone.one"
		echo "$b $(median 2 "$WORK/alone.one") $(median 3 "$WORK/alone.one") $(median 4 "$WORK/alone.one") $(median 5 "$WORK/alone.one")" >>"$WORK/alone.median"
		log "$name: $b alone, median of ${ROUNDS:-1}: cold $(median 2 "$WORK/alone.one") s (CPU $(median 3 "$WORK/alone.one") s), warm $(median 4 "$WORK/alone.one") s (CPU $(median 5 "$WORK/alone.one") s)"
	done
	read -r slow_name slow_cold slow_cold_cpu < <(sort -k2,2nr "$WORK/alone.median" | awk 'NR == 1 { print $1, $2, $3 }')
	read -r slow_warm_name slow_warm slow_warm_cpu < <(sort -k4,4nr "$WORK/alone.median" | awk 'NR == 1 { print $1, $4, $5 }')
	ratio=$(awk -v a="$one_cold" -v b="$slow_cold" 'BEGIN { printf "%.2f", a / b }')
	ratio_warm=$(awk -v a="$one_warm" -v b="$slow_warm" 'BEGIN { printf "%.2f", a / b }')
	ROWS+=("| $repo | ${commit:0:7} | $n | $one_cold | $sep_cold | $slow_cold ($slow_name) | **$ratio** | $ko_cold | $one_warm | $slow_warm ($slow_warm_name) | **$ratio_warm** | $ko_warm |")
	CPU_ROWS+=("| $repo | $one_cold_cpu | $sep_cold_cpu | $slow_cold_cpu ($slow_name) | $ko_cold_cpu | $one_warm_cpu | $slow_warm_cpu ($slow_warm_name) | $ko_warm_cpu |")
done

echo
echo "go-image (one call of N binaries) vs N calls vs each binary alone vs ko $KO_VERSION, linux/amd64, push to a loopback registry"
loads=$(sort -n "$WORK/loads" | awk '{ a[NR] = $1 } END { printf "min %s, median %s, max %s", a[1], a[int((NR + 1) / 2)], a[NR] }')
echo "($(go version | awk '{print $3}'), $(nproc) CPUs, --jobs $(nproc), 1-minute load average at the end of the calls: $loads; wall seconds, median of ${ROUNDS:-1} round(s))"
echo
echo "| repository | commit | binaries | one call cold s | N calls cold s | slowest alone cold s | one / slowest | ko cold s | one call warm s | slowest alone warm s | one / slowest | ko warm s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
echo
echo "CPU seconds (user+sys) of the same calls, medians:"
echo
echo "| repository | one call cold | N calls cold | slowest alone cold | ko cold | one call warm | slowest alone warm | ko warm |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${CPU_ROWS[@]}"
