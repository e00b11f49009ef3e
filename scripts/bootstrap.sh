#!/usr/bin/env bash
# Shared set-up for scripts/demo.sh and scripts/test.sh: installs the Debian packages keel
# builds against (only those missing), creates the project-local virtual environment
# .venv with the Python build and test tools (and the distributed engines of
# requirements-engines.txt; KEEL_NO_ENGINES=1 skips them), and builds + installs keel into it
# (`pip install .`: the keeldb package and the `keel` command). Idempotent: a second run
# installs nothing new and rebuilds only what changed. meson compiles through ccache when it
# is installed (it is in the list below): the library objects of one `pip install .` serve
# every other build with the same flags (build/, each .venv-X.Y's, and across runs).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

DEB_PACKAGES=(gcc g++ pkg-config libxxhash-dev libisal-dev liblmdb-dev libzstd-dev libbrotli-dev libhighwayhash-dev
              libcbor-dev libjansson-dev libmicrohttpd-dev libssl-dev zlib1g-dev
              python3-dev python3-venv clang libclang-rt-14-dev libhnswlib-dev
              libopenblas-dev gcc-aarch64-linux-gnu qemu-user-static ccache)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  log "creating the virtual environment .venv"
  "$PY" -m venv .venv
fi
REQ_STAMP=.venv/.keel-requirements
if ! cmp -s requirements-dev.txt "$REQ_STAMP" 2>/dev/null; then
  log "installing Python tools into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements-dev.txt
  cp requirements-dev.txt "$REQ_STAMP"
fi

# The distributed engines behind keeldb.ray/.grain/.dask and their tests (pytest -m engines;
# about 700 MB, mostly Ray and pyarrow). Not fatal: without them those tests skip, saying why.
ENG_STAMP=.venv/.keel-engines
if [ "${KEEL_NO_ENGINES:-0}" != 1 ] && ! cmp -s requirements-engines.txt "$ENG_STAMP" 2>/dev/null; then
  log "installing the distributed engines into .venv (requirements-engines.txt)"
  if .venv/bin/python -m pip install -q -r requirements-engines.txt; then
    cp requirements-engines.txt "$ENG_STAMP"
  else
    log "could not install the engines: their tests will be skipped"
  fi
fi

log "building and installing keel into .venv (pip install .)"
.venv/bin/python -m pip install -q --no-build-isolation --no-deps . 
