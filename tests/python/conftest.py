"""Shared fixtures for the keeldb tests.

The tests import the installed package (``pip install .`` into the project's venv); the
source tree's python/keeldb has no compiled extension and is never on sys.path here.
"""

from __future__ import annotations

import gc
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
