"""Every DataStore and NamespaceHasher method, with its errors (lifetime, EntryHandle and
streams: test_lifetime.py)."""

from __future__ import annotations

import errno
import gc
import io
import os
import random
import struct
from pathlib import Path

import numpy as np
import pytest

import keeldb
from keeldb import DataStore

# ---------------------------------------------------------------------------------------
# Module surface


def test_module_surface() -> None:
    assert keeldb.__version__ == "0.1.0"
    assert isinstance(keeldb.engine_version, str) and keeldb.engine_version
    assert keeldb.MAX_KEY == 65535
    for name in keeldb.__all__:
        assert hasattr(keeldb, name), name


def test_exception_hierarchy() -> None:
    for exc in (
        keeldb.CorruptError,
        keeldb.FormatError,
        keeldb.VersionError,
        keeldb.LockedError,
        keeldb.ReadOnlyError,
        keeldb.StoreIOError,
    ):
        assert issubclass(exc, keeldb.Error)
    assert issubclass(keeldb.Error, Exception)
    assert issubclass(keeldb.StoreIOError, OSError)
    # The errno subclasses are what OSError(errno, ...) would pick, and StoreIOErrors.
    for exc, builtin in (
        (keeldb.StoreFileNotFoundError, FileNotFoundError),
        (keeldb.StoreFileExistsError, FileExistsError),
        (keeldb.StorePermissionError, PermissionError),
    ):
        assert issubclass(exc, keeldb.StoreIOError) and issubclass(exc, builtin)
        assert exc.__module__ == "keeldb"
    assert keeldb.Error.__module__ == "keeldb"


def test_key_hash_golden_values() -> None:
    # Upstream's tests/hash_stability_tests.rs (XXH3-64, seed 0).
    golden = {
        b"": 0x2D06800538D394C2,
        b"\x00": 0xC44BDFF4074EECDB,
        b"alice": 0x4DA10DD61A0116B0,
        b"bob": 0x1403C0C40F49B8E5,
        b"carol": 0xE2FDB994AD3FCBA4,
        b"key1": 0x384D070CD5D829E2,
        b"test_key": 0xE0614CC5ECBEED92,
        b"longer_key_name": 0x4C21BC57C3B572EE,
    }
    for key, h in golden.items():
        assert keeldb.key_hash(key) == h, key


