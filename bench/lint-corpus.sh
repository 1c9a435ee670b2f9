#!/usr/bin/env bash
# Measure go-image's lint on real services: findings per analyzer, precision
# and recall against bench/lint-corpus.expect (recall counts the misses
# recorded there by reading each repository's code), and lint time against
# `go vet ./...` on the same tree, measured in the same run.
#
#   bench/lint-corpus.sh CORPUS_DIR [NAME ...]
#
# CORPUS_DIR holds one checkout per repository of bench/lint-corpus.expect,
# named as there and at the commit recorded there. This script fetches
# nothing. To lay out the corpus from local bare clones (e.g. the fetch
# tool's snapshots, DIR/<owner>+<name>/repo), run once:
#
#   bench/lint-corpus.sh --clone-from DIR CORPUS_DIR
#
# Dependencies come from the Go module proxy through the go command, as for
# any build; run `go build ./...` in a checkout first to warm the caches, so
# that both timings measure analysis rather than downloads and compiles.
set -euo pipefail
cd "$(dirname "$0")/.."
expect=bench/lint-corpus.expect

if [[ "${1:-}" == "--clone-from" ]]; then
  mirrors=${2:?--clone-from DIR CORPUS_DIR}
  corpus=${3:?--clone-from DIR CORPUS_DIR}
  mkdir -p "$corpus"
  grep '^repo ' "$expect" | while read -r _ name github commit _; do
    dir="$corpus/$name"
    if [[ ! -d "$dir/.git" ]]; then
      git clone -q --no-checkout "$mirrors/${github/\//+}/repo" "$dir"
    fi
    # A snapshot lacks files over its size limit (pushgateway's generated
    # assets): then check out every file that exists, one by one.
    if ! git -C "$dir" -c advice.detachedHead=false checkout -q "$commit" 2>/dev/null; then
      git -C "$dir" reset -q "$commit"
      git -C "$dir" ls-files -z | (cd "$dir" && xargs -0 -n1 git checkout -q -- 2>/dev/null || true)
    fi
    echo "$name at $(git -C "$dir" rev-parse --short HEAD)"
  done
  exit 0
fi

corpus=${1:?usage: bench/lint-corpus.sh CORPUS_DIR [NAME ...]}
shift
exec go run ./bench/lintcorpus -corpus "$corpus" -expect "$expect" "$@"
