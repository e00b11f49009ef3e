"""The README examples run, and ``mypy --strict`` accepts them against the shipped stubs."""

from __future__ import annotations

import importlib.util
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE / "readme_examples.py"


def test_readme_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(EXAMPLES), run_name="__main__")
    assert (tmp_path / "example.keel").exists()


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_readme_examples_pass_mypy_strict(tmp_path: Path) -> None:
    env = dict(os.environ)
    env["MYPY_CACHE_DIR"] = str(tmp_path / "mypy-cache")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(EXAMPLES)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_stubs_are_installed() -> None:
    import keeldb

    pkg = Path(keeldb.__file__).parent
    for name in ("__init__.pyi", "_keeldb.pyi", "py.typed"):
        assert (pkg / name).exists(), name


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_stubs_match_the_runtime(tmp_path: Path) -> None:
    """mypy.stubtest: every name, signature and class flag in the .pyi matches the module."""
    env = dict(os.environ)
    env["MYPY_CACHE_DIR"] = str(tmp_path / "mypy-cache")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy.stubtest",
            "keeldb",
            "--allowlist",
            str(HERE / "stubtest_allowlist.txt"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
