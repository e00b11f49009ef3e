"""Shared fixtures for the keeldb tests.

The tests import the installed package (``pip install .`` into the project's venv); the
source tree's python/keeldb has no compiled extension and is never on sys.path here.
"""

from __future__ import annotations

import gc
import os
import shutil
import sys
from pathlib import Path
from typing import Iterator

import pytest

import keeldb


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "store.keel"


@pytest.fixture
def store(path: Path) -> Iterator[keeldb.DataStore]:
    s = keeldb.DataStore(path)
    try:
        yield s
    finally:
        gc.collect()  # let views a failing test left behind go before closing
        try:
            s.close()
        except BufferError:
            pass


# ---- the keel CLI, for test_cli.py and test_cli_records.py ---------------------------------

_ROOT = Path(__file__).resolve().parents[2]


def _find_cli() -> str | None:
    env = os.environ.get("KEEL_CLI")
    if env:
        return env
    beside = Path(sys.executable).parent / "keel"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("keel")
    if found:
        return found
    builds = [p for p in _ROOT.glob("build*/tools/keel") if os.access(p, os.X_OK)]
    if builds:
        return str(max(builds, key=lambda p: p.stat().st_mtime))
    return None


@pytest.fixture(scope="session")
def cli() -> str:
    if "libasan" in os.environ.get("LD_PRELOAD", ""):
        # scripts/test-python-asan.sh preloads the sanitizer runtimes for the extension; the
        # keel binary is not built with them (its C code runs under ASan in the C suite).
        pytest.skip("the keel CLI is not run under a preloaded ASan runtime")
    path = _find_cli()
    if path is None or not os.access(path, os.X_OK):
        pytest.fail(
            "keel CLI not found: set KEEL_CLI=/path/to/keel, put `keel` on PATH, or build it "
            f"(meson setup build && ninja -C build) so that {_ROOT}/build*/tools/keel exists"
            + (f" (KEEL_CLI={path!r} is not executable)" if path else ""),
            pytrace=False,
        )
    return path
