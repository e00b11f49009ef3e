#!/usr/bin/env bash
# Runs the Python suite against an ASan + UBSan build of the keeldb extension (and of
# libkeel inside it), with the sanitizer runtimes preloaded into the interpreter.
# Usage: scripts/test-python-asan.sh [pytest args]. Needs scripts/bootstrap.sh's .venv.
# KEEL_PYTEST_WORKERS: pytest-xdist worker processes (default 2; 1: serially).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
B=build-pyasan
[ -f "$B/build.ninja" ] || .venv/bin/meson setup "$B" -Dbuildtype=debug -Dpython=enabled \
  -Dpython.install_env=auto -Db_sanitize=address,undefined -Db_lundef=false \
  -Dtests=false -Dbench=false -Dinstall_c_library=false \
  --native-file <(printf "[binaries]\npython = '%s'\n" "$ROOT/.venv/bin/python")
.venv/bin/ninja -C "$B"
# Lay the package out as it installs: the pure-Python files next to the sanitized module.
PKG="$B/pkg/keeldb"
rm -rf "$B/pkg" && mkdir -p "$PKG"
cp python/keeldb/*.py python/keeldb/*.pyi python/keeldb/py.typed "$PKG/"
cp "$B"/python/_*.so "$PKG/"
xdist=()
if [ "${KEEL_PYTEST_WORKERS:-2}" != 1 ]; then xdist=(-n "${KEEL_PYTEST_WORKERS:-2}" --dist worksteal); fi
ASAN_LIB="$(gcc -print-file-name=libasan.so)"
UBSAN_LIB="$(gcc -print-file-name=libubsan.so)"
# CPython's own allocations are not ours to report; leaks are checked separately (valgrind).
# The CLI and `keel serve` tests run the (unsanitized) keel binary, which must not get the
# sanitizer runtimes preloaded: their C code is sanitized by the C suite under build-asan/.
LD_PRELOAD="$ASAN_LIB:$UBSAN_LIB" ASAN_OPTIONS=detect_leaks=0 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 PYTHONPATH="$ROOT/$B/pkg" \
  .venv/bin/python -m pytest -q -p no:cacheprovider "${xdist[@]}" tests/python \
  --ignore-glob='tests/python/test_cli*.py' --ignore-glob='tests/python/test_serve*.py' \
  -k "not mypy and not stubs" -m "not engines" "$@"
