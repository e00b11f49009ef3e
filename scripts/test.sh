#!/usr/bin/env bash
# Runs every test: the C suite (release build), the C suite again under ASan and UBSan,
# the Python suite (keeldb and the `keel` CLI, from the package installed into .venv),
# the Python suite on every other supported CPython (3.10 to 3.13, each in its own
# .venv-X.Y: scripts/test-pythons.sh; KEEL_PYTHONS picks them), the Python suite again
# against a sanitized build of the extension, the engine tests (Grain, Ray, Dask;
# pytest -m engines) once, and a short libFuzzer run of each decoder.
# Set-up is scripts/bootstrap.sh.
# KEEL_FUZZ_SECONDS (default 5, per target; ten targets) sets the fuzzing time; 0 skips it;
# KEEL_FUZZ_PARALLEL (default 2) targets fuzz at a time.
# KEEL_PYTEST_WORKERS (default 2) is the number of pytest-xdist worker processes of each
# Python suite run (not the engine tests, which start their own workers); 1 runs them serially.
# Each phase logs its elapsed seconds, and a table of them (with the load average) closes the
# log, whatever the outcome.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

START=$SECONDS
PHASE=""
PHASE_START=0
TIMES=()
end_phase() {  # logs the running phase's elapsed seconds and files them for the summary
  [ -n "$PHASE" ] || return 0
  local t=$((SECONDS - PHASE_START))
  log "$t s: $PHASE"
  TIMES+=("$(printf '%5d s  %s' "$t" "$PHASE")")
  PHASE=""
}
phase() { end_phase; PHASE="$*"; PHASE_START=$SECONDS; log "$*"; }
summary() {
  local status=$?
  end_phase
  if [ -n "${VENVS_PID:-}" ]; then wait "$VENVS_PID" || true; fi  # no pip left behind
  rm -f "${VENVS_LOG:-}"
  [ -z "${PYTEST_TMP:-}" ] || rm -rf "$PYTEST_TMP"
  {
    log "phase times (load average now: $(cut -d' ' -f1-3 /proc/loadavg), at the start: $LOAD0)"
    printf '%s\n' "${TIMES[@]}"
    printf '%5d s  total (exit status %d)\n' $((SECONDS - START)) "$status"
  } >&2
}
LOAD0="$(cut -d' ' -f1-3 /proc/loadavg)"
trap summary EXIT

# ccache (scripts/bootstrap.sh installs it; meson uses it when present): paths under the clone
# hashed relative to it and the build directory not hashed, so build-asan/ and build-pyasan/
# share their library objects, and so does a later run in another clone.
export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=1

phase "set-up (scripts/bootstrap.sh)"
"$ROOT/scripts/bootstrap.sh"
export PATH="$ROOT/.venv/bin:$PATH"
export KEEL_PYTEST_WORKERS="${KEEL_PYTEST_WORKERS:-2}"
XDIST=()
if [ "$KEEL_PYTEST_WORKERS" != 1 ]; then XDIST=(-n "$KEEL_PYTEST_WORKERS" --dist worksteal); fi

# The other Pythons' environments (a venv and the tools each: single-threaded pip, mostly
# unpacking) are made in the background while the C suites build and run; the phase that
# uses them waits for it first (and makes whatever it did not, saying why).
VENVS_LOG="$(mktemp)"
scripts/test-pythons.sh --venvs >"$VENVS_LOG" 2>&1 &
VENVS_PID=$!

phase "C tests (release build in build/)"
[ -f build/build.ninja ] || meson setup build -Dbuildtype=release -Dpython=disabled
ninja -C build
meson test -C build --suite c --print-errorlogs

phase "C tests under ASan + UBSan (build-asan/)"
[ -f build-asan/build.ninja ] || meson setup build-asan -Dbuildtype=debug -Dpython=disabled \
 -Db_sanitize=address,undefined -Db_lundef=false -Dbench=false
ninja -C build-asan
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
  meson test -C build-asan --suite c --print-errorlogs --timeout-multiplier 3

phase "C tests that race threads, under TSan (build-tsan/)"
# The tests whose threads race on one handle: concurrent store writers and readers,
# conditional puts and transactions against writers, index backfill against writers, and
# the store's operations from many threads. Only these are built here (TSan is slow).
[ -f build-tsan/build.ninja ] || meson setup build-tsan -Dbuildtype=debug -Dpython=disabled \
 -Db_sanitize=thread -Db_lundef=false -Dbench=false
ninja -C build-tsan tests/c/test_threads tests/c/test_db_tx tests/c/test_db_index tests/c/test_ops
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  meson test -C build-tsan --no-rebuild --print-errorlogs --timeout-multiplier 4 \
  keel:threads keel:db_tx keel:db_index keel:ops

if [ "${KEEL_FUZZ_SECONDS:-5}" != 0 ] && [ -x scripts/fuzz.sh ]; then
  phase "fuzzing every decoder and parser (scripts/fuzz.sh), ${KEEL_FUZZ_SECONDS:-5} s each"
  KEEL_FUZZ_PARALLEL="${KEEL_FUZZ_PARALLEL:-2}" scripts/fuzz.sh "${KEEL_FUZZ_SECONDS:-5}"
fi

phase "Python tests on distributed engines: Grain, Ray Data, Dask (-m engines, once)"
.venv/bin/python -m pytest -q -m engines -W ignore::DeprecationWarning tests/python

# The Python suites' files (pytest's tmp_path, the CLI's and servers' stores) go to a tmpfs
# when there is one, removed at the end: they check the binding, the CLI and the endpoint,
# not durability across power loss (the C suite's 'durability' counts fsyncs on the real
# disk, 'powerloss' simulates the crash states), and on this machine's disk the stores' fsyncs
# made them wait longer than they computed.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  PYTEST_TMP="$(mktemp -d /dev/shm/keel-pytest.XXXXXX)"
  export TMPDIR="$PYTEST_TMP"
fi

phase "Python tests (keeldb and the keel CLI from .venv; $KEEL_PYTEST_WORKERS workers)"
KEEL_CLI="$ROOT/.venv/bin/keel" .venv/bin/python -m pytest -q "${XDIST[@]}" -m "not engines" \
  tests/python

phase "Python tests on the other supported Pythons (${KEEL_PYTHONS:-3.10 3.11 3.12 3.13})"
if ! wait "$VENVS_PID"; then log "making the environments in the background failed:"; fi
VENVS_PID=""
cat "$VENVS_LOG" >&2
scripts/test-pythons.sh

phase "Python tests against an ASan + UBSan build of the extension"
scripts/test-python-asan.sh
