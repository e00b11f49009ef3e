#!/usr/bin/env bash
# Benchmarks keel against its peers: builds and installs keel into .venv (scripts/bootstrap.sh),
# installs the peers of bench/requirements.txt into .venv if missing, runs the C benchmark if
# it was built (build/bench/bench_c, optional), then the Python harness:
#   scripts/bench.sh                      # quick: ~2 minutes, tables; files in bench/results/other/
#   scripts/bench.sh --size full          # 1M keys; writes bench/results/latest.json + PNGs
#   scripts/bench.sh --engines keeldb,lmdb --reps 5
# Every argument is passed to `python -m bench` (see `python -m bench --help`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# scripts/demo.sh has just done the set-up; run alone, this script does it itself.
[ "${KEEL_BOOTSTRAPPED:-}" = 1 ] || scripts/bootstrap.sh

PY=.venv/bin/python
REQ_STAMP=.venv/.keel-bench-requirements
if ! cmp -s bench/requirements.txt "$REQ_STAMP" 2>/dev/null; then
  log "installing the benchmark peers into .venv (bench/requirements.txt)"
  # One at a time: a peer that cannot be installed is reported as "missing" by the harness
  # instead of stopping the run.
  ok=1
  while read -r req; do
    req="${req%%#*}"; req="${req//[[:space:]]/}"
    [ -n "$req" ] || continue
    if ! "$PY" -m pip install -q "$req"; then
      log "could not install $req; the benchmark will report it as missing"
      ok=0
    fi
  done < bench/requirements.txt
  if ((ok)); then cp bench/requirements.txt "$REQ_STAMP"; fi
fi

if [ -x build/bench/bench_c ]; then
  log "C benchmark: keel vs LMDB (build/bench/bench_c)"
  size=quick prev=""
  for arg in "$@"; do
    case "$arg" in --size=*) size="${arg#--size=}" ;; esac
    if [ "$prev" = "--size" ]; then size="$arg"; fi
    prev="$arg"
  done
  case "$size" in
    quick) n=100000 ;;
    full) n=1000000 ;;
    *) n="${size//_/}" ;;
  esac
  build/bench/bench_c --n "$n"
fi

log "Python benchmark: python -m bench $*"
exec "$PY" -m bench "$@"
