"""keeldb.import_simd_r_drive and `keel import-simd`: SIMD R Drive files into keel stores.

The files come from the real engine (simd-r-drive-py from PyPI, which writes payloads
without pre-pad) and, for the 64-byte aligned format of the engine's 0.15 on, from the
reference's worked example built byte by byte. Checked: overwrites keep the newest value,
deletes stay deleted, streamed values arrive whole, hashes without a key are reported or
kept under a prefix, NamespaceHasher keys, a torn tail is reported and skipped, a damaged
entry raises CorruptError naming its offset, and the source is never modified.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

import keeldb
from keeldb import CorruptError, DataStore, NamespaceHasher, import_simd_r_drive

simd = pytest.importorskip("simd_r_drive", reason="simd-r-drive-py is not installed")


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _write_with_engine(path: Path) -> Dict[bytes, bytes]:
    """Deletes, overwrites, a streamed value and a batch, through the real engine."""
    s = simd.DataStore(str(path))
    want: Dict[bytes, bytes] = {}
    for i in range(200):
        k, v = b"key-%d" % i, b"value-%d" % i * (i % 7 + 1)
        s.write(k, v)
        want[k] = v
    for i in range(0, 200, 3):  # overwrites
        k, v = b"key-%d" % i, b"new-%d" % i
        s.write(k, v)
        want[k] = v
    for i in range(0, 200, 5):  # deletes
        s.delete(b"key-%d" % i)
        want.pop(b"key-%d" % i, None)
    s.write(b"key-5", b"back after delete")
    want[b"key-5"] = b"back after delete"
    big = bytes(range(256)) * 4000
    s.write_stream(b"streamed", io.BytesIO(big))
    want[b"streamed"] = big
    s.batch_write([(b"b1", b"one"), (b"b2", b"two")])
    want.update({b"b1": b"one", b"b2": b"two"})
    del s
    return want


def test_engine_file_imports_whole(tmp_path: Path) -> None:
    src, dst = tmp_path / "simd.bin", tmp_path / "out.keel"
    want = _write_with_engine(src)
    before = _digest(src)
    keys = [b"key-%d" % i for i in range(200)] + [b"streamed", b"b1", b"b2", b"never-written"]
    report = import_simd_r_drive(src, dst, keys)
    assert _digest(src) == before
    assert report["imported"] == len(want) and report["unknown"] == []
    assert report["torn_bytes"] == 0 and report["valid_size"] == src.stat().st_size
    assert report["deleted"] == 40 - 1  # key-5 came back
    with DataStore(dst, readonly=True) as s:
        assert dict(s.items()) == want
        s.verify()


def test_unknown_hashes_reported_or_kept(tmp_path: Path) -> None:
    src = tmp_path / "simd.bin"
    want = _write_with_engine(src)
    report = import_simd_r_drive(src, tmp_path / "a.keel", [b"b1"])
    assert report["imported"] == 1 and report["unknown_count"] == len(want) - 1
    hashes = {h for h, _, _ in report["unknown"]}
    assert keeldb.key_hash(b"streamed") in hashes
    report = import_simd_r_drive(src, tmp_path / "b.keel", [b"b1"], unknown_prefix=b"?")
    assert report["unknown_kept"] == len(want) - 1
    with DataStore(tmp_path / "b.keel") as s:
        k = b"?%016x" % keeldb.key_hash(b"streamed")
        assert s[k] == want[b"streamed"]
        assert s[b"b1"] == b"one"


def test_namespace_hasher_keys(tmp_path: Path) -> None:
    src = tmp_path / "simd.bin"
    s = simd.DataStore(str(src))
    h = simd.NamespaceHasher(b"users")
    s.write(h.namespace(b"alice"), b"A")
    s.write(h.namespace(b"bob"), b"B")
    del s
    report = import_simd_r_drive(src, tmp_path / "out.keel", [b"alice", b"bob"],
                                 hasher=NamespaceHasher(b"users"))
    assert report["imported"] == 2
    with DataStore(tmp_path / "out.keel") as out:
        assert out.read(NamespaceHasher(b"users").namespace(b"alice")) == b"A"


def test_torn_tail_is_reported_and_skipped(tmp_path: Path) -> None:
    src = tmp_path / "simd.bin"
    s = simd.DataStore(str(src))
    s.write(b"a", b"first")
    s.write(b"b", b"x" * 5000)
    del s
    full = src.read_bytes()
    for cut in (len(full) - 1, len(full) - 20, len(full) - 2500, 26 + 3):
        src.write_bytes(full[:cut])
        dst = tmp_path / f"cut{cut}.keel"
        report = import_simd_r_drive(src, dst, [b"a", b"b"])
        assert report["torn_bytes"] == cut - report["valid_size"] > 0
        with DataStore(dst) as out:
            assert out.read(b"a") == b"first" and out.read(b"b") is None


def test_damaged_entry_names_its_offset_and_leaves_nothing(tmp_path: Path) -> None:
    src = tmp_path / "simd.bin"
    s = simd.DataStore(str(src))
    s.write(b"a", b"first value")
    s.write(b"b", b"second value")
    s.write(b"c", b"third value")
    del s
    data = bytearray(src.read_bytes())
    data[33] ^= 0x40  # inside the payload of b (entry at offset 31)
    src.write_bytes(bytes(data))
    before = _digest(src)
    dst = tmp_path / "out.keel"
    with pytest.raises(CorruptError, match="offset 31"):
        import_simd_r_drive(src, dst, [b"a", b"b", b"c"])
    assert not dst.exists() and _digest(src) == before


def _aligned_example() -> bytes:
    """The reference's worked example (engine 0.15 on: payloads on 64-byte boundaries)."""
    out = bytearray()
    for key, payload in ((b"key1", b"value1"), (b"key2", b"value2"), (b"key1", b"\x00"),
                         (b"key3", b"abc")):
        tail = len(out)
        if payload != b"\x00":
            out += b"\x00" * ((64 - tail % 64) % 64)
        out += payload + struct.pack("<QQI", keeldb.key_hash(key), tail, zlib.crc32(payload))
    return bytes(out)


