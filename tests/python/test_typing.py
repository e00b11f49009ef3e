"""The README's Python examples run as written, and ``mypy --strict`` accepts them against
the shipped stubs; the stubs match the runtime module (mypy.stubtest)."""

from __future__ import annotations

import importlib.util
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
README = HERE.parent.parent / "README.md"


def readme_blocks() -> list[str]:
    blocks = re.findall(r"^```python\n(.*?)^```", README.read_text(), re.S | re.M)
    assert blocks, "README.md has no ```python blocks"
    return blocks


def needs(code: str) -> str | None:
    """The engine a block needs ("# needs: ray" on its first line), or None."""
    m = re.match(r"# needs: (\w+)\n", code)
    return m.group(1) if m else None


ENGINE_MODULES = {"ray": "ray", "grain": "grain", "dask": "distributed"}


def engine_installed(engine: str) -> bool:
    return importlib.util.find_spec(ENGINE_MODULES[engine]) is not None


def write_blocks(dest: Path, engines: bool = False) -> list[Path]:
    """The README's blocks as files. Blocks that need a distributed engine are left out
    (engines=False: they run in test_engines.py, marked `engines`), or only they are
    written and only when their engine is installed (engines=True)."""
    paths = []
    for i, code in enumerate(readme_blocks()):
        engine = needs(code)
        if (engine is not None) != engines or (engine and not engine_installed(engine)):
            continue
        p = dest / f"readme_example_{i}.py"
        p.write_text(code)
        paths.append(p)
    return paths


def test_readme_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for p in write_blocks(tmp_path):
        runpy.run_path(str(p), run_name="__main__")
    assert (tmp_path / "example.keel").exists()
@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_readme_examples_pass_mypy_strict(tmp_path: Path) -> None:
    env = dict(os.environ)
    env["MYPY_CACHE_DIR"] = str(tmp_path / "mypy-cache")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary",
         *map(str, write_blocks(tmp_path) + write_blocks(tmp_path, engines=True))],
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
    # The engine adapters import their engine (optional extras): without it, skip them.
    extra = tmp_path / "engines_allowlist.txt"
    extra.write_text("".join(f"keeldb\\.{mod}(\\..*)?\n" for mod, engine in
                             (("ray", "ray.data"), ("dask", "dask.bag"))
                             if importlib.util.find_spec(engine.split(".")[0]) is None))
    # ... and their stubs import the engine, which mypy must then not look for.
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\n" + "".join(
        f"[mypy-{engine}.*]\nignore_missing_imports = True\n[mypy-{engine}]\n"
        "ignore_missing_imports = True\n"
        for engine in ("ray", "dask", "grain") if importlib.util.find_spec(engine) is None))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy.stubtest",
            "keeldb",
            "--allowlist",
            str(HERE / "stubtest_allowlist.txt"),
            "--allowlist",
            str(extra),
            "--mypy-config-file",
            str(config),
            # The __buffer__ entries are needed before Python 3.12 only (PEP 688).
            "--ignore-unused-allowlist",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
