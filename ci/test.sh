#!/usr/bin/env bash
# The test command of README.md: everything CI checks, in one run.
#   1. builds the pinned tools the gates run (Trivy) once into a cache;
#   2. checks the committed Dagger bindings are what the pinned codegen makes;
#   3. gofmt, go build, go vet over the module;
#   4. go test ./..., summarised by ci/testsum: failures with their output,
#      every skip with its reason, and how many Dagger-engine tests ran.
# Set GOIMAGE_SKIP_TOOLS=1 to skip step 1 (tests that need Trivy then skip,
# loudly) and GOIMAGE_SKIP_BINDINGS=1 to skip step 2.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s (%s)\n' "$*" "$(date +%H:%M:%S)"; }

if [[ ${GOIMAGE_SKIP_TOOLS:-0} != 1 ]]; then
  step "tools: ci/install-tools.sh"
  eval "$(ci/install-tools.sh --env)"
fi

if [[ ${GOIMAGE_SKIP_BINDINGS:-0} != 1 ]]; then
  step "Dagger bindings: ci/check-bindings.sh"
  ci/check-bindings.sh
fi

step "gofmt, go build, go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' | grep -v '^testdata/' | grep -v '/testdata/'))
if [[ -n $unformatted ]]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go build ./...
go vet ./...

step "go test ./..."
go build -o "${TMPDIR:-/tmp}/go-image-testsum" ./ci/testsum
set +e
# ci/codegen is its own module (the bindings generator); its tests join the tally.
{ go test -json -timeout 30m ./...; (cd ci/codegen && go test -json ./...); } | "${TMPDIR:-/tmp}/go-image-testsum"
status=${PIPESTATUS[1]}
set -e
exit "$status"
