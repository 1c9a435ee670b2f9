#!/usr/bin/env bash
# The test command of README.md: everything CI checks, in one run.
#   1. builds, once, into ~/.cache/go-image: the pinned Trivy (ci/install-tools.sh)
#      and the pinned Dagger engine, CLI and codegen (ci/engine/engine.sh build),
#      side by side;
#   2. checks the committed Dagger bindings are what the pinned codegen makes;
#   3. gofmt, go build, go vet over the module;
#   4. starts the Dagger engine (stopped again on exit, whatever happens),
#      loads the module and restarts the engine on that used state;
#   5. go test ./..., the engine tests (internal/e2e) included, summarised by
#      ci/testsum: failures with their output, every skip with its reason, how
#      many engine tests ran; in CI (CI=true) a run where none ran fails;
#   6. every fuzz target for GOIMAGE_FUZZTIME (default 10s) each (ci/fuzz.sh);
#   7. one round of the benchmarks (bench/), so they cannot rot.
# Set GOIMAGE_SKIP_TOOLS=1 to skip Trivy and GOIMAGE_SKIP_ENGINE=1 to skip the
# engine (their tests then skip, loudly, outside CI), GOIMAGE_SKIP_BINDINGS=1
# to skip step 2, GOIMAGE_SKIP_FUZZ=1 to skip step 6 and GOIMAGE_SKIP_BENCH=1
# to skip step 7.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s (%s)\n' "$*" "$(date +%H:%M:%S)"; }
t0=$SECONDS
declare -A took

# A full disk fails every test at once (no space for go build's output or the
# engine's snapshots), far from its cause. Free the caches this run rebuilds
# anyway, before starting, while the cause is still nameable.
min_free_gb=${GOIMAGE_MIN_FREE_GB:-15}
free_gb() { mkdir -p "$HOME/.cache"; df -Pk "$HOME/.cache" | awk 'NR==2 {print int($4 / 1048576)}'; }
step "disk: ${min_free_gb} GB free wanted under $HOME/.cache, $(free_gb) GB free"
if (($(free_gb) < min_free_gb)); then
  ci/engine/engine.sh stop >/dev/null 2>&1 || true
  ci/engine/engine.sh prune
fi
# The engine's GC must not run during the tests (a call it overlapped
# failed inside the engine): a state that one more run (about 12 GB from
# empty, 2 GB warm) could push past the engine's 30 GB bound starts empty.
max_state_gb=${GOIMAGE_ENGINE_STATE_MAX_GB:-15}
state_gb=$(du -sk "$HOME/.cache/go-image/engine-v"*/state 2>/dev/null | awk '{s += $1} END {print int(s / 1048576)}')
if ((state_gb > max_state_gb)); then
  echo "the engine's state is ${state_gb} GB, over ${max_state_gb} GB (GOIMAGE_ENGINE_STATE_MAX_GB): dropping it so that its GC stays out of this run"
  ci/engine/engine.sh stop >/dev/null 2>&1 || true
  ci/engine/engine.sh prune
fi
if (($(free_gb) < min_free_gb)); then
  echo "still $(free_gb) GB free: dropping Go's build cache"; go clean -cache
fi
if (($(free_gb) < 5)); then
  echo "only $(free_gb) GB free under $HOME/.cache after dropping the engine's and Go's caches;" \
    "the run needs about ${min_free_gb} GB: free some disk (df -h) and run again"
  exit 1
fi

step "tools: ci/install-tools.sh and ci/engine/engine.sh build"
logs=$(mktemp -d "${TMPDIR:-/tmp}/go-image-ci.XXXXXX")
pids=()
if [[ ${GOIMAGE_SKIP_TOOLS:-0} != 1 ]]; then
  (s=$SECONDS; ci/install-tools.sh >"$logs/tools.log" 2>&1; echo "$((SECONDS - s))" >"$logs/tools.s") &
  pids+=($!)
fi
if [[ ${GOIMAGE_SKIP_ENGINE:-0} != 1 ]]; then
  (s=$SECONDS; ci/engine/engine.sh build >"$logs/engine.log" 2>&1; echo "$((SECONDS - s))" >"$logs/engine.s") &
  pids+=($!)
