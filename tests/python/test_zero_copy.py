"""Zero-copy reads: EntryHandle exports the mapped value itself, aligned, with no copy."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import numpy as np

import keeldb


def _file_mappings(path: str) -> list[tuple[int, int]]:
    """Address ranges in /proc/self/maps that map `path`."""
    real = os.path.realpath(path)
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(maxsplit=5)
            if len(parts) == 6 and parts[5].strip() == real:
                lo, hi = parts[0].split("-")
                out.append((int(lo, 16), int(hi, 16)))
    return out


def test_view_address_lies_in_the_file_mapping_and_is_aligned(store: keeldb.DataStore) -> None:
    values = {b"k%d" % i: os.urandom(1 + 37 * i) for i in range(20)}
    for k, v in values.items():
        store.write(k, v)
    maps = _file_mappings(store.path)
    assert maps, "the store file is not mapped"
    for k, v in values.items():
        e = store.read_entry(k)
        assert e is not None
        lo, hi = e.address_range()
        assert lo % 64 == 0, hex(lo)
        assert any(a <= lo and hi <= b for a, b in maps), (hex(lo), maps)
        arr = np.frombuffer(e, dtype=np.uint8)
        assert arr.ctypes.data == lo  # numpy sees the mapping itself, not a copy
        assert arr.tobytes() == v
        mv = memoryview(e)
        assert np.frombuffer(mv, dtype=np.uint8).ctypes.data == lo
        del arr, mv, e


def test_two_handles_share_memory(store: keeldb.DataStore) -> None:
    data = np.arange(1000, dtype=np.float64)
    store.write(b"arr", data)
    e1 = store.read_entry(b"arr")
    e2 = store.read_entry(b"arr")
    assert e1 is not None and e2 is not None and e1 is not e2
    a1 = np.frombuffer(e1, dtype=np.float64)
    a2 = np.frombuffer(e2, dtype=np.float64)
    assert np.shares_memory(a1, a2)
    assert np.shares_memory(a1, np.frombuffer(e1.clone_arc(), dtype=np.float64))
    assert np.array_equal(a1, data)
    assert not a1.flags.writeable
    # A copy does not share.
    assert not np.shares_memory(a1, np.frombuffer(store[b"arr"], dtype=np.float64))
    assert np.frombuffer(e1.as_memoryview(), dtype=np.float64).ctypes.data == a1.ctypes.data


def test_views_survive_growth_and_new_reads_see_new_data(store: keeldb.DataStore) -> None:
    first = os.urandom(4096)
    store.write(b"first", first)
    e = store.read_entry(b"first")
    assert e is not None
    arr = np.frombuffer(e, dtype=np.uint8)
    addr = arr.ctypes.data
    # Grow the file well past any initial mapping: many writes, some large.
    for i in range(3000):
        store.write(b"grow%d" % i, bytes([i % 256]) * (100 + (i % 7) * 1000))
    for i in range(20):
        store.write(b"big%d" % i, bytes([i]) * (1 << 20))
    assert store.file_size > 25 << 20
    # The old view still reads the same bytes at the same address.
    assert arr.ctypes.data == addr and arr.tobytes() == first
    assert e == first
    # Reads after growth: old and new keys.
    assert store.read(b"first") == first
    for i in (0, 1, 2999):
        assert store.read(b"grow%d" % i) == bytes([i % 256]) * (100 + (i % 7) * 1000)
    e_big = store.read_entry(b"big19")
    assert e_big is not None
    big = np.frombuffer(e_big, dtype=np.uint8)
    assert big.ctypes.data % 64 == 0
    assert int(big.min()) == int(big.max()) == 19
    assert e_big.is_valid_checksum()
    del arr, big
    gc.collect()


def test_typed_arrays_read_in_place(store: keeldb.DataStore) -> None:
    for dtype in (np.int8, np.int32, np.float32, np.float64, np.complex128):
        a = (np.arange(257) * 3).astype(dtype)
        store.write(b"typed", a)
        e = store.read_entry(b"typed")
        assert e is not None
        b = np.frombuffer(e, dtype=dtype)
        assert b.ctypes.data % np.dtype(dtype).alignment == 0
        assert np.array_equal(a, b)
        del b, e


def test_handle_keeps_store_alive(path: Path) -> None:
    s = keeldb.DataStore(path)
    s.write(b"k", b"v" * 100)
    e = s.read_entry(b"k")
    assert e is not None
    mv = memoryview(e)
    del s  # the handle holds the store, the view holds the handle
    gc.collect()
    assert mv.tobytes() == b"v" * 100
    del e
    assert bytes(mv) == b"v" * 100
    mv.release()
    gc.collect()
    keeldb.DataStore(path).close()  # the lock went with the last reference
