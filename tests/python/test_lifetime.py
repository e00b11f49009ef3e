"""DataStore lifetime (close, context manager, exported buffers), EntryHandle and streams.

The other DataStore methods are in test_api.py.
"""

from __future__ import annotations

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
# Lifecycle


def test_close_and_use_after_close(path: Path) -> None:
    s = DataStore(path)
    s.write(b"k", b"v")
    e = s.read_entry(b"k")
    st = s.read_stream(b"k")
    it = iter(s)
    assert e is not None and st is not None
    assert not s.closed
    s.close()
    assert s.closed
    s.close()  # twice is fine
    msg = "I/O operation on closed store"
    for call in (
        lambda: s.read(b"k"),
        lambda: s.write(b"k", b"v"),
        lambda: s.exists(b"k"),
        lambda: b"k" in s,
        lambda: s[b"k"],
        lambda: s.get(b"k"),
        lambda: len(s),
        lambda: list(s),
        lambda: s.keys(),
        lambda: s.batch_write([]),
        lambda: s.batch_read([]),
        lambda: s.delete(b"k"),
        lambda: s.compact(),
        lambda: s.sync(),
        lambda: s.verify(),
        lambda: s.file_size,
        lambda: s.stats(),
        lambda: s.write_stream(b"k", io.BytesIO(b"")),
        lambda: s.read_entry(b"k"),
        lambda: s.__enter__(),
        # Handles, streams and iterators made before close
        lambda: e.size,
        lambda: len(e),
        lambda: e.as_slice(),
        lambda: e.as_memoryview(),
        lambda: memoryview(e),
        lambda: e.is_valid_checksum(),
        lambda: e.address_range(),
        lambda: e.key,
        lambda: e == b"v",
        lambda: st.read(),
        lambda: next(it),
    ):
        with pytest.raises(ValueError, match=msg):
            call()  # type: ignore[no-untyped-call]
    assert s.path == str(path)
    assert "closed" in repr(e)


def test_context_manager(path: Path) -> None:
    with DataStore(path) as s:
        s.write(b"k", b"v")
    assert s.closed
    with pytest.raises(ZeroDivisionError):
        with DataStore(path) as s:
            1 / 0
    assert s.closed


def test_close_refuses_while_buffers_are_exported(store: DataStore) -> None:
    store.write(b"k", b"value")
    e = store.read_entry(b"k")
    assert e is not None
    mv = memoryview(e)
    with pytest.raises(BufferError, match="1 buffer"):
        store.close()
    assert not store.closed and store.read(b"k") == b"value"
    arr = np.frombuffer(e, dtype=np.uint8)
    mv2 = e.as_memoryview()
    with pytest.raises(BufferError, match="3 buffers"):
        store.close()
    del mv, arr
    with pytest.raises(BufferError, match="1 buffer"):
        store.close()
    mv2.release()
    store.close()  # a handle without exports does not block close
    assert store.closed


def test_exit_with_live_view_raises_buffererror(path: Path) -> None:
    with pytest.raises(BufferError):
        with DataStore(path) as s:
            s.write(b"k", b"v")
            e = s.read_entry(b"k")
            assert e is not None
            view = memoryview(e)
    view.release()
    s.close()
    assert s.closed


def test_subclass_and_weakref(path: Path) -> None:
    import weakref

    class MyStore(DataStore):
        def put(self, k: bytes, v: bytes) -> None:
            self.write(k, v)

    s = MyStore(path)
    s.put(b"k", b"v")
    assert s[b"k"] == b"v"
    e = s.read_entry(b"k")
    assert e is not None and e == b"v"
    r = weakref.ref(s)
    assert r() is s
    s.close()
    del s, e
    gc.collect()
    assert r() is None


# ---------------------------------------------------------------------------------------
# EntryHandle