fi
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=1; done
cat "$logs"/*.log 2>/dev/null | grep -v '^go: downloading' || true
((failed == 0)) || { echo "building the tools failed (logs above)"; exit 1; }
[[ -f $logs/tools.s ]] && took[trivy]=$(cat "$logs/tools.s")
[[ -f $logs/engine.s ]] && took[engine]=$(cat "$logs/engine.s")
if [[ ${GOIMAGE_SKIP_TOOLS:-0} != 1 ]]; then
  eval "$(ci/install-tools.sh --env)"
fi

if [[ ${GOIMAGE_SKIP_BINDINGS:-0} != 1 ]]; then
  step "Dagger bindings: ci/check-bindings.sh"
  s=$SECONDS
  ci/check-bindings.sh
  took[bindings]=$((SECONDS - s))
fi

step "gofmt, go build, go vet"
s=$SECONDS
mapfile -t gofiles < <(git ls-files '*.go' | grep -v '^testdata/' | grep -v '/testdata/')
unformatted=$(gofmt -l "${gofiles[@]}")
if [[ -n $unformatted ]]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go build ./...
go vet ./...
took[vet]=$((SECONDS - s))

if [[ ${GOIMAGE_SKIP_ENGINE:-0} != 1 ]]; then
  step "Dagger engine: ci/engine/engine.sh start"
  s=$SECONDS
  trap 'ci/engine/engine.sh stop || true' EXIT
  if ! envs=$(ci/engine/engine.sh start); then
    echo "the Dagger engine did not start: its tests will fail (CI) or skip"
  else
    eval "$envs"
    # Users' engines restart on a used state; so does this one, once the
    # module has been loaded (the Go SDK's cache volumes then exist), because
    # that is where ci/engine/patches/0001 matters: without it, concurrent
    # calls after a restart fail to mount those volumes.
    if "$GOIMAGE_DAGGER" functions >"$logs/functions.log" 2>&1; then
      ci/engine/engine.sh stop
      envs=$(ci/engine/engine.sh start) && eval "$envs" || echo "the Dagger engine did not restart: its tests will fail (CI) or skip"
    else
      tail -20 "$logs/functions.log"; echo "dagger functions failed on a fresh engine: its tests will fail (CI) or skip"
    fi
  fi
  took[engine-start]=$((SECONDS - s))
fi

step "go test ./..."
s=$SECONDS
go build -o "$logs/testsum" ./ci/testsum
set +e
# ci/codegen is its own module (the bindings generator); its tests join the tally.
{ go test -json -timeout 60m ./...; (cd ci/codegen && go test -json ./...); } | "$logs/testsum"
status=${PIPESTATUS[1]}
set -e
took[test]=$((SECONDS - s))

if [[ ${GOIMAGE_SKIP_FUZZ:-0} != 1 ]]; then
  step "fuzz: every target, ${GOIMAGE_FUZZTIME:-10s} each (ci/fuzz.sh)"
  s=$SECONDS
  ci/fuzz.sh || status=1
  took[fuzz]=$((SECONDS - s))
fi

if [[ ${GOIMAGE_SKIP_BENCH:-0} != 1 && $status == 0 ]]; then
  step "bench: one round"
  s=$SECONDS
  mirror_pid=""
  if [[ -n ${GOIMAGE_DAGGER:-} ]]; then
    # The engine tests served the engine's docker.io mirror while they ran;
    # the bench's Dagger row needs it too (the golang stand-in).
    go build -o "$logs/mirror" ./ci/engine/mirror
    "$logs/mirror" -trivy "${GOIMAGE_TRIVY:-}" >"$logs/mirror.log" 2>&1 &
    mirror_pid=$!
    for _ in $(seq 300); do grep -q 'mirror: serving' "$logs/mirror.log" && break; sleep 0.2; done
    grep -q 'mirror: serving' "$logs/mirror.log" || { cat "$logs/mirror.log"; echo "the mirror did not start"; status=1; }
  fi
  if [[ $status == 0 ]]; then
    ROUNDS=1 bench/ko-vs-go-image.sh || status=1
  fi
  [[ -n $mirror_pid ]] && kill "$mirror_pid" 2>/dev/null
  took[bench]=$((SECONDS - s))
fi

step "timings"
for k in trivy engine bindings vet engine-start test fuzz bench; do
  [[ -n ${took[$k]:-} ]] && printf '  %-13s %5ss\n' "$k" "${took[$k]}"
done
printf '  %-13s %5ss\n' total "$((SECONDS - t0))"
exit "$status"
