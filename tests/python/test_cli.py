"""Tests for the `keel` command-line tool (tools/keel/), run as a subprocess.

The binary is taken from $KEEL_CLI, else the `keel` beside the running Python (where
`pip install .` puts it in a venv, even when the venv is not activated), else `keel` on PATH,
else the newest build*/tools/keel under the project root. When none exists every test fails (a missing CLI is a build
problem, not a reason to skip).

Exit status contract: 0 success, 1 key not found, 2 usage error, 3 any other error with
"keel: <what>: <status>: <detail>" on stderr.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = ["put", "get", "del", "ls", "stat", "verify", "compact", "rename", "copy", "move"]


# The `cli` fixture (the keel binary under test) comes from conftest.py.


class Keel:
    """Runs the CLI; `keel(store, "get", "k")` returns the CompletedProcess (bytes)."""

    def __init__(self, exe: str) -> None:
        self.exe = exe

    def __call__(self, *args: str | bytes | os.PathLike[str], input: bytes | None = None,
                 check: int | None = None) -> subprocess.CompletedProcess[bytes]:
        argv = [self.exe] + [a if isinstance(a, bytes) else os.fspath(a) for a in args]
        r = subprocess.run(argv, input=input if input is not None else b"",
                           capture_output=True, timeout=120)
        if check is not None:
            assert r.returncode == check, (
                f"{argv!r} exited {r.returncode}, expected {check}\n"
                f"stdout: {r.stdout[:2000]!r}\nstderr: {r.stderr.decode(errors='replace')}")
        return r

    def ok(self, *args: str | bytes | os.PathLike[str], input: bytes | None = None) -> bytes:
        return self(*args, input=input, check=0).stdout

    def stat(self, store: Path) -> dict[str, object]:
        return json.loads(self.ok(store, "stat", "--json"))


@pytest.fixture
def keel(cli: str) -> Keel:
    return Keel(cli)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "db.keel"


def assert_error(r: subprocess.CompletedProcess[bytes], code: int, *needles: str) -> str:
    err = r.stderr.decode(errors="replace")
    assert r.returncode == code, f"exit {r.returncode}, expected {code}; stderr: {err}"
    assert err.startswith("keel: "), err
    for n in needles:
        assert n.lower() in err.lower(), f"{n!r} not in {err!r}"
    return err


# --------------------------------------------------------------------------------------
# Help, version, usage errors


HELP_INVOCATIONS = [
    ["--help"], ["-h"], ["help"], ["help", "--help"], ["FILE", "--help"], ["put", "--help"],
] + [["help", c] for c in COMMANDS] + [["FILE", c, "--help"] for c in COMMANDS] + [
    ["FILE", c, "-h"] for c in COMMANDS
] + [
    ["FILE", "put", "KEY", "--help"],
    ["FILE", "get", "--bogus", "--help"],     # help wins over a bad option
    ["FILE", "rename", "only-one", "-h"],     # and over a missing argument
]


@pytest.mark.parametrize("argv", HELP_INVOCATIONS, ids=" ".join)
def test_help_everywhere(keel: Keel, tmp_path: Path, argv: list[str]) -> None:
    path = tmp_path / "db.keel"
    argv = [str(path) if a == "FILE" else a for a in argv]
    out = keel.ok(*argv)
    assert b"Usage: keel" in out
    assert not path.exists(), "help must not create the store"


def test_command_help_is_specific(keel: Keel, store: Path) -> None:
    assert b"--prefix" in keel.ok(store, "ls", "--help")
    assert b"--json" in keel.ok(store, "stat", "--help")
    assert b"keel FILE put" in keel.ok("help", "put")
    overview = keel.ok("--help")
    for c in COMMANDS:
        assert f"\n  {c}".encode() in overview


def test_version(keel: Keel) -> None:
    out = keel.ok("--version").decode()
    assert out.startswith("keel 0.")
    assert "format 1." in out


USAGE_ERRORS = [
    [],
    ["FILE"],
    ["FILE", "bogus"],
    ["--bogus"],
    ["help", "bogus"],
    ["FILE", "get"],
    ["FILE", "get", "a", "b"],
    ["FILE", "put"],
    ["FILE", "put", "k", "v", "extra"],
    ["FILE", "del"],
    ["FILE", "ls", "extra"],
    ["FILE", "ls", "--bogus"],
    ["FILE", "ls", "--prefix"],
    ["FILE", "ls", "--json"],               # an option of another command
    ["FILE", "stat", "--json=yes"],
    ["FILE", "put", "--align", "3", "k", "v"],
    ["FILE", "put", "--align", "8192", "k", "v"],
    ["FILE", "put", "--align=x", "k", "v"],
    ["FILE", "get", "--hex", "zz"],
    ["FILE", "get", "--hex", "abc"],
    ["FILE", "rename", "a"],
    ["FILE", "rename", "a", "a"],
    ["FILE", "copy", "k"],
    ["FILE", "move", "k"],
    ["FILE", "copy", "k", "FILE"],           # same file, same key
    ["FILE", "move", "k", "FILE"],
    ["get", "FILE", "k"],                   # FILE and COMMAND swapped
]


@pytest.mark.parametrize("argv", USAGE_ERRORS, ids=lambda a: " ".join(a) or "(none)")
def test_usage_errors_exit_2(keel: Keel, tmp_path: Path, argv: list[str]) -> None:
    path = tmp_path / "db.keel"
    argv = [str(path) if a == "FILE" else a for a in argv]
    r = keel(*argv)
    assert_error(r, 2)
    assert b"help" in r.stderr
    assert r.stdout == b""
    assert not path.exists(), "a usage error must not create the store"


# --------------------------------------------------------------------------------------
# put / get / del


def test_put_get_roundtrip(keel: Keel, store: Path) -> None:
    assert keel.ok(store, "put", "greeting", "hello world") == b""
    assert store.exists()
    assert keel.ok(store, "get", "greeting") == b"hello world"
    keel.ok(store, "put", "greeting", "replaced")
    assert keel.ok(store, "get", "greeting") == b"replaced"


def test_get_missing_key_exits_1(keel: Keel, store: Path) -> None:
    keel.ok(store, "put", "a", "1")
    r = keel(store, "get", "nope")
    err = assert_error(r, 1, "not found", "nope")
    assert r.stdout == b""
    assert "\n" == err[-1]


def test_del(keel: Keel, store: Path) -> None:
    keel.ok(store, "put", "a", "1")
    keel.ok(store, "put", "b", "2")
    keel.ok(store, "del", "a")
    assert_error(keel(store, "get", "a"), 1)
    assert keel.ok(store, "get", "b") == b"2"
    assert_error(keel(store, "del", "a"), 1, "not found")
    assert keel.ok(store, "ls") == b"b\n"


def test_put_from_stdin_5mib(keel: Keel, store: Path) -> None:
    data = random.Random(1234).randbytes(5 * 1024 * 1024 + 17)
    keel.ok(store, "put", "big", input=data)
    out = keel.ok(store, "get", "big")
    assert len(out) == len(data)
    assert out == data


def test_put_from_stdin_pipe_streams(keel: Keel, store: Path, cli: str) -> None:
    # Feed stdin through a real pipe in small writes: the tool must keep reading to EOF.
    p = subprocess.Popen([cli, str(store), "put", "piped"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdin is not None
    chunks = [bytes([i]) * 7919 for i in range(200)]
    for c in chunks:
        p.stdin.write(c)
    p.stdin.close()
    assert p.wait(timeout=60) == 0, p.stderr.read() if p.stderr else b""
    assert keel.ok(store, "get", "piped") == b"".join(chunks)


@pytest.mark.parametrize("value", [b"", b"\x00", b"\x00" * 100, bytes(range(256)),
                                   b"line\n", b"\xff\xfe\r\n"])
def test_binary_values_via_stdin(keel: Keel, store: Path, value: bytes) -> None:
    keel.ok(store, "put", "v", input=value)
    assert keel.ok(store, "get", "v") == value


def test_empty_value_from_argument(keel: Keel, store: Path) -> None:
    keel.ok(store, "put", "empty", "")
    assert keel.ok(store, "get", "empty") == b""
    assert keel.ok(store, "ls") == b"empty\n"   # present, not deleted


def test_binary_keys(keel: Keel, store: Path) -> None:
    keys = [b"\xff\xfe", b"tab\tkey", b"caf\xc3\xa9", b" spaced key ", b"\x01\x02\x7f"]
    for i, k in enumerate(keys):
        keel.ok(store, "put", k, str(i).encode())
    for i, k in enumerate(keys):
        assert keel.ok(store, "get", k) == str(i).encode()
    assert sorted(keel.ok(store, "ls").split(b"\n")[:-1]) == sorted(keys)


def test_hex_keys_allow_nul(keel: Keel, store: Path) -> None:
    keel.ok(store, "put", "--hex", "00ff00", input=b"nul key")
    keel.ok(store, "put", "--hex", "", "empty key")
    assert keel.ok(store, "get", "--hex", "00FF00") == b"nul key"
    assert keel.ok(store, "get", "--hex", "") == b"empty key"
    assert keel.ok(store, "get", "") == b"empty key"
    assert sorted(keel.ok(store, "ls", "--hex").split()) == [b"00ff00"]  # "" splits away
    assert keel.ok(store, "ls", "--hex").count(b"\n") == 2
    assert keel.ok(store, "ls", "-0") == b"\x00\xff\x00" + b"\x00" + b"" + b"\x00"
    assert_error(keel(store, "ls", "--hex", "-0"), 2)


def test_key_starting_with_dash(keel: Keel, store: Path) -> None:
    keel.ok(store, "put", "--", "-k", "-v")
    assert keel.ok(store, "get", "--", "-k") == b"-v"
    assert keel.ok(store, "ls") == b"-k\n"


def test_oversize_key_is_an_error(keel: Keel, store: Path) -> None:
    r = keel(store, "put", "k" * 65536, "v")
    assert_error(r, 3, "put")


def test_put_sync_and_align(keel: Keel, store: Path) -> None:
    keel.ok(store, "put", "--sync", "--align", "4096", "k", "v")
    st = keel.stat(store)
    assert st["alignment"] == 4096
    keel.ok(store, "put", "--align=16", "k2", "v2")   # existing file keeps its own
    assert keel.stat(store)["alignment"] == 4096
    assert keel.ok(store, "get", "k2") == b"v2"


# --------------------------------------------------------------------------------------
# ls, stat


def test_ls_prefix(keel: Keel, store: Path) -> None:
    for k in ["user:1", "user:2", "group:1", "user", "us"]:
        keel.ok(store, "put", k, "x")
    assert sorted(keel.ok(store, "ls", "--prefix", "user").split(b"\n")[:-1]) == [
        b"user", b"user:1", b"user:2"]
    assert sorted(keel.ok(store, "ls", "--prefix=user:").split(b"\n")[:-1]) == [
        b"user:1", b"user:2"]
    assert keel.ok(store, "ls", "--prefix", "zzz") == b""
    assert keel.ok(store, "ls", "--prefix", "") .count(b"\n") == 5
    assert keel.ok(store, "ls", "--hex", "--prefix", "67") == b"67726f75703a31\n"


def test_ls_raw_keys_in_file_order(keel: Keel, store: Path) -> None:
    keys = [b"b", b"a", b"c\xff"]
    for k in keys:
        keel.ok(store, "put", k, "x")
    assert keel.ok(store, "ls") == b"".join(k + b"\n" for k in keys)


def test_ls_empty_store(keel: Keel, store: Path) -> None:
    keel.ok(store, "put", "k", "v")
    keel.ok(store, "del", "k")
    assert keel.ok(store, "ls") == b""


def test_stat_json_counts(keel: Keel, store: Path) -> None:
    keel.ok(store, "put", "a", "1")
    keel.ok(store, "put", "b", "2")
    keel.ok(store, "put", "a", "3")      # old version of a becomes garbage
    keel.ok(store, "put", "c", "4")
    keel.ok(store, "del", "c")           # tombstone
    st = keel.stat(store)
    assert st["entries"] == 5
    assert st["live_keys"] == 2
    assert st["file_size"] == store.stat().st_size
    assert st["alignment"] == 64
    assert st["format_major"] == 1
    assert st["format_version"] == f"{st['format_major']}.{st['format_minor']}"
    assert isinstance(st["reclaimable_bytes"], int) and st["reclaimable_bytes"] > 0
    assert isinstance(st["live_bytes"], int) and st["live_bytes"] > 0
    assert st["path"] == str(store)


def test_stat_json_escapes_path(keel: Keel, tmp_path: Path) -> None:
    path = tmp_path / 'we"ird\\name\t.keel'
    keel.ok(path, "put", "k", "v")
    assert keel.stat(path)["path"] == str(path)


def test_stat_text(keel: Keel, store: Path) -> None:
    keel.ok(store, "put", "a", "1")
    out = keel.ok(store, "stat").decode()
    for label in ["entries:", "live keys:", "file size:", "reclaimable bytes:", "alignment:",
                  "format version:"]:
        assert label in out
    assert f"file size:         {store.stat().st_size} bytes" in out


# --------------------------------------------------------------------------------------
# verify, compact


def _fill(keel: Keel, store: Path, n: int = 20) -> dict[bytes, bytes]:
    model = {}
    rnd = random.Random(7)
    for i in range(n):
        k = f"key{i:03d}".encode()
        v = rnd.randbytes(rnd.randrange(0, 3000))
        keel.ok(store, "put", k, input=v)
        model[k] = v
    return model


def test_verify_clean(keel: Keel, store: Path) -> None:
    _fill(keel, store, 10)
    out = keel.ok(store, "verify").decode()
    assert "10 entries checked" in out
    assert "intact" in out


def test_verify_bit_flip(keel: Keel, store: Path) -> None:
    keel.ok(store, "put", "first", input=b"A" * 1000)   # value at offset 64 (aligned)
    _fill(keel, store, 10)
    data = bytearray(store.read_bytes())
    assert data[64 + 100] == ord("A")
    data[64 + 100] ^= 0x10
    store.write_bytes(bytes(data))
    r = keel(store, "verify")
    err = assert_error(r, 3)
    assert "corrupt" in err.lower() or "checksum" in err.lower(), err
    assert store.read_bytes() == bytes(data), "verify must not modify the file"


def test_compact_shrinks_and_keeps_values(keel: Keel, store: Path) -> None:
    model = _fill(keel, store, 20)
    for i in range(10):                      # overwrite half, delete a few
        k = f"key{i:03d}".encode()
        model[k] = f"new value {i}".encode() * 50
        keel.ok(store, "put", k, input=model[k])
    for i in range(15, 18):
        k = f"key{i:03d}".encode()
        keel.ok(store, "del", k)
        del model[k]
    before = store.stat().st_size
    r = keel(store, "compact", check=0)
    after = store.stat().st_size
    assert after < before
    out = r.stdout.decode()
    assert str(before) in out and str(after) in out
    assert r.stderr == b"", "no progress bar when stderr is not a terminal"
    st = keel.stat(store)
    assert st["entries"] == st["live_keys"] == len(model)
    assert st["reclaimable_bytes"] == 0
    for k, v in model.items():
        assert keel.ok(store, "get", k) == v
    keel.ok(store, "verify")


def test_compact_progress_bar_on_terminal(keel: Keel, store: Path, cli: str) -> None:
    _fill(keel, store, 30)
    for i in range(30):
        keel.ok(store, "put", f"key{i:03d}", "short")
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen([cli, str(store), "compact"], stdout=subprocess.PIPE,
                             stderr=slave, stdin=subprocess.DEVNULL)
        os.close(slave)
        slave = -1
        chunks = []
        while True:
            try:
                b = os.read(master, 4096)
            except OSError:                   # EIO once the child closed the pty
                break
            if not b:
                break
            chunks.append(b)
        assert p.wait(timeout=60) == 0
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    tty = b"".join(chunks)
    assert b"compacting" in tty and b"100%" in tty, tty


def test_compact_empty_store(keel: Keel, store: Path) -> None:
    keel.ok(store, "put", "k", "v")
    keel.ok(store, "del", "k")
    keel.ok(store, "compact")
    assert keel.stat(store)["live_keys"] == 0


# --------------------------------------------------------------------------------------
# rename, copy, move


def test_rename(keel: Keel, store: Path) -> None:
    keel.ok(store, "put", "old", "value")
    keel.ok(store, "put", "other", "x")
    keel.ok(store, "rename", "old", "new")
    assert_error(keel(store, "get", "old"), 1)
    assert keel.ok(store, "get", "new") == b"value"
    keel.ok(store, "rename", "new", "other")          # replaces
    assert keel.ok(store, "get", "other") == b"value"
    assert_error(keel(store, "rename", "missing", "x"), 1, "not found")


def test_copy(keel: Keel, store: Path, tmp_path: Path) -> None:
    target = tmp_path / "target.keel"
    keel.ok(store, "put", "k", input=b"\x00payload")
    keel.ok(store, "copy", "k", target)
    assert keel.ok(store, "get", "k") == b"\x00payload"
    assert keel.ok(target, "get", "k") == b"\x00payload"
    keel.ok(store, "copy", "--as", "k2", "k", target)
    assert keel.ok(target, "get", "k2") == b"\x00payload"
    keel.ok(store, "copy", "--as", "k3", "k", store)   # within one file
    assert keel.ok(store, "get", "k3") == b"\x00payload"


def test_copy_missing_key_does_not_create_target(keel: Keel, store: Path,
                                                 tmp_path: Path) -> None:
    target = tmp_path / "target.keel"
    keel.ok(store, "put", "k", "v")
    assert_error(keel(store, "copy", "nope", target), 1, "not found")
    assert_error(keel(store, "move", "nope", target), 1, "not found")
    assert not target.exists()


def test_move(keel: Keel, store: Path, tmp_path: Path) -> None:
    target = tmp_path / "target.keel"
    keel.ok(store, "put", "k", "v")
    keel.ok(store, "put", "stay", "s")
    keel.ok(store, "move", "k", target)
    assert_error(keel(store, "get", "k"), 1)
    assert keel.ok(target, "get", "k") == b"v"
    keel.ok(target, "move", "--as", "k2", "k", store)
    assert keel.ok(store, "get", "k2") == b"v"
    assert_error(keel(target, "get", "k"), 1)
    keel.ok(store, "move", "--as", "k3", "k2", store)  # within one file: a rename
    assert keel.ok(store, "get", "k3") == b"v"
    assert_error(keel(store, "get", "k2"), 1)


# --------------------------------------------------------------------------------------
# Errors: foreign files, missing files, locks, closed pipes

FOREIGN = b"this is a plain text file, not a keel store\n" * 20

FOREIGN_COMMANDS = [
    ["get", "k"], ["put", "k", "v"], ["put", "k"], ["del", "k"], ["ls"], ["stat"],
    ["stat", "--json"], ["verify"], ["compact"], ["rename", "a", "b"], ["copy", "k", "T"],
    ["move", "k", "T"],
]


@pytest.mark.parametrize("argv", FOREIGN_COMMANDS, ids=" ".join)
def test_foreign_file_untouched(keel: Keel, tmp_path: Path, argv: list[str]) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(FOREIGN)
    target = tmp_path / "target.keel"
    argv = [str(target) if a == "T" else a for a in argv]
    r = keel(path, *argv, input=b"stdin value")
    err = assert_error(r, 3, str(path), "not a keel store")
    assert err.count("\n") == 1, "one line: keel: <what>: <status>: <detail>"
    assert path.read_bytes() == FOREIGN
    assert r.stdout == b""
    assert not target.exists()


@pytest.mark.parametrize("argv", [["get", "k"], ["del", "k"], ["ls"], ["stat"], ["verify"],
                                  ["compact"], ["rename", "a", "b"], ["copy", "k", "T"],
                                  ["move", "k", "T"]], ids=" ".join)
def test_missing_file(keel: Keel, tmp_path: Path, argv: list[str]) -> None:
    path = tmp_path / "typo.keel"
    target = tmp_path / "target.keel"
    argv = [str(target) if a == "T" else a for a in argv]
    r = keel(path, *argv)
    assert_error(r, 3, f"opening '{path}'")
    assert not path.exists(), "only put creates a store"
    assert not target.exists()


def test_missing_directory_for_put(keel: Keel, tmp_path: Path) -> None:
    assert_error(keel(tmp_path / "no" / "such" / "dir.keel", "put", "k", "v"), 3, "opening")
    assert_error(keel(tmp_path, "put", "k", "v"), 3, "opening")   # a directory
    assert_error(keel(tmp_path, "get", "k"), 3, "opening")


def test_corrupt_header(keel: Keel, store: Path) -> None:
    keel.ok(store, "put", "k", "v")
    data = bytearray(store.read_bytes())
    data[24] ^= 0xFF                        # inside the CRC-covered header
    store.write_bytes(bytes(data))
    for argv in (["get", "k"], ["put", "k", "w"], ["verify"]):
        assert_error(keel(store, *argv), 3, "opening")
    assert store.read_bytes() == bytes(data)


def test_locked_store(keel: Keel, store: Path) -> None:
    keel.ok(store, "put", "k", "v")
    with open(store, "rb") as f:
        fcntl.flock(f, fcntl.LOCK_EX)       # stands in for another writer process
        assert_error(keel(store, "put", "k", "w"), 3, "opening", "lock")
        assert_error(keel(store, "compact"), 3, "lock")
        # read-only commands take no lock
        assert keel.ok(store, "get", "k") == b"v"
        assert keel.ok(store, "ls") == b"k\n"
        keel.ok(store, "stat")
        keel.ok(store, "verify")


def _flock_held(path: Path) -> bool:
    """Whether some process holds a flock on `path` (read from /proc/locks, taking none)."""
    ino = os.stat(path).st_ino
    with open("/proc/locks") as f:
        for line in f:
            parts = line.split()
            if len(parts) > 5 and parts[1] == "FLOCK" and parts[5].split(":")[-1] == str(ino):
                return True
    return False


def test_readers_work_while_another_process_writes(keel: Keel, store: Path, cli: str) -> None:
    keel.ok(store, "put", "k", "v")
    # A put streaming standard input holds the writer lock until its input ends.
    p = subprocess.Popen([cli, str(store), "put", "slow"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdin is not None
    try:
        p.stdin.write(b"part one, ")
        p.stdin.flush()
        # Wait until the writer holds its flock. Probing by opening the store for writing
        # would itself take the lock for a moment and could make the writer fail.
        for _ in range(200):
            if _flock_held(store):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the streaming put never took the store's lock")
        assert_error(keel(store, "put", "k", "w"), 3, "lock")
        assert keel.ok(store, "get", "k") == b"v"
        assert keel.ok(store, "ls") == b"k\n"
        keel.ok(store, "stat", "--json")
        keel.ok(store, "verify")
        p.stdin.write(b"part two")
    finally:
        p.stdin.close()
    assert p.wait(timeout=60) == 0
    assert keel.ok(store, "get", "slow") == b"part one, part two"
    keel.ok(store, "put", "k", "w")


def test_get_into_closed_pipe(keel: Keel, store: Path, cli: str) -> None:
    keel.ok(store, "put", "big", input=b"x" * (8 * 1024 * 1024))
    p = subprocess.Popen([cli, str(store), "get", "big"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    assert p.stdout is not None and p.stderr is not None
    assert p.stdout.read(10) == b"x" * 10
    p.stdout.close()
    assert p.wait(timeout=60) == 0
    assert p.stderr.read() == b""


def test_get_to_full_device(keel: Keel, store: Path) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    keel.ok(store, "put", "k", "value")
    with open("/dev/full", "wb") as full:
        r = subprocess.run([keel.exe, str(store), "get", "k"], stdout=full,
                           stderr=subprocess.PIPE)
    assert_error(r, 3, "standard output")


def test_stat_to_full_device(keel: Keel, store: Path) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    keel.ok(store, "put", "k", "value")
    with open("/dev/full", "wb") as full:
        r = subprocess.run([keel.exe, str(store), "stat"], stdout=full, stderr=subprocess.PIPE)
    assert_error(r, 3, "standard output")


def test_same_file_same_key_is_usage_error(keel: Keel, store: Path) -> None:
    keel.ok(store, "put", "k", "v")
    before = store.read_bytes()
    assert_error(keel(store, "copy", "k", store), 2, "--as")
    assert_error(keel(store, "move", "k", store), 2, "--as")
    assert store.read_bytes() == before


def test_read_only_commands_do_not_modify(keel: Keel, store: Path) -> None:
    model = _fill(keel, store, 5)
    with open(store, "ab") as f:
        f.write(b"\x00" * 24 + b"torn tail")  # a torn tail: recovered, not cut, by readers
    before = store.read_bytes()
    for argv in (["get", "key001"], ["ls"], ["stat"], ["stat", "--json"], ["verify"]):
        keel(store, *argv)
    assert store.read_bytes() == before
    assert keel.ok(store, "get", "key001") == model[b"key001"]
    out = keel.ok(store, "verify").decode()
    assert "5 entries checked, all intact" in out
    assert "33 bytes past the last intact entry" in out
    keel.ok(store, "put", "key001", "x")         # a writable open cuts the tail
    assert "past the last intact entry" not in keel.ok(store, "verify").decode()