def test_entry_handle(store: DataStore) -> None:
    value = bytes(range(256)) * 4
    store.write(b"key", value)
    assert store.read_entry(b"missing") is None
    e = store.read_entry(b"key")
    assert e is not None
    assert e.size == len(e) == len(value)
    assert e.key == b"key"
    assert e.key_hash == keeldb.key_hash(b"key")
    assert e.raw_checksum() == struct.pack("<I", e.checksum)
    assert e.is_valid_checksum()
    assert e.end_offset - e.start_offset == len(value)
    assert e.offset_range() == (e.start_offset, e.end_offset)
    assert e.file_size == e.entry_end - e.entry_offset
    assert e.file_size >= len(value) + len(b"key") + 40
    lo, hi = e.address_range()
    assert hi - lo == len(value)
    assert e.as_slice() == value and type(e.as_slice()) is bytes
    assert bytes(e) == value
    mv = e.as_memoryview()
    assert mv.readonly and mv.tobytes() == value and mv.obj is e
    assert e == value and e == bytearray(value) and e != b"other"
    assert not (e == "text")
    c = e.clone_arc()
    assert c is not e and c == e and c.address_range() == e.address_range()
    with pytest.raises(TypeError):
        hash(e)
    assert "key=b'key'" in repr(e)
    # The file bytes at the offsets are the value.
    mv.release()
    store.sync()
    with open(store.path, "rb") as f:
        f.seek(e.start_offset)
        assert f.read(e.size) == value
    # Overwriting the key does not change an existing handle.
    store.write(b"key", b"new")
    assert e == value
    assert store.read_entry(b"key") == b"new"


def test_entry_handle_empty_value(store: DataStore) -> None:
    store.write(b"e", b"")
    e = store.read_entry(b"e")
    assert e is not None
    assert len(e) == 0 and e.as_slice() == b"" and bytes(memoryview(e)) == b""
    assert e.is_valid_checksum()
    assert np.frombuffer(e, dtype=np.uint8).size == 0


def test_memoryview_is_read_only(store: DataStore) -> None:
    store.write(b"k", b"abc")
    e = store.read_entry(b"k")
    assert e is not None
    mv = memoryview(e)
    with pytest.raises(TypeError):
        mv[0] = 0
    with pytest.raises(ValueError):
        np.frombuffer(e, dtype=np.uint8)[0] = 1
    import ctypes

    with pytest.raises((BufferError, TypeError)):
        (ctypes.c_char * 3).from_buffer(e)  # asks for a writable buffer
    mv.release()


# ---------------------------------------------------------------------------------------
# Streams


def test_read_stream(store: DataStore) -> None:
    value = os.urandom(10_000)
    store.write(b"k", value)
    assert store.read_stream(b"missing") is None
    st = store.read_stream(b"k")
    assert st is not None
    assert st.size == len(value)
    assert st.read(10) == value[:10]
    assert st.tell() == 10
    buf = bytearray(100)
    assert st.readinto(buf) == 100 and bytes(buf) == value[10:110]
    assert st.read() == value[110:]
    assert st.read() == b"" and st.read(5) == b""
    st2 = store.read_stream(b"k")
    assert st2 is not None
    chunks = list(st2)
    assert [len(c) for c in chunks] == [4096, 4096, 10_000 - 8192]
    assert b"".join(chunks) == value
    st3 = store.read_stream(b"k")
    assert st3 is not None
    assert st3.read(-1) == value
    st4 = store.read_stream(b"k")
    assert st4 is not None
    with st4 as f:
        assert f.read(None) == value
    # A stream keeps reading the value it was opened on.
    st5 = store.read_stream(b"k")
    assert st5 is not None
    store.write(b"k", b"replaced")
    assert st5.read() == value


def test_write_stream(store: DataStore) -> None:
    payload = os.urandom(300_000)
    store.write_stream(b"s", io.BytesIO(payload))
    assert store.read(b"s") == payload
    store.write_stream(b"empty", io.BytesIO(b""))
    assert store.read(b"empty") == b""

    class Chunks:
        """Returns bytearray, memoryview and oversized chunks."""

        def __init__(self) -> None:
            self.parts: list[object] = [bytearray(b"ab"), memoryview(b"cd"), b"e" * 100_000]
            self.sizes: list[int] = []

        def read(self, n: int) -> object:
            self.sizes.append(n)
            return self.parts.pop(0) if self.parts else b""

    r = Chunks()
    store.write_stream(b"c", r)  # type: ignore[arg-type]
    assert store.read(b"c") == b"abcd" + b"e" * 100_000
    assert set(r.sizes) == {1 << 20}
    with open(os.devnull, "rb") as f:
        store.write_stream(b"devnull", f)
    assert store.read(b"devnull") == b""