def test_namespace_hasher() -> None:
    h = keeldb.NamespaceHasher(b"namespace1")
    out = h.namespace(b"key1")
    assert out == bytes.fromhex("7c066c9df2e6eccb" "e229d8d50c074d38")
    assert len(out) == 16
    assert out[:8] == struct.pack("<Q", keeldb.key_hash(b"namespace1"))
    assert out[8:] == struct.pack("<Q", keeldb.key_hash(b"key1"))
    # Different prefixes, same key: different namespaced keys; same prefix: stable.
    assert keeldb.NamespaceHasher(b"namespace2").namespace(b"key1") != out
    assert keeldb.NamespaceHasher(bytearray(b"namespace1")).namespace(memoryview(b"key1")) == out
    with pytest.raises(TypeError, match="prefix must be a bytes-like object, not 'str'"):
        keeldb.NamespaceHasher("namespace1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="key must be a bytes-like object, not 'str'"):
        h.namespace("key1")  # type: ignore[arg-type]


def test_internal_types_not_instantiable() -> None:
    for cls in (keeldb.EntryHandle, keeldb.EntryStream, keeldb.StoreIterator):
        with pytest.raises(TypeError):
            cls()


# ---------------------------------------------------------------------------------------
# Opening


def test_open_paths(tmp_path: Path) -> None:
    p = tmp_path / "a.keel"
    with DataStore(p) as s:  # pathlib.Path
        assert s.path == str(p)
        s.write(b"k", b"v")
    with DataStore(str(p)) as s:
        assert s.read(b"k") == b"v"
    with DataStore(os.fsencode(p)) as s:
        assert s.read(b"k") == b"v"
        assert repr(s).startswith("<keeldb.DataStore path=")
    assert "closed" in repr(s)


def test_open_missing_without_create(tmp_path: Path) -> None:
    p = tmp_path / "missing.keel"
    # simd_r_drive raises OSError for a file it cannot open; ours is that, a keeldb.Error,
    # and the FileNotFoundError that OSError(ENOENT, ...) would be, read-only or not.
    for kwargs in ({"create": False}, {"readonly": True}):
        with pytest.raises(FileNotFoundError) as ei:
            DataStore(p, **kwargs)
        assert type(ei.value) is keeldb.StoreFileNotFoundError
        assert isinstance(ei.value, keeldb.StoreIOError)
        assert isinstance(ei.value, keeldb.Error)
        assert ei.value.errno == errno.ENOENT
        assert ei.value.filename == str(p)
        assert "no such file" in str(ei.value)
    assert not p.exists()
    # A missing directory on the path is ENOENT too; the Database raises the same class.
    with pytest.raises(keeldb.StoreFileNotFoundError):
        DataStore(tmp_path / "no" / "dir.keel")
    with pytest.raises(keeldb.StoreFileNotFoundError) as ei:
        keeldb.Database.open(p)
    assert ei.value.errno == errno.ENOENT


def test_open_other_io_errors_are_store_io_errors(tmp_path: Path) -> None:
    # A directory where the file should be: an OSError with an errno, not ENOENT.
    with pytest.raises(keeldb.StoreIOError) as ei:
        DataStore(tmp_path)
    assert ei.value.errno not in (None, errno.ENOENT)
    assert not isinstance(ei.value, FileNotFoundError)


def test_open_foreign_file_is_untouched(tmp_path: Path) -> None:
    p = tmp_path / "foreign.txt"
    content = b"this is not a keel store\n" * 20
    p.write_bytes(content)
    with pytest.raises(keeldb.FormatError, match="not a keel store"):
        DataStore(p)
    with pytest.raises(keeldb.FormatError):
        DataStore(p, readonly=True)
    assert p.read_bytes() == content


def _crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def test_crc32c_helper_matches_engine(store: DataStore) -> None:
    store.write(b"k", b"123456789")
    assert _crc32c(b"123456789") == 0xE3069283  # the CRC32C check value


def test_open_newer_major_version(tmp_path: Path) -> None:
    p = tmp_path / "future.keel"
    with DataStore(p) as s:
        s.write(b"k", b"v")
    data = bytearray(p.read_bytes())
    struct.pack_into("<H", data, 8, 99)  # format_major
    struct.pack_into("<I", data, 60, _crc32c(bytes(data[:60])))
    p.write_bytes(bytes(data))
    with pytest.raises(keeldb.VersionError):
        DataStore(p)
    assert p.read_bytes() == bytes(data)


def test_open_empty_file_initialises(tmp_path: Path) -> None:
    p = tmp_path / "empty.keel"
    p.write_bytes(b"")
    with DataStore(p) as s:
        s.write(b"a", b"b")
    with DataStore(p) as s:
        assert s[b"a"] == b"b"


def test_second_writer_is_locked(path: Path) -> None:
    s1 = DataStore(path)
    try:
        with pytest.raises(keeldb.LockedError):
            DataStore(path)
        # A read-only open takes no lock.
        with DataStore(path, readonly=True) as r:
            assert r.readonly
    finally:
        s1.close()
    with DataStore(path) as s2:  # the lock went with close()
        s2.write(b"x", b"y")


def test_lock_released_by_garbage_collection(path: Path) -> None:
    s = DataStore(path)
    del s
    gc.collect()
    DataStore(path).close()


def test_options(tmp_path: Path) -> None:
    for mode in ("none", "data", "full"):
        with DataStore(tmp_path / f"{mode}.keel", sync=mode) as s:
            s.write(b"k", b"v" * 100)
            assert s.stats()["sync"] == mode
    with pytest.raises(ValueError, match="sync must be"):
        DataStore(tmp_path / "bad.keel", sync="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        DataStore(tmp_path / "bad2.keel", alignment=3)
    with DataStore(tmp_path / "a4k.keel", alignment=4096) as s:
        s.write(b"k", b"v" * 10)
        s.write(b"k2", b"w" * 10)
        e = s.read_entry(b"k2")
        assert e is not None
        assert e.address_range()[0] % 4096 == 0
        assert e.start_offset % 4096 == 0
        assert s.stats()["alignment"] == 4096
        del e
    with pytest.raises(TypeError):
        DataStore(tmp_path / "x.keel", False)  # type: ignore[misc]


# ---------------------------------------------------------------------------------------
# Reading and writing


def test_write_read_roundtrip(store: DataStore) -> None:
    assert store.read(b"k") is None
    store.write(b"k", b"v1")
    assert store.read(b"k") == b"v1"
    store.write(b"k", b"v2")  # overwrite
    assert store.read(b"k") == b"v2"
    store.write(b"empty", b"")
    assert store.read(b"empty") == b""
    assert store.exists(b"empty")
    store.write(b"nul", b"\x00")
    assert store.read(b"nul") == b"\x00"
    store.write(b"", b"empty key")
    assert store.read(b"") == b"empty key"
    big = os.urandom(3 << 20)  # above the GIL-release copy threshold
    store.write(b"big", big)
    assert store.read(b"big") == big
    assert type(store.read(b"k")) is bytes


def test_keyword_arguments(store: DataStore) -> None:
    store.write(key=b"k", data=b"v")
    assert store.read(b"k") == b"v"
    with pytest.raises(TypeError, match="unexpected keyword"):
        store.write(b"k", value=b"v")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="multiple values"):
        store.write(b"k", b"v", key=b"k")  # type: ignore[misc]
    with pytest.raises(TypeError, match="missing required"):
        store.write(b"k")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="at most"):
        store.write(b"k", b"v", b"x")  # type: ignore[call-arg]
    store.batch_write(items=[(b"a", b"1")])
    store.rename(old_key=b"a", new_key=b"b")
    assert store.read(b"b") == b"1"


