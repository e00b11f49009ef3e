#!/usr/bin/env bash
# The main job: set up (scripts/bootstrap.sh builds and installs keel into .venv), then
#   1. a demonstration on real data: every file of this Python's standard library goes into
#      a keel store through the `keel` CLI and keeldb, is read back and compared byte for
#      byte, then the store is verified, half of it deleted, and compacted;
#   2. the benchmarks (scripts/bench.sh): keel against LMDB through the C APIs, then keeldb
#      against simd-r-drive-py, py-lmdb, rocksdict, sqlite3 and dict, printing their tables.
# Arguments go to the benchmarks (default --size quick, about two minutes; --size full for
# 1M keys, about twenty).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
"$ROOT/scripts/bootstrap.sh"
export PATH="$ROOT/.venv/bin:$PATH"
log() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }

[ -f build/build.ninja ] || meson setup build -Dbuildtype=release -Dpython=disabled
ninja -C build

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

log "demo: the keel CLI"
DB="$WORK/demo.keel"
keel "$DB" put greeting "hello, keel"
keel "$DB" get greeting; echo
printf 'streamed from stdin\n' | keel "$DB" put notes/today
keel "$DB" put empty ""
keel "$DB" ls
keel "$DB" stat

log "demo: keeldb on real data (this Python's standard library)"
.venv/bin/python scripts/demo_stdlib.py "$WORK/stdlib.keel"
keel "$WORK/stdlib.keel" verify
keel "$WORK/stdlib.keel" stat

log "benchmarks: C (keel vs LMDB), then Python (keeldb vs its peers)"
KEEL_BOOTSTRAPPED=1 scripts/bench.sh "${@:---size=quick}"