def test_write_stream_paths(store: DataStore, tmp_path: Path) -> None:
    """Streams up to 16 MiB are held and written in one go; longer ones, or ones in very many
    chunks, are staged. Both give the same bytes, and a reused mutable buffer is copied."""
    rng = np.random.default_rng(5)
    for size in (1, (1 << 20) - 1, 1 << 20, (16 << 20), (16 << 20) + 1, 40 << 20):
        data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        store.write_stream(b"v%d" % size, io.BytesIO(data))
        assert store.read(b"v%d" % size) == data

    class Reusing:
        """Returns the same bytearray each time, overwritten between calls."""

        def __init__(self, count: int, size: int) -> None:
            self.buf = bytearray(size)
            self.left = count

        def read(self, n: int) -> bytearray:
            if not self.left:
                return bytearray()
            self.left -= 1
            self.buf[:] = bytes([self.left % 251]) * len(self.buf)
            return self.buf

    for count, size in ((3, 1000), (5000, 7), (20, 1 << 20)):
        store.write_stream(b"reuse", Reusing(count, size))  # type: ignore[arg-type]
        assert store.read(b"reuse") == b"".join(
            bytes([i % 251]) * size for i in reversed(range(count)))
    assert store.verify() == 6 + 3  # every entry's CRC checks, overwritten ones included
    assert sorted(p.name for p in tmp_path.iterdir()) == [Path(store.path).name]


@pytest.mark.parametrize("fail_after", [3, 20])  # 3 MiB held, or 20 MiB: staged
def test_write_stream_failures_leave_no_trace(store: DataStore, tmp_path: Path,
                                              fail_after: int) -> None:
    store.write(b"s", b"original")
    size = store.file_size
    n = len(store)

    class Failing:
        def __init__(self) -> None:
            self.calls = 0

        def read(self, n: int) -> bytes:
            self.calls += 1
            if self.calls > fail_after:
                raise RuntimeError("disk on fire")
            return b"x" * n

    with pytest.raises(RuntimeError, match="disk on fire"):
        store.write_stream(b"s", Failing())
    with pytest.raises(TypeError, match="not 'str'"):
        store.write_stream(b"s", io.StringIO("text"))  # type: ignore[arg-type]

    class ReturnsNone:
        def read(self, n: int) -> None:
            return None

    with pytest.raises(TypeError, match="None"):
        store.write_stream(b"s", ReturnsNone())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="read"):
        store.write_stream(b"s", object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="file-like"):
        store.write_stream(b"s", b"bytes are not a reader")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="65535"):
        store.write_stream(b"k" * 70000, io.BytesIO(b"x"))
    assert store.read(b"s") == b"original"
    assert store.file_size == size and len(store) == n
    assert store.verify() == n
    # No temporary files are left beside the store.
    assert sorted(p.name for p in tmp_path.iterdir()) == [Path(store.path).name]


def test_write_stream_reader_closing_the_store(store: DataStore) -> None:
    class Closer:
        def read(self, n: int) -> bytes:
            store.close()
            return b""

    with pytest.raises(BufferError, match="write_stream"):
        store.write_stream(b"k", Closer())
    assert not store.closed
    assert store.read(b"k") is None


def test_write_stream_reader_using_the_store(store: DataStore) -> None:
    """The reader may call back into the same store on the same thread."""
    store.write(b"src", b"0123456789" * 1000)

    class FromStore:
        def __init__(self) -> None:
            self.done = False

        def read(self, n: int) -> bytes:
            if self.done:
                return b""
            self.done = True
            store.write(b"side", b"effect")  # a write while the stream is staged
            v = store.read(b"src")
            assert v is not None
            return v

    store.write_stream(b"dst", FromStore())
    assert store.read(b"dst") == b"0123456789" * 1000
    assert store.read(b"side") == b"effect"
