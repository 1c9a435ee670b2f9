#!/usr/bin/env bash
# Regenerate this Dagger module's Go bindings offline, with Dagger's own codegen,
# pinned to one Dagger release. No Dagger engine, Docker or GitHub is needed:
# only Go, git and the Go module proxy.
#
#   ci/gen-bindings.sh            regenerate in this checkout
#   ci/gen-bindings.sh DIR        regenerate in DIR (a copy of this repo; used by
#                                 ci/check-bindings.sh)
#
# Writes (what codegen of v0.21.8 writes for a Go module):
#   dagger.gen.go                 module entrypoint/registration for package main
#   internal/dagger/dagger.gen.go client for the core API
# (this release generates no internal/querybuilder or internal/telemetry; the
# code imports github.com/dagger/querybuilder and github.com/dagger/otel-go).
#
# Steps:
#   1. `go mod download` github.com/dagger/dagger@$DAGGER_VERSION (from the module
#      proxy), copy it to a writable cache dir, drop its replace directives that
#      point outside the module zip, and build ./cmd/codegen once (cached per Go
#      version).
#   2. ci/codegen/introspect turns the release's core API SDL
#      (docs/docs-graphql/schema.graphqls) into the introspection JSON an engine
#      would hand to codegen (see ci/codegen/introspect/main.go for details).
#   3. codegen generate-module --introspection-json-path ... writes the files
#      above. ON PURPOSE it then runs, in the target dir, codegen's own
#      post-commands: `go mod edit -replace` for the four otel log modules that
#      dagger.io/dagger pins, `go get dagger.io/dagger@$DAGGER_VERSION` and
#      `go mod tidy`. So go.mod/go.sum of the target ARE rewritten (tidied; the
#      go directive may be raised to what dagger.io/dagger needs). That is the
#      same as `dagger develop` does; commit go.mod/go.sum together with the
#      bindings.
#
# Needs a root main.go (the GoImage module object): without any .go file codegen
# would write its starter main.go, so the script refuses to run then.
#
# Cache: ${GO_IMAGE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/go-image}/dagger-$DAGGER_VERSION
# (delete it to force a rebuild of codegen).
#
# Timings (2 cores, Go 1.26.8, module proxy), measured:
#   cold (empty GOMODCACHE, GOCACHE and script cache): 2m45s and 4m09s
#       (download+copy ~10s, codegen build ~2m15s, generation ~1m50s: codegen's
#       go get/go mod tidy and package loading fetch and compile the module's
#       dependencies)
#   warm (everything cached): ~4s; ci/check-bindings.sh warm: ~6-8s
set -euo pipefail

DAGGER_VERSION=v0.21.8
DAGGER_MODULE=github.com/dagger/dagger
MODULE_NAME=go-image

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/.." && pwd)
target=$(cd "${1:-$repo_root}" && pwd)

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

cache_root=${GO_IMAGE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/go-image}
cache=$cache_root/dagger-$DAGGER_VERSION
go_version=$(go env GOVERSION)
codegen=$cache/bin/codegen-$go_version
mkdir -p "$cache/bin"

# Our own builds must not see a go.work of the caller. (Not exported: codegen
# itself looks at `go env GOWORK` and would run `go work use .` for "off".)

# 1. Dagger's codegen, built from the release's source.
if [[ ! -x $codegen ]]; then
  if [[ ! -f $cache/src/.prepared ]]; then
    log "downloading $DAGGER_MODULE@$DAGGER_VERSION"
    dl=$(cd "$cache" && GOWORK=off go mod download -json "$DAGGER_MODULE@$DAGGER_VERSION")
    dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$dl")
    [[ -n $dir && -d $dir ]] || die "go mod download gave no Dir: $dl"

    tmp_src=$(mktemp -d "$cache/src.tmp.XXXXXX")
    cp -R "$dir/." "$tmp_src/"
    chmod -R u+w "$tmp_src"
    # The release's go.mod replaces these with directories that are not in the
    # module zip; use the published versions instead.
    (cd "$tmp_src" && GOWORK=off go mod edit \
      -dropreplace dagger.io/dagger \
      -dropreplace "$DAGGER_MODULE/engine/distconsts" \
      -require "dagger.io/dagger@$DAGGER_VERSION" \
      -require "$DAGGER_MODULE/engine/distconsts@$DAGGER_VERSION")
    touch "$tmp_src/.prepared"
    rm -rf "$cache/src"
    mv "$tmp_src" "$cache/src"
  fi
  log "building codegen ($DAGGER_VERSION, $go_version); takes a few minutes the first time"
  (cd "$cache/src" && GOWORK=off GOFLAGS="-mod=mod -buildvcs=false" go build -trimpath -o "$codegen.tmp.$$" ./cmd/codegen)
  mv "$codegen.tmp.$$" "$codegen"
fi

# 2. Introspection JSON from the release's SDL.
schema=$cache/src/docs/docs-graphql/schema.graphqls
if [[ ! -f $schema ]]; then
  # binary cached but source gone: fetch the SDL straight from the module cache
  dl=$(cd "$cache" && GOWORK=off go mod download -json "$DAGGER_MODULE@$DAGGER_VERSION")
  schema=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$dl")/docs/docs-graphql/schema.graphqls
fi
[[ -f $schema ]] || die "schema not found: $schema"

work=$(mktemp -d "${TMPDIR:-/tmp}/go-image-gen.XXXXXX")
trap 'rm -rf "$work"' EXIT
(cd "$repo_root/ci/codegen" && GOWORK=off GOFLAGS=-mod=readonly go build -trimpath -o "$work/introspect" ./introspect)
"$work/introspect" -schema "$schema" -version "$DAGGER_VERSION" -o "$work/introspection.json"

# 3. Generate. Output (including codegen's go get / go mod tidy) goes to a log,
# shown when something fails.
log "generating bindings in $target"
if ! (cd "$target" && "$codegen" generate-module \
  --introspection-json-path "$work/introspection.json" \
  --module-name "$MODULE_NAME" \
  --module-source-path . \
  --output . \
  --lib-version "$DAGGER_VERSION") >"$work/codegen.log" 2>&1; then
  grep -v -e '^[0-9.]*m\{0,1\}s for ' -e '^starting ' "$work/codegen.log" | tail -n 60 >&2
  die "codegen failed"
fi
grep -e '^go: ' "$work/codegen.log" >&2 || true
log "done: $target/dagger.gen.go, $target/internal/dagger/ (go.mod and go.sum tidied)"
