#!/usr/bin/env bash
# Regenerate this Dagger module's Go bindings offline, with Dagger's own codegen,
# pinned to one Dagger release. No Dagger engine, Docker or GitHub is needed:
# only Go, git and the Go module proxy.
#
#   ci/gen-bindings.sh            regenerate in this checkout
#   ci/gen-bindings.sh DIR        regenerate in DIR (a copy of this repo; used by
#                                 ci/check-bindings.sh)
#
# Writes what codegen of the pinned release (v0.19) writes for a Go module:
#   dagger.gen.go                 module entrypoint/registration for package main
#   internal/dagger/              client for the core API
#   internal/querybuilder/, internal/telemetry/  the SDK's own packages, bundled
#
# Steps:
#   1. ci/engine/engine.sh codegen: Dagger's codegen of the release dagger.json
#      pins (engineVersion), from the engine build or built alone.
#   2. ci/codegen/introspect turns the release's core API SDL
#      (docs/docs-graphql/schema.graphqls) into the introspection JSON an engine
#      would hand to codegen (see ci/codegen/introspect/main.go for details).
#   3. codegen generate-module --introspection-json-path ... writes the files
#      above. ON PURPOSE it then runs, in the target dir, codegen's own
#      post-commands (go get dagger.io/dagger@<release>, go mod tidy): go.mod
#      and go.sum of the target ARE rewritten, as `dagger develop` does;
#      commit them together with the bindings.
#
# Needs a root main.go (the GoImage module object): without any .go file codegen
# would write its starter main.go, so the script refuses to run then.
set -euo pipefail

MODULE_NAME=go-image

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/.." && pwd)
target=$(cd "${1:-$repo_root}" && pwd)
# The engine release is pinned in one place: dagger.json's engineVersion.
DAGGER_VERSION=$("$script_dir/engine/engine.sh" version)

log() { printf 'gen-bindings: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v go >/dev/null || die "go is not on PATH"

# codegen writes a starter main.go into a module dir without Go files: refuse.
shopt -s nullglob
sources=()
for f in "$target"/*.go; do
  [[ $(basename "$f") == dagger.gen.go ]] || sources+=("$f")
done
shopt -u nullglob
((${#sources[@]} > 0)) || die "no Go source (main.go) in $target: write the GoImage module object first"
[[ -f $target/go.mod ]] || die "no go.mod in $target"

# 1. Dagger's codegen of the pinned release.
codegen=$("$script_dir/engine/engine.sh" codegen)
[[ -x $codegen ]] || die "no codegen binary ($codegen)"

# 2. Introspection JSON from the release's SDL.
schema=$("$script_dir/engine/engine.sh" schema)
[[ -f $schema ]] || die "schema not found: $schema"

work=$(mktemp -d "${TMPDIR:-/tmp}/go-image-gen.XXXXXX")
trap 'rm -rf "$work"' EXIT
(cd "$repo_root/ci/codegen" && GOWORK=off GOFLAGS=-mod=readonly go build -trimpath -o "$work/introspect" ./introspect)
# The release's source (the directory holding docs/) declares the enum value
# aliases its SDL leaves out.
"$work/introspect" -schema "$schema" -aliases-from "${schema%/docs/docs-graphql/schema.graphqls}" \
  -version "$DAGGER_VERSION" -o "$work/introspection.json"

# 3. Generate from scratch: bindings of another release in the tree would
# keep codegen from loading the module. Output (including codegen's go get / go mod tidy) goes to a log,
# shown when something fails.
log "generating bindings in $target"
rm -rf "$target/dagger.gen.go" "$target/internal/dagger" "$target/internal/querybuilder" "$target/internal/telemetry"
if ! (cd "$target" && "$codegen" generate-module \
  --introspection-json-path "$work/introspection.json" \
  --module-name "$MODULE_NAME" \
  --module-source-path . \
  --output .) >"$work/codegen.log" 2>&1; then
  grep -v -e '^[0-9.]*m\{0,1\}s for ' -e '^starting ' "$work/codegen.log" | tail -n 60 >&2
  die "codegen failed"
fi
grep -e '^go: ' "$work/codegen.log" >&2 || true
log "done: $target/dagger.gen.go, $target/internal/dagger/ (go.mod and go.sum tidied)"
