#!/usr/bin/env bash
# Runs every Go fuzz target of the module (func FuzzXxx in a _test.go file)
# for a short, fixed time each: GOIMAGE_FUZZTIME (default 10s). Seed corpora
# and regression cases (testdata/fuzz/FuzzXxx/*) already run in every
# `go test`; this searches past them. A crash fails the run and leaves the
# input in the package's testdata/fuzz/FuzzXxx/: commit it as a regression
# case with the fix. A new input is minimised for at most 2 s (the default
# 60 s would stall a short run).
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${GOIMAGE_FUZZTIME:-10s}
status=0
n=0
while IFS= read -r file; do
  dir=$(dirname "$file")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //'); do
    n=$((n + 1))
    printf 'fuzz %s ./%s (%s)\n' "$target" "$dir" "$fuzztime"
    if ! go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" -fuzzminimizetime=2s "./$dir" >"${TMPDIR:-/tmp}/fuzz-$target.log" 2>&1; then
      tail -30 "${TMPDIR:-/tmp}/fuzz-$target.log"
      echo "fuzz $target FAILED: the crashing input is in ./$dir/testdata/fuzz/$target/"
      status=1
    fi
  done
done < <(grep -rl --include='*_test.go' '^func Fuzz' . | grep -v '/\.' | sed 's|^\./||' | sort)
echo "fuzz: $n target(s), ${fuzztime} each"
exit "$status"