def test_aligned_format_of_newer_engines(tmp_path: Path) -> None:
    data = _aligned_example()
    assert len(data) == 151 and data[70:90].hex() == "69e0b8073d5d5a721a00000000000000e03d7c3b"
    src = tmp_path / "aligned.bin"
    src.write_bytes(data)
    report = import_simd_r_drive(src, tmp_path / "out.keel", [b"key1", b"key2", b"key3"])
    assert report["alignment"] == 64 and report["entries"] == 4 and report["deleted"] == 1
    with DataStore(tmp_path / "out.keel") as s:
        assert dict(s.items()) == {b"key2": b"value2", b"key3": b"abc"}
    with pytest.raises(CorruptError):  # told the wrong alignment: the CRCs do not match
        import_simd_r_drive(src, tmp_path / "wrong.keel", [b"key2"], alignment=1)
    assert not (tmp_path / "wrong.keel").exists()


def test_bad_arguments(tmp_path: Path) -> None:
    src = tmp_path / "s.bin"
    src.write_bytes(_aligned_example())
    (tmp_path / "exists.keel").write_bytes(b"")
    with pytest.raises(FileExistsError):
        import_simd_r_drive(src, tmp_path / "exists.keel", [])
    with pytest.raises(TypeError, match="str"):
        import_simd_r_drive(src, tmp_path / "o.keel", ["text"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="alignment"):
        import_simd_r_drive(src, tmp_path / "o.keel", [], alignment=8)
    with pytest.raises(OSError) as missing:  # StoreIOError, errno set
        import_simd_r_drive(tmp_path / "missing", tmp_path / "o2.keel", [])
    assert missing.value.errno == errno.ENOENT
    assert not (tmp_path / "o.keel").exists() and not (tmp_path / "o2.keel").exists()


def test_cli_import_simd(tmp_path: Path, cli: str) -> None:
    keel_cli = cli
    src = tmp_path / "simd.bin"
    want = _write_with_engine(src)
    before = _digest(src)
    keys = tmp_path / "keys.txt"
    keys.write_text("\n".join(k.hex() for k in want if k != b"b2") + "\n")
    dst = tmp_path / "out.keel"
    r = subprocess.run([keel_cli, "import-simd", str(src), str(dst), "--keys", str(keys),
                        "--hex", "--unknown-prefix", "lost:"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert f"imported {len(want)} keys" in r.stdout and "1 without" in r.stdout
    assert _digest(src) == before
    with DataStore(dst) as s:
        assert s[b"lost:%016x" % keeldb.key_hash(b"b2")] == b"two"
        assert s[b"streamed"] == want[b"streamed"]
    r = subprocess.run([keel_cli, "import-simd", str(src), str(dst)], capture_output=True,
                       text=True)
    assert r.returncode == 2 and "already exists" in r.stderr
    data = bytearray(src.read_bytes())
    data[3] ^= 1
    src.write_bytes(bytes(data))
    r = subprocess.run([keel_cli, "import-simd", str(src), str(tmp_path / "x.keel")],
                       capture_output=True, text=True)
    assert r.returncode == 3 and "offset 0" in r.stderr
    assert not (tmp_path / "x.keel").exists()
