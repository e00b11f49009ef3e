"""Tests for `keel records FILE` and `keel records cat FILE` (tools/keel/), run as a subprocess.

Record files are written with keeldb.RecordWriter or taken from the golden files in
tests/data/records/. The binary is found as in test_cli.py: $KEEL_CLI, else the `keel`
beside the running Python, else `keel` on PATH, else the newest build*/tools/keel; when none
exists every test fails.

Exit status contract: 0 success, 2 usage error, 3 any other error (missing file, not a
record file, damage) with "keel: <what>: <status>: <detail>" on stderr.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from keeldb import RecordReader, RecordWriter

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "data" / "records"
BLOCK = 65536
SIGNATURE = 64          # the file signature: a block header and a 40-byte chunk header


# The `cli` fixture (the keel binary under test) comes from conftest.py.


class Keel:
    def __init__(self, exe: str) -> None:
        self.exe = exe

    def __call__(self, *args: str | os.PathLike[str], check: int | None = None,
                 cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
        argv = [self.exe] + [os.fspath(a) for a in args]
        r = subprocess.run(argv, input=b"", capture_output=True, timeout=120, cwd=cwd)
        if check is not None:
            assert r.returncode == check, (
                f"{argv!r} exited {r.returncode}, expected {check}\n"
                f"stdout: {r.stdout[:2000]!r}\nstderr: {r.stderr.decode(errors='replace')}")
        return r

    def ok(self, *args: str | os.PathLike[str], cwd: Path | None = None) -> bytes:
        return self(*args, check=0, cwd=cwd).stdout

    def stat(self, path: Path, *extra: str, check: int = 0) -> dict[str, object]:
        r = self("records", path, "--json", *extra, check=check)
        assert r.stdout.endswith(b"}\n") and r.stdout.count(b"\n") == 1, r.stdout
        obj = json.loads(r.stdout)
        assert isinstance(obj, dict)
        return obj


@pytest.fixture
def keel(cli: str) -> Keel:
    return Keel(cli)


def assert_error(r: subprocess.CompletedProcess[bytes], code: int, *needles: str) -> str:
    err = r.stderr.decode(errors="replace")
    assert r.returncode == code, f"exit {r.returncode}, expected {code}; stderr: {err}"
    assert err.startswith("keel: "), err
    for n in needles:
        assert n.lower() in err.lower(), f"{n!r} not in {err!r}"
    return err


def write_chunks(path: Path, chunks: list[list[bytes]], **kw: object) -> list[int]:
    """Write each inner list as one chunk (flush after it); returns the file size after
    each chunk, i.e. where the next chunk begins."""
    ends = []
    with RecordWriter(path, **kw) as w:   # type: ignore[arg-type]
        for recs in chunks:
            for r in recs:
                w.write_record(r)
            w.flush()
            ends.append(path.stat().st_size)
    return ends


def chunked(n_chunks: int, per_chunk: int, size: int = 200) -> list[list[bytes]]:
    return [[(b"c%d-r%d:" % (c, k)) * (size // 8) for k in range(per_chunk)]
            for c in range(n_chunks)]


def flat(chunks: list[list[bytes]]) -> list[bytes]:
    return [r for c in chunks for r in c]


def lines(recs: list[bytes]) -> bytes:
    return b"".join(r + b"\n" for r in recs)


def length_prefixed(recs: list[bytes]) -> bytes:
    return b"".join(struct.pack("<Q", len(r)) + r for r in recs)


def parse_length_prefixed(out: bytes) -> list[bytes]:
    recs, p = [], 0
    while p < len(out):
        assert p + 8 <= len(out), "truncated length prefix"
        (n,) = struct.unpack_from("<Q", out, p)
        p += 8
        assert p + n <= len(out), "truncated record"
        recs.append(out[p:p + n])
        p += n
    return recs


def read_with_keeldb(path: Path) -> list[bytes]:
    with RecordReader(path) as r:
        return [x.to_bytes() for x in r]


# --------------------------------------------------------------------------------------
# Help and usage


HELP = [
    ["records", "--help"], ["records", "-h"], ["help", "records"], ["records", "cat", "--help"],
    ["help", "records", "cat"], ["records", "FILE", "--help"], ["records", "cat", "FILE", "-h"],
    ["records", "--bogus", "--help"],       # help wins over a bad option
    ["records", "cat", "--format=csv", "-h"],
    ["records", "a", "b", "--help"],        # and over too many arguments
]


@pytest.mark.parametrize("argv", HELP, ids=" ".join)
def test_help_everywhere(keel: Keel, tmp_path: Path, argv: list[str]) -> None:
    path = tmp_path / "r.riegeli"
    argv = [str(path) if a == "FILE" else a for a in argv]
    r = keel(*argv, check=0)
    assert r.stdout.startswith(b"Usage: keel records "), r.stdout[:200]
    assert b"--help" in r.stdout
    assert r.stderr == b""
    assert not path.exists()


def test_help_contents(keel: Keel) -> None:
    full = keel.ok("help", "records").decode()
    for needle in ("keel records FILE [--json] [--no-verify]", "keel records cat FILE",
                   "--no-verify", "--json", "--recover", "ArrayRecord", "offset"):
        assert needle in full, needle
    cat = keel.ok("records", "cat", "--help").decode()
    assert "--json" not in cat                 # only the cat part
    assert "little-endian" in cat and "u64" in cat and "8-byte" in cat
    assert "ambiguous" in cat                  # records containing newlines, in lines mode
    for f in ("lines", "length-prefixed", "hex"):
        assert f"--format={f}" in cat
    overview = keel.ok("--help").decode()
    assert "keel records [cat] FILE" in overview
    assert "\n  records FILE " in overview and "\n  records cat FILE " in overview


USAGE_ERRORS = [
    ["records"],
    ["records", "cat"],
    ["records", ""],
    ["records", "--json"],
    ["records", "--bogus", "FILE"],
    ["records", "FILE", "extra"],
    ["records", "FILE", "--recover"],           # an option of cat
    ["records", "FILE", "--format=hex"],
    ["records", "FILE", "--json=yes"],
    ["records", "cat", "FILE", "--json"],       # an option of the statistics
    ["records", "cat", "FILE", "--no-verify"],
    ["records", "cat", "FILE", "--format=csv"],
    ["records", "cat", "FILE", "--format"],
    ["records", "cat", "FILE", "--format="],
    ["records", "cat", "FILE", "FILE"],
    ["FILE", "records"],                        # store syntax: not a store command
]


@pytest.mark.parametrize("argv", USAGE_ERRORS, ids=lambda a: " ".join(a))
def test_usage_errors_exit_2(keel: Keel, tmp_path: Path, argv: list[str]) -> None:
    path = tmp_path / "r.riegeli"
    write_chunks(path, [[b"x"]])
    before = path.read_bytes()
    argv = [str(path) if a == "FILE" else a for a in argv]
    r = keel(*argv)
    assert_error(r, 2)
    assert b"help" in r.stderr
    assert r.stdout == b""
    assert path.read_bytes() == before


def test_file_named_cat(keel: Keel, tmp_path: Path) -> None:
    """'cat' right after 'records' is the subcommand; '--' or ./cat names a file."""
    write_chunks(tmp_path / "cat", [[b"meow"]])
    assert keel.stat(tmp_path / "cat")["records"] == 1
    assert b"records:            1\n" in keel.ok("records", "--", "cat", cwd=tmp_path)
    assert keel.ok("records", "cat", "--", "cat", cwd=tmp_path) == b"meow\n"
    assert keel.ok("records", "cat", "./cat", cwd=tmp_path) == b"meow\n"


# --------------------------------------------------------------------------------------
# Statistics


GOLDEN_RECORDS = {
    "empty.riegeli": (0, 0, 0),                 # records, record bytes, record chunks
    "one_record.riegeli": (1, 15, 1),
    "record_127.riegeli": (1, 127, 1),
    "spanning_blocks.riegeli": (3, 150_000, 1),
    "chunk_ends_on_boundary.riegeli": (2, 65427 + 4, 2),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_RECORDS))
def test_golden_stats_json(keel: Keel, name: str) -> None:
    path = GOLDEN / name
    n, nbytes, nchunks = GOLDEN_RECORDS[name]
    s = keel.stat(path)
    assert s["path"] == str(path)
    assert s["file_size"] == path.stat().st_size
    assert s["records"] == n
    assert s["record_bytes"] == nbytes
    assert s["record_chunks"] == nchunks
    assert s["uncompressed_chunks"] == nchunks
    assert s["zstd_chunks"] == s["brotli_chunks"] == s["snappy_chunks"] == 0
    assert s["signature_chunks"] == 1
    assert s["chunks"] == nchunks + 1
    assert s["padding_chunks"] == s["metadata_chunks"] == 0
    assert s["transposed_chunks"] == s["other_chunks"] == 0
    assert s["records_per_chunk"] == (n / nchunks if nchunks else 0)
    assert nbytes <= s["chunk_data_bytes"] <= s["file_size"]  # type: ignore[operator]
    assert s["array_record"] is False and s["array_record_group_size"] == 0
    assert s["verified"] is True and s["intact"] is True
    assert s["corrupt_chunks"] == s["skipped_regions"] == s["skipped_bytes"] == 0
    assert s["error"] is None
    assert n == RecordReader.count_records(path)


def test_stats_text_exact(keel: Keel) -> None:
    path = GOLDEN / "one_record.riegeli"
    out = keel.ok("records", path).decode()
    assert out == (
        f"file:               {path}\n"
        "file size:          122 bytes (122 B)\n"
        "records:            1\n"
        "record bytes:       15 bytes (15 B), decoded\n"
        "chunks:             2 = 1 record + 1 signature + 0 padding + 0 metadata + "
        "0 transposed + 0 other\n"
        "compression:        1 uncompressed, 0 zstd, 0 brotli, 0 snappy (record chunks)\n"
        "chunk data bytes:   18 bytes (18 B), on disk\n"
        "records per chunk:  1.0 (average)\n"
        "ArrayRecord footer: no\n"
        "verify:             1 record chunks checked, all intact\n")


def test_stats_chunks_from_writer(keel: Keel, tmp_path: Path) -> None:
    path = tmp_path / "r"
    chunks = chunked(6, 4) + [[b"a", b"", b"b\nc"]]
    write_chunks(path, chunks)
    recs = flat(chunks)
    s = keel.stat(path)
    assert s["records"] == len(recs) == 27
    assert s["record_bytes"] == sum(map(len, recs))
    assert s["record_chunks"] == 7 and s["uncompressed_chunks"] == 7
    assert s["records_per_chunk"] == pytest.approx(27 / 7, abs=0.001)
    assert s["file_size"] == path.stat().st_size
    text = keel.ok("records", path).decode()
    assert "records:            27\n" in text
    assert "records per chunk:  3.9 (average)\n" in text
    assert "verify:             7 record chunks checked, all intact\n" in text


def test_stats_zstd(keel: Keel, tmp_path: Path) -> None:
    path = tmp_path / "z"
    write_chunks(path, [[b"z" * 1000] * 10, [b"y" * 500] * 3], compression="zstd")
    s = keel.stat(path)
    assert s["records"] == 13
    assert s["record_bytes"] == 11_500
    assert s["zstd_chunks"] == 2 and s["uncompressed_chunks"] == 0
    assert s["chunk_data_bytes"] < 11_500          # compressed on disk
    assert s["intact"] is True


def test_stats_array_record_footer(keel: Keel, tmp_path: Path) -> None:
    path = tmp_path / "ar"
    with RecordWriter(path, array_record=True, group_size=3) as w:
        for i in range(10):
            w.write_record(b"x%d" % i)
    s = keel.stat(path)
    assert s["array_record"] is True
    assert s["array_record_group_size"] == 3
    assert s["records"] == 10                        # the footer is not a record
    assert s["record_chunks"] == 4                   # 3 + 3 + 3 + 1
    assert s["intact"] is True
    assert "ArrayRecord footer: yes (group size 3)\n" in keel.ok("records", path).decode()
    assert keel.ok("records", "cat", path) == lines([b"x%d" % i for i in range(10)])


def test_zero_byte_file(keel: Keel, tmp_path: Path) -> None:
    path = tmp_path / "zero"
    path.write_bytes(b"")
    s = keel.stat(path)
    assert s["file_size"] == 0 and s["records"] == 0 and s["chunks"] == 0
    assert s["intact"] is True
    assert keel.ok("records", "cat", path) == b""
    assert keel.ok("records", "cat", "--format=length-prefixed", path) == b""
    assert path.read_bytes() == b""


def test_no_verify_reads_headers_only(keel: Keel, tmp_path: Path) -> None:
    path = tmp_path / "r"
    ends = write_chunks(path, chunked(3, 4))
    s = keel.stat(path, "--no-verify")
    assert s["verified"] is False and s["intact"] is None and s["records"] == 12
    assert "verify:             not done" in keel.ok("records", "--no-verify", path).decode()
    # damaged chunk data: only the verifying run notices
    data = bytearray(path.read_bytes())
    data[ends[0] + 50] ^= 0x10
    path.write_bytes(data)
    assert keel.stat(path, "--no-verify")["records"] == 12
    assert_error(keel("records", path), 3, f"offset {ends[0]}")


# --------------------------------------------------------------------------------------
# Damage


def test_bit_flip_in_chunk_data(keel: Keel, tmp_path: Path) -> None:
    path = tmp_path / "r"
    ends = write_chunks(path, chunked(5, 4))
    data = bytearray(path.read_bytes())
    begin = ends[1]                                  # the third chunk
    data[begin + 60] ^= 0x04
    path.write_bytes(data)

    r = keel("records", path)
    err = assert_error(r, 3, f"records '{path}'", "damaged",
                       f"chunk at offset {begin}: data hash mismatch")
    assert err.count("\n") == 1, "one line: keel: <what>: <status>: <detail>"
    assert b"verify:             DAMAGED" in r.stdout
    assert b"records:            20\n" in r.stdout   # headers are intact: all counted

    s = keel.stat(path, check=3)
    assert s["intact"] is False and s["verified"] is True
    assert s["corrupt_chunks"] == 1
    assert f"offset {begin}" in str(s["error"])
    assert path.read_bytes() == bytes(data), "records never writes"


def test_bit_flip_in_chunk_header(keel: Keel, tmp_path: Path) -> None:
    path = tmp_path / "r"
    write_chunks(path, chunked(3, 2))
    data = bytearray(path.read_bytes())
    data[SIGNATURE + 17] ^= 0x01                     # first chunk's header
    path.write_bytes(data)
    for extra in ([], ["--no-verify"]):              # a damaged header needs no verify
        assert_error(keel("records", path, *extra), 3, f"offset {SIGNATURE}")
        s = keel.stat(path, *extra, check=3)
        assert s["intact"] is False and f"offset {SIGNATURE}" in str(s["error"])
        # what the recover pass lost: from the damaged header to the file's end (one block)
        assert s["skipped_regions"] == 1
        assert s["skipped_bytes"] == len(data) - SIGNATURE


def test_truncated_tail(keel: Keel, tmp_path: Path) -> None:
    path = tmp_path / "r"
    ends = write_chunks(path, chunked(4, 3))
    path.write_bytes(path.read_bytes()[:-7])
    err = assert_error(keel("records", path), 3, "truncated", f"offset {ends[2]}")
    assert err.count("\n") == 1
    s = keel.stat(path, check=3)
    assert s["records"] == 9                         # the complete chunks
    r = keel("records", "cat", path)
    assert_error(r, 3, "truncated", f"offset {ends[2]}")
    assert r.stdout == lines(flat(chunked(4, 3))[:9])


def test_bit_flips_anywhere_are_detected(keel: Keel, tmp_path: Path) -> None:
    """Every flipped bit in a chunk is caught by the verifying run (hashes cover
    headers and data), and cat never prints a wrong record."""
    src = tmp_path / "src"
    chunks = chunked(3, 3, 100)
    write_chunks(src, chunks)
    recs = flat(chunks)
    data = src.read_bytes()
    path = tmp_path / "flip"
    for off in range(SIGNATURE, len(data), 7):
        bad = bytearray(data)
        bad[off] ^= 1 << (off % 8)
        path.write_bytes(bad)
        assert_error(keel("records", path), 3, "offset")
        r = keel("records", "cat", "--format=length-prefixed", path)
        assert_error(r, 3, "offset")
        got = parse_length_prefixed(r.stdout)
        assert got == recs[:len(got)], off


def test_missing_file(keel: Keel, tmp_path: Path) -> None:
    path = tmp_path / "typo.riegeli"
    for argv in (["records", path], ["records", path, "--json"], ["records", "cat", path]):
        r = keel(*argv)
        err = assert_error(r, 3, str(path), "no such file")
        assert err.count("\n") == 1
        assert r.stdout == b""
    assert not path.exists()


FOREIGN = b"this is a plain text file, not a record file\n" * 20


def test_not_a_record_file(keel: Keel, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(FOREIGN)
    for argv in (["records", path], ["records", "--json", path], ["records", "cat", path],
                 ["records", "cat", "--recover", path]):
        r = keel(*argv)
        err = assert_error(r, 3, f"'{path}'", "not a record file", "offset 0")
        assert err.count("\n") == 1
        assert r.stdout == b""
    assert path.read_bytes() == FOREIGN


def test_keel_store_is_not_a_record_file(keel: Keel, tmp_path: Path) -> None:
    store = tmp_path / "db.keel"
    keel.ok(store, "put", "k", "v")
    assert_error(keel("records", store), 3, "not a record file")
    assert_error(keel("records", "cat", store), 3, "not a record file")
    assert keel.ok(store, "get", "k") == b"v"       # the store syntax is unchanged


def test_directory(keel: Keel, tmp_path: Path) -> None:
    assert_error(keel("records", tmp_path), 3, str(tmp_path))
    assert_error(keel("records", "cat", tmp_path), 3, str(tmp_path))


# --------------------------------------------------------------------------------------
# cat


@pytest.mark.parametrize("name", sorted(GOLDEN_RECORDS))
def test_cat_golden(keel: Keel, name: str) -> None:
    path = GOLDEN / name
    recs = read_with_keeldb(path)
    assert len(recs) == GOLDEN_RECORDS[name][0]
    assert keel.ok("records", "cat", path) == lines(recs)
    assert keel.ok("records", "cat", "--format=length-prefixed", path) == length_prefixed(recs)
    assert keel.ok("records", "cat", "--format", "hex", path) == b"".join(
        r.hex().encode() + b"\n" for r in recs)


def test_cat_one_record_exact(keel: Keel) -> None:
    path = GOLDEN / "one_record.riegeli"
    assert keel.ok("records", "cat", path) == b"Hello, Riegeli!\n"
    assert keel.ok("records", "cat", "--format=lines", path) == b"Hello, Riegeli!\n"
    assert keel.ok("records", "cat", "--format=length-prefixed", path) == (
        b"\x0f\x00\x00\x00\x00\x00\x00\x00Hello, Riegeli!")
    assert keel.ok("records", "cat", "--format=hex", path) == (
        b"48656c6c6f2c2052696567656c6921\n")


BINARY = [b"", b"\n", b"a\nb", b"\x00\xff" * 300, bytes(range(256)), b"", b"tail",
          os.urandom(200_000), b"x" * 127, b"y" * 128]


def test_cat_binary_records(keel: Keel, tmp_path: Path) -> None:
    path = tmp_path / "bin"
    write_chunks(path, [BINARY[:4], BINARY[4:8], BINARY[8:]])
    out = keel.ok("records", "cat", "--format=length-prefixed", path)
    assert out == length_prefixed(BINARY)
    assert parse_length_prefixed(out) == BINARY
    # lines: raw bytes and '\n' each (ambiguous with newlines inside, but exact bytes)
    assert keel.ok("records", "cat", path) == lines(BINARY)
    hexed = keel.ok("records", "cat", "--format=hex", path)
    assert hexed.split(b"\n")[:-1] == [r.hex().encode() for r in BINARY]
    assert hexed.endswith(b"\n")


def test_cat_many_records_and_zstd(keel: Keel, tmp_path: Path) -> None:
    path = tmp_path / "many"
    recs = [b"%06d" % i * (i % 5) for i in range(30_000)]
    with RecordWriter(path, "zstd") as w:
        for r in recs:
            w.write_record(r)
    assert keel.ok("records", "cat", "--format=length-prefixed", path) == length_prefixed(recs)
    assert keel.stat(path)["records"] == 30_000


def test_cat_stops_at_damage(keel: Keel, tmp_path: Path) -> None:
    path = tmp_path / "r"
    chunks = chunked(5, 4)
    ends = write_chunks(path, chunks)
    data = bytearray(path.read_bytes())
    begin = ends[1]
    data[begin + 45] ^= 0xFF                         # the third chunk's data
    path.write_bytes(data)
    recs = flat(chunks)

    r = keel("records", "cat", path)
    err = assert_error(r, 3, f"records cat '{path}'",
                       f"chunk at offset {begin}: data hash mismatch")
    assert err.count("\n") == 1
    assert r.stdout == lines(recs[:8])               # what comes before the damage, exactly

    r = keel("records", "cat", "--recover", "--format=length-prefixed", path)
    assert r.returncode == 0, r.stderr
    assert parse_length_prefixed(r.stdout) == recs[:8] + recs[12:]
    err = r.stderr.decode()
    assert err.startswith("keel: ")
    assert "skipped" in err
    assert f"skipped bytes {begin}..{ends[2]} ({ends[2] - begin} bytes)" in err
    assert f"chunk at offset {begin}: data hash mismatch" in err


def test_cat_recover_damaged_header(keel: Keel, tmp_path: Path) -> None:
    """A damaged header loses the rest of its block; recover resynchronises after it."""
    path = tmp_path / "r"
    chunks = [[bytes([65 + c]) * 30_000] for c in range(6)]     # spans 3 blocks
    write_chunks(path, chunks)
    data = bytearray(path.read_bytes())
    data[SIGNATURE + 3] ^= 0x20
    path.write_bytes(data)
    assert_error(keel("records", "cat", path), 3, f"offset {SIGNATURE}")
    r = keel("records", "cat", "--recover", "--format=length-prefixed", path)
    assert r.returncode == 0, r.stderr
    got = parse_length_prefixed(r.stdout)
    assert 0 < len(got) < 6
    assert got == flat(chunks)[6 - len(got):]
    assert b"skipped" in r.stderr and b"offset 64" in r.stderr


def test_cat_clean_file_recover_is_quiet(keel: Keel, tmp_path: Path) -> None:
    path = tmp_path / "r"
    write_chunks(path, chunked(2, 2))
    r = keel("records", "cat", "--recover", path, check=0)
    assert r.stderr == b""
    assert r.stdout == lines(flat(chunked(2, 2)))


def test_cat_closed_pipe_is_quiet(cli: str, tmp_path: Path) -> None:
    path = tmp_path / "big"
    with RecordWriter(path) as w:
        for i in range(2000):
            w.write_record(b"%d" % i * 1000)
    p = subprocess.Popen([cli, "records", "cat", str(path)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    assert p.stdout is not None and p.stderr is not None
    assert p.stdout.read(100) == b"0" * 100
    p.stdout.close()
    err = p.stderr.read()
    assert p.wait(timeout=60) == 0
    assert err == b""