def test_bytes_like_keys_and_values(store: DataStore) -> None:
    store.write(bytearray(b"ba"), memoryview(b"mv-value"))
    assert store.read(b"ba") == b"mv-value"
    assert store.read(memoryview(b"ba")) == b"mv-value"
    assert store.read(bytearray(b"ba")) == b"mv-value"
    arr = np.arange(16, dtype=np.float64)
    store.write(np.frombuffer(b"np-key", dtype=np.uint8), arr)
    assert store.read(b"np-key") == arr.tobytes()
    assert np.array_equal(np.frombuffer(store[b"np-key"], dtype=np.float64), arr)
    # A 2-D C-contiguous array is accepted as its raw bytes.
    mat = np.arange(12, dtype=np.int32).reshape(3, 4)
    store[b"mat"] = mat
    assert store[b"mat"] == mat.tobytes()
    # memoryview slice
    store.write(b"slice", memoryview(b"0123456789")[2:5])
    assert store.read(b"slice") == b"234"

    class SubBytes(bytes):
        pass

    store.write(SubBytes(b"sub"), SubBytes(b"val"))
    assert store.read(SubBytes(b"sub")) == b"val"


def test_str_and_other_types_are_rejected(store: DataStore) -> None:
    msg = "key must be a bytes-like object, not 'str'"
    with pytest.raises(TypeError, match=msg):
        store.write("k", b"v")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="value must be a bytes-like object, not 'str'"):
        store.write(b"k", "v")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not 'int'"):
        store.write(b"k", 5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not 'NoneType'"):
        store.read(None)  # type: ignore[arg-type]
    for call in (
        lambda: store.read("k"),
        lambda: store.exists("k"),
        lambda: "k" in store,
        lambda: store["k"],
        lambda: store.get("k"),
        lambda: store.delete("k"),
        lambda: store.read_entry("k"),
        lambda: store.read_stream("k"),
        lambda: store.batch_read(["k"]),
        lambda: store.batch_delete(["k"]),
        lambda: store.batch_write([("k", b"v")]),
        lambda: store.rename("a", b"b"),
        lambda: store.write_stream("k", io.BytesIO(b"x")),
    ):
        with pytest.raises(TypeError, match=msg):
            call()  # type: ignore[no-untyped-call]
    with pytest.raises(TypeError, match=msg):
        store["k"] = b"v"  # type: ignore[index]
    with pytest.raises(TypeError, match=msg):
        del store["k"]  # type: ignore[arg-type]
    assert len(store) == 0


def test_key_size_limit(store: DataStore) -> None:
    store.write(b"k" * 65535, b"max")
    assert store.read(b"k" * 65535) == b"max"
    with pytest.raises(ValueError, match="65535"):
        store.write(b"k" * 65536, b"too long")
    with pytest.raises(ValueError, match="65535"):
        store.batch_write([(b"ok", b"1"), (b"k" * 70000, b"2")])
    assert store.read(b"ok") is None  # batches are validated before anything is written


def test_mapping_interface(store: DataStore) -> None:
    store[b"a"] = b"1"
    assert store[b"a"] == b"1"
    assert b"a" in store
    assert b"b" not in store
    with pytest.raises(KeyError) as ei:
        store[b"b"]
    assert ei.value.args == (b"b",)
    assert store.get(b"a") == b"1"
    assert store.get(b"b") is None
    assert store.get(b"b", b"dflt") == b"dflt"
    sentinel = object()
    assert store.get(b"b", sentinel) is sentinel
    with pytest.raises(TypeError):
        store.get()  # type: ignore[call-overload]
    del store[b"a"]
    assert b"a" not in store
    with pytest.raises(KeyError):
        del store[b"a"]
    store.delete(b"a")  # missing: a no-op, like upstream
    assert store.read(b"a") is None


def test_len_and_iteration(store: DataStore) -> None:
    assert len(store) == 0
    assert list(store) == []
    data = {f"key{i}".encode(): f"value{i}".encode() * (i + 1) for i in range(50)}
    for k, v in data.items():
        store.write(k, v)
    store.write(b"key0", b"new")  # overwrite: still one key
    data[b"key0"] = b"new"
    store.delete(b"key1")
    del data[b"key1"]
    assert len(store) == len(data)
    assert sorted(store) == sorted(data)
    assert sorted(store.keys()) == sorted(data)
    assert sorted(store.values()) == sorted(data.values())
    assert dict(store.items()) == data
    # Iteration runs over a snapshot: writes during it do not disturb it.
    it = store.keys()
    assert it.__length_hint__() == len(data)
    first = next(it)
    store.write(b"added-later", b"x")
    rest = list(it)
    assert b"added-later" not in rest
    assert sorted([first] + rest) == sorted(data)
    assert iter(it) is it


def test_batch_write(store: DataStore) -> None:
    store.batch_write([(b"a", b"1"), [b"b", b"2"], (bytearray(b"c"), memoryview(b"3"))])
    assert store.batch_read([b"a", b"b", b"c"]) == [b"1", b"2", b"3"]
    store.batch_write([])
    store.batch_write(((b"d", b"4"),))  # any sequence
    store.batch_write((kv for kv in [(b"e", b"5")]))  # any iterable
    store.batch_write([(b"dup", b"first"), (b"dup", b"last")])
    assert store[b"dup"] == b"last"
    before = store.file_size
    for bad in ([(b"x", b"1"), (b"y",)], [(b"x", b"1"), b"xy"], [(b"x", b"1"), 5]):
        with pytest.raises(TypeError, match="item 1"):
            store.batch_write(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.batch_write(b"ab")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.batch_write(5)  # type: ignore[arg-type]
    assert store.read(b"x") is None
    assert store.file_size == before


def test_batch_read_and_delete(store: DataStore) -> None:
    store.batch_write([(b"a", b"1"), (b"b", b"2"), (b"c", b"3")])
    assert store.batch_read([b"a", b"missing", b"c"]) == [b"1", None, b"3"]
    assert store.batch_read([]) == []
    assert store.batch_read((b"b",)) == [b"2"]
    assert store.batch_delete([b"a", b"missing", b"c"]) == 2
    assert store.batch_delete([]) == 0
    assert list(store) == [b"b"]
    with pytest.raises(TypeError):
        store.batch_read(b"ab")  # type: ignore[arg-type]


def test_batch_read_many_keys(store: DataStore) -> None:
    """batch_read (keel_get_many underneath, 256 keys per call) agrees with read() over
    several groups, for present, absent, deleted and empty-valued keys of every buffer type;
    a bad key raises and names the problem."""
    rng = random.Random(3)
    items = [(b"k%05d" % i, rng.randbytes(rng.randrange(0, 300))) for i in range(2000)]
    store.batch_write(items)
    store.batch_delete([b"k%05d" % i for i in range(0, 2000, 9)])
    keys: list[object] = [b"k%05d" % rng.randrange(0, 2200) for _ in range(1500)]
    keys += [bytearray(b"k00001"), memoryview(b"k00002"), b"", b"k00001"]
    got = store.batch_read(keys)  # type: ignore[arg-type]
    assert got == [store.read(k) for k in keys]  # type: ignore[arg-type]
    assert sum(v is None for v in got) > 100
    with pytest.raises(TypeError, match="not 'str'"):
        store.batch_read([b"ok"] * 300 + ["str"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="65535"):
        store.batch_read([b"ok", b"x" * 70000])


def test_rename(store: DataStore) -> None:
    store.write(b"old", b"value")
    store.write(b"other", b"x")
    store.rename(b"old", b"new")
    assert store.read(b"old") is None
    assert store.read(b"new") == b"value"
    store.rename(b"new", b"other")  # replaces an existing key
    assert store.read(b"other") == b"value"
    assert len(store) == 1
    with pytest.raises(KeyError):
        store.rename(b"missing", b"x")
    with pytest.raises(ValueError):
        store.rename(b"other", b"other")


def test_copy_and_transfer(tmp_path: Path) -> None:
    with DataStore(tmp_path / "a.keel") as a, DataStore(tmp_path / "b.keel") as b:
        a.write(b"k", b"value")
        a.copy(b"k", b)
        assert a.read(b"k") == b"value"
        assert b.read(b"k") == b"value"
        a.copy(b"k", b, b"k2")
        assert b.read(b"k2") == b"value"
        a.copy(b"k", a, target_key=b"self-copy")
        assert a.read(b"self-copy") == b"value"
        a.transfer(b"k", b, b"moved")
        assert a.read(b"k") is None
        assert b.read(b"moved") == b"value"
        a.transfer(b"self-copy", a, b"renamed")  # within one store: a rename
        assert a.read(b"self-copy") is None and a.read(b"renamed") == b"value"
        b.transfer(b"moved", a)
        assert a.read(b"moved") == b"value" and b.read(b"moved") is None
        with pytest.raises(KeyError):
            a.copy(b"missing", b)
        with pytest.raises(KeyError):
            a.transfer(b"missing", b)
        with pytest.raises(TypeError, match="target must be a DataStore"):
            a.copy(b"renamed", "b.keel")  # type: ignore[arg-type]
        b.close()
        with pytest.raises(ValueError, match="closed"):
            a.copy(b"renamed", b)


def test_read_only_store(path: Path) -> None:
    with DataStore(path) as w:
        w.write(b"k", b"v")
    with DataStore(path, readonly=True) as r:
        assert r.readonly
        assert r.read(b"k") == b"v"
        for call in (
            lambda: r.write(b"k", b"x"),
            lambda: r.batch_write([(b"k", b"x")]),
            lambda: r.delete(b"k"),
            lambda: r.batch_delete([b"k"]),
            lambda: r.rename(b"k", b"k2"),
            lambda: r.write_stream(b"k", io.BytesIO(b"x")),
            lambda: r.compact(),
            lambda: r.__setitem__(b"k", b"x"),
        ):
            with pytest.raises(keeldb.ReadOnlyError):
                call()  # type: ignore[no-untyped-call]
        assert r.read(b"k") == b"v"


def test_refresh_sees_the_writers_appends(path: Path) -> None:
    with DataStore(path) as w:
        w.write(b"a", b"1")
        with DataStore(path, readonly=True) as r:
            assert r.read(b"a") == b"1"
            w.write(b"b", b"2")
            w.delete(b"a")
            r.refresh()
            assert r.read(b"b") == b"2"
            assert r.read(b"a") is None
            w.refresh()  # a no-op on a writable store


def test_compaction(store: DataStore) -> None:
    for i in range(200):
        store.write(b"key%d" % (i % 10), os.urandom(1000))
    store.write(b"keep", b"kept")
    store.delete(b"key3")
    before = store.file_size
    savings = store.estimate_compaction_savings()
    assert 0 < savings < before
    e = store.read_entry(b"keep")
    assert e is not None
    expected = {k: store[k] for k in store}
    store.compact()
    assert store.file_size < before
    assert store.estimate_compaction_savings() == 0
    assert {k: store[k] for k in store} == expected
    assert e == b"kept"  # a handle from before still reads (retired mappings live on)
    assert store.verify() == len(expected)
    del e
    store.close()
    with DataStore(store.path) as again:
        assert {k: again[k] for k in again} == expected


def test_sync_verify_stats_file_size(store: DataStore) -> None:
    size0 = store.file_size
    assert size0 > 0  # the header
    store.write(b"k", b"v" * 100)
    assert store.file_size > size0
    store.sync()
    assert store.verify() == 1
    st = store.stats()
    assert st["live_keys"] == 1
    assert st["file_size"] == store.file_size
    assert st["format_version"] == (keeldb.FORMAT_MAJOR, keeldb.FORMAT_MINOR)
    assert st["readonly"] is False
    assert os.path.getsize(store.path) >= store.file_size


def test_corruption_is_detected(path: Path) -> None:
    with DataStore(path) as s:
        s.write(b"first", b"A" * 4096)
        s.write(b"second", b"B" * 100)
        e = s.read_entry(b"first")
        assert e is not None and e.is_valid_checksum()
        off = e.start_offset
        del e
    data = bytearray(path.read_bytes())
    data[off + 10] ^= 0xFF
    path.write_bytes(bytes(data))
    try:
        s = DataStore(path)
    except keeldb.CorruptError:
        return  # refusing to open is a correct answer
    try:
        e = s.read_entry(b"first")
        assert e is not None
        assert not e.is_valid_checksum()
        del e
        with pytest.raises(keeldb.CorruptError):
            s.verify()
    finally:
        s.close()
