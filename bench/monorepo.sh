#!/usr/bin/env bash
# monorepo.sh: how go-image scales with the number of main packages of a
# repository. For each repository below, at its pinned commit, with the
# policy file bench/monorepo/<name>.go-image.yaml as its go-image.yaml
# (every main package of the repository, each exception with its reason):
#
#   one call   go-image release of every binary in one call
#   N calls    one go-image release --main M per binary, one after the other
#   alone      each binary in a call of its own; the slowest is the bar:
#              the goal is one call <= 1.5x the slowest binary alone
#   ko         ko build of the same packages in one call (no gates)
#
# cold = a fresh GOCACHE (the standard library and every dependency are
# compiled; the module cache is warm), warm = the same call again. Every
# go-image call runs its gates (size, upx, harden, lint; scan and smoke as
# the policy says) and pushes to a loopback registry (bench/registry); the
# digests of the one call must equal those of the N calls.
#
# Usage: [ROUNDS=1] bench/monorepo.sh [--clone-from DIR] WORKDIR [REPO...]
#   --clone-from DIR  lay out WORKDIR/<name> from DIR/<owner>+<name>/repo,
#                     bare clones (the fetch tool's mirror), at the commits
#                     below; without it WORKDIR/<name> must be checkouts
#   REPO              podinfo, nsq (default: both)
#   ROUNDS            rounds per repository; each figure is the median
# Needs go and the Go module proxy (ko is built from it, as in
# bench/ko-vs-go-image.sh). Prints the table README shows.
set -euo pipefail

KO_VERSION=v0.19.1
# name owner/repo commit
REPOS=(
	"podinfo stefanprodan/podinfo eec06d1"
	"nsq nsqio/nsq 3103474b"
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
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }

# timed LABEL CMD...: run CMD in the checkout, print its wall seconds; on a
# failure show the end of its log.
timed() {
	local label=$1
	shift
	local t0 t1
	t0=$(now_ms)
	if ! (cd "$SRC" && "$@") >"$WORK/out" 2>"$WORK/log"; then
		log "$label failed; the end of its log:"
		tail -n 30 "$WORK/log" >&2
		exit 1
	fi
	t1=$(now_ms)
	seconds "$t0" "$t1"
}

fresh_cache() { rm -rf "$WORK/gocache"; export GOCACHE="$WORK/gocache"; }

ROWS=()
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
	for round in $(seq "${ROUNDS:-1}"); do
		log "$name: round $round"
		fresh_cache
		one_cold=$(timed "one call" "${gi[@]}" --address "$REG/$name-one/{name}:v1")
		cp "$WORK/out" "$WORK/one.refs"
		one_warm=$(timed "one call, warm" "${gi[@]}" --address "$REG/$name-one/{name}:v1")

		fresh_cache
		t0=$(now_ms)
		: >"$WORK/sep.refs"
		for m in "${mains[@]}"; do
			timed "--main $m" "${gi[@]}" --main "$m" --address "$REG/$name-sep/{name}:v1" >/dev/null
			cat "$WORK/out" >>"$WORK/sep.refs"
		done
		sep_cold=$(seconds "$t0" "$(now_ms)")
		# The same images from one call and from N calls.
		if ! diff <(sed 's/.*@//' "$WORK/one.refs" | sort) <(sed 's/.*@//' "$WORK/sep.refs" | sort) >/dev/null; then
			log "$name: one call and N calls pushed different digests"
			exit 1
		fi

		slow_cold=0 slow_warm=0 slow_name=""
		for m in "${mains[@]}"; do
			fresh_cache
			c=$(timed "$m alone" "${gi[@]}" --main "$m" --address "$REG/$name-alone/{name}:v1")
			w=$(timed "$m alone, warm" "${gi[@]}" --main "$m" --address "$REG/$name-alone/{name}:v1")
			log "$name: $m alone: cold $c s, warm $w s"
			if awk -v a="$c" -v b="$slow_cold" 'BEGIN { exit !(a > b) }'; then slow_cold=$c slow_name=${m##*/}; fi
			if awk -v a="$w" -v b="$slow_warm" 'BEGIN { exit !(a > b) }'; then slow_warm=$w; fi
		done

		fresh_cache
		ko_cold=$(timed "ko" "${ko[@]}" "${mains[@]}")
		ko_warm=$(timed "ko, warm" "${ko[@]}" "${mains[@]}")
		unset GOCACHE
		echo "$one_cold $sep_cold $slow_cold $ko_cold $one_warm $slow_warm $ko_warm $slow_name" >>"$WORK/rounds"
		log "$name round $round: one call $one_cold s cold / $one_warm s warm; N calls $sep_cold s; slowest alone $slow_cold ($slow_name) / $slow_warm s; ko $ko_cold / $ko_warm s"
	done
	# median COLUMN of the rounds.
	median() { awk -v c="$1" '{ print $c }' "$WORK/rounds" | sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.1f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
	one_cold=$(median 1) sep_cold=$(median 2) slow_cold=$(median 3) ko_cold=$(median 4)
	one_warm=$(median 5) slow_warm=$(median 6) ko_warm=$(median 7)
	slow_name=$(awk '{ print $8 }' "$WORK/rounds" | sort | uniq -c | sort -rn | awk 'NR == 1 { print $2 }')
	ratio=$(awk -v a="$one_cold" -v b="$slow_cold" 'BEGIN { printf "%.2f", a / b }')
	ratio_warm=$(awk -v a="$one_warm" -v b="$slow_warm" 'BEGIN { printf "%.2f", a / b }')
	ROWS+=("| $repo | ${commit:0:7} | $n | $one_cold | $sep_cold | $slow_cold ($slow_name) | **$ratio** | $ko_cold | $one_warm | $slow_warm | **$ratio_warm** | $ko_warm |")
done

echo
echo "go-image (one call of N binaries) vs N calls vs each binary alone vs ko $KO_VERSION, linux/amd64, push to a loopback registry"
echo "($(go version | awk '{print $3}'), $(nproc) CPUs, --jobs $(nproc), load average at the end $(cut -d' ' -f1-3 /proc/loadavg); wall seconds, median of ${ROUNDS:-1} round(s))"
echo
echo "| repository | commit | binaries | one call cold s | N calls cold s | slowest alone cold s | one / slowest | ko cold s | one call warm s | slowest alone warm s | one / slowest | ko warm s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
