#!/usr/bin/env bash
# Builds keeldb and runs the Python test suite on every supported CPython other than the one
# of the main .venv (scripts/bootstrap.sh), each in its own virtual environment .venv-X.Y
# (git ignores them). keeldb supports CPython 3.10 to 3.13 (pyproject.toml).
#
# KEEL_PYTHONS   the versions to test (default "3.10 3.11 3.12 3.13"); the main venv's own
#                version is skipped here, scripts/test.sh tests it in full.
# KEEL_PYTEST_WORKERS  pytest-xdist worker processes per suite (default 2; 1: serially).
# `scripts/test-pythons.sh --venvs` only creates the environments and installs the tools into
# them (scripts/test.sh runs that in the background while the C suites run).
# Interpreters are found as pythonX.Y on PATH or under $PYENV_ROOT (default ~/.pyenv). A
# missing one is an error naming it: install it (pyenv install X.Y) or leave it out of
# KEEL_PYTHONS.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

main_version="$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
PYENV_ROOT="${PYENV_ROOT:-$HOME/.pyenv}"

find_python() {  # a pythonX.Y that runs (a pyenv shim of an inactive version does not)
  local v="$1" p
  for p in "$PYENV_ROOT"/versions/"$v".*/bin/"python$v" "$(command -v "python$v" || true)"; do
    if [ -x "$p" ] && "$p" -c pass 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

venvs_only=0
if [ "${1:-}" = --venvs ]; then venvs_only=1; fi
workers="${KEEL_PYTEST_WORKERS:-2}"
xdist=()
if [ "$workers" != 1 ]; then xdist=(-n "$workers" --dist worksteal); fi

status=0
for v in ${KEEL_PYTHONS:-3.10 3.11 3.12 3.13}; do
  [ "$v" = "$main_version" ] && continue
  if ! py="$(find_python "$v")"; then
    echo "test-pythons: no python$v on PATH or under $PYENV_ROOT/versions" \
         "(pyenv install $v, or set KEEL_PYTHONS)" >&2
    exit 1
  fi
  venv=".venv-$v"
  if [ ! -x "$venv/bin/python" ]; then
    log "creating $venv with $py"
    "$py" -m venv "$venv"
  fi
  if ! cmp -s requirements-dev.txt "$venv/.keel-requirements" 2>/dev/null; then
    log "installing Python tools into $venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q -r requirements-dev.txt
    cp requirements-dev.txt "$venv/.keel-requirements"
  fi
  [ "$venvs_only" = 0 ] || continue
  log "Python $v: building keeldb into $venv and running tests/python"
  t0=$SECONDS
  "$venv/bin/python" -m pip install -q --no-build-isolation --no-deps .
  t1=$SECONDS
  if ! KEEL_CLI="$ROOT/$venv/bin/keel" "$venv/bin/python" -m pytest -q -p no:cacheprovider \
       "${xdist[@]}" tests/python; then
    echo "test-pythons: the suite failed on Python $v" >&2
    status=1
  fi
  log "Python $v: $((t1 - t0)) s building keeldb, $((SECONDS - t1)) s testing"
done
exit $status
