#!/usr/bin/env bash
# Check that the committed Dagger bindings are up to date: regenerate them with
# ci/gen-bindings.sh in a temporary copy of this checkout (tracked and untracked,
# non-ignored files; generated files removed first) and compare with the files
# in the working tree. Needs only Go, git and the Go module proxy.
#
# Exit 0 when they match; exit 1 with "bindings are stale: run
# ci/gen-bindings.sh" and the diff when they differ. A change that
# regeneration would make to go.mod/go.sum is reported, but is not an error.
# First run on a machine builds Dagger's codegen (see ci/gen-bindings.sh for
# timings); later runs reuse the cache.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/.." && pwd)

# What codegen generates for this module (see ci/gen-bindings.sh).
generated=(dagger.gen.go internal/dagger internal/querybuilder internal/telemetry)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/go-image-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
copy=$tmp/repo
mkdir -p "$copy"

if git -C "$repo_root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (
    cd "$repo_root"
    git ls-files -z --cached --others --exclude-standard |
      while IFS= read -r -d '' f; do
        if [[ -e $f || -L $f ]]; then printf '%s\0' "$f"; fi
      done |
      tar --null -T - -cf -
  ) | tar -C "$copy" -xf -
else
  cp -R "$repo_root/." "$copy/"
  rm -rf "$copy/.git"
fi

for p in "${generated[@]}"; do
  rm -rf "${copy:?}/$p"
done

if ! bash "$script_dir/gen-bindings.sh" "$copy" >"$tmp/gen.log" 2>&1; then
  cat "$tmp/gen.log" >&2
  echo "check-bindings: regenerating the bindings failed" >&2
  exit 2
fi

# Side-by-side trees holding only the generated files.
mkdir -p "$tmp/committed" "$tmp/fresh"
for p in "${generated[@]}"; do
  for side in committed fresh; do
    if [[ $side == committed ]]; then src=$repo_root/$p; else src=$copy/$p; fi
    if [[ -e $src ]]; then
      mkdir -p "$tmp/$side/$(dirname "$p")"
      cp -R "$src" "$tmp/$side/$p"
    fi
  done
done

for f in go.mod go.sum; do
  if ! cmp -s "$repo_root/$f" "$copy/$f"; then
    echo "check-bindings: note: regenerating would also change $f (codegen runs go get dagger.io/dagger + go mod tidy):" >&2
    diff -u --label "a/$f" --label "b/$f" "$repo_root/$f" "$copy/$f" >&2 || true
  fi
done

if (cd "$tmp" && diff -ruN committed fresh) >"$tmp/bindings.diff"; then
  echo "check-bindings: bindings are up to date"
  exit 0
fi
(cd "$tmp" && diff -rqN committed fresh) | sed 's/^/check-bindings: /' >&2 || true
head -n 300 "$tmp/bindings.diff"
n=$(wc -l <"$tmp/bindings.diff")
if ((n > 300)); then echo "... ($((n - 300)) more diff lines)"; fi
echo "bindings are stale: run ci/gen-bindings.sh" >&2
exit 1
