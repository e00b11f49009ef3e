"""Bad arguments to the extensions raise an exception naming the argument, never a silent
truncation or a "0 means the default" surprise (issue 16, items 6 to 8).

Every integer parameter of the C glue is listed here with values just outside what it takes:
negative, zero where zero makes no sense, past 32 and 64 bits, and a bool or float.
"""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path
from typing import Any, Callable, Dict

import pytest

import keeldb
from keeldb import DataStore, MultiThreadedReader, MultiThreadedWriter, RecordReader, RecordWriter


def _raises(exc: type, name: str, fn: Callable[[], Any]) -> None:
    with pytest.raises(exc) as info:
        fn()
    assert name in str(info.value), str(info.value)


# ---- DataStore ---------------------------------------------------------------------------

@pytest.mark.parametrize("value,exc", [
    (0, ValueError), (-1, ValueError), (3, ValueError), (8192, ValueError),
    (2**32, OverflowError), (2**32 + 4096, OverflowError), (2**64, OverflowError),
    (True, TypeError), (64.0, TypeError), ("64", TypeError),
])
def test_datastore_alignment(tmp_path: Path, value: Any, exc: type) -> None:
    p = tmp_path / "s.keel"
    _raises(exc, "alignment", lambda: DataStore(p, alignment=value))
    assert not p.exists()


def test_datastore_alignment_accepts_every_power_of_two(tmp_path: Path) -> None:
    for shift in (0, 6, 12):
        with DataStore(tmp_path / f"a{shift}.keel", alignment=1 << shift) as s:
            s.write(b"k", b"v")
            assert s.stats()["alignment"] == 1 << shift


@pytest.mark.parametrize("reader", [None, 42, object(), b"bytes", "str"])
def test_write_stream_needs_a_reader(store: DataStore, reader: Any) -> None:
    with pytest.raises(TypeError, match="read"):
        store.write_stream(b"k", reader)
    assert store.read(b"k") is None


def test_entry_stream_read_sizes(store: DataStore) -> None:
    store.write(b"k", b"0123456789")
    stream = store.read_stream(b"k")
    assert stream is not None
    with pytest.raises(OverflowError):
        stream.read(2**64)
    with pytest.raises(TypeError):
        stream.read("3")  # type: ignore[arg-type]
    assert stream.read(3) == b"012"
    assert stream.read(-1) == b"3456789"


def test_datastore_close_is_idempotent(path: Path) -> None:
    s = DataStore(path)
    s.close()
    s.close()
    with pytest.raises(ValueError, match="closed"):
        s.read(b"k")


# ---- record files ------------------------------------------------------------------------

WRITER_BAD: Dict[str, Any] = {
    "chunk_size": [(-1, ValueError), (0, ValueError), (2**64, OverflowError),
                   (1.5, TypeError), (True, TypeError)],
    "group_size": [(-1, ValueError), (0, ValueError), (2**32, OverflowError),
                   (2**64, OverflowError)],
    "level": [(2**31, OverflowError), (2**64, OverflowError), ("3", TypeError)],
}


@pytest.mark.parametrize("arg,value,exc", [(a, v, e) for a, vs in WRITER_BAD.items()
                                           for v, e in vs])
def test_record_writer_ints(tmp_path: Path, arg: str, value: Any, exc: type) -> None:
    kwargs = {arg: value}
    if arg == "group_size":
        kwargs["array_record"] = True
    _raises(exc, arg, lambda: RecordWriter(tmp_path / "f", **kwargs))


def test_record_writer_valid_ints(tmp_path: Path) -> None:
    with RecordWriter(tmp_path / "f", "zstd", chunk_size=1, level=-5) as w:
        w.write_record(b"a")
        w.write_record(b"b")
    with RecordWriter(tmp_path / "g", array_record=True, group_size=1) as w:
        w.write_record(b"a")
    assert RecordReader.count_records(tmp_path / "f") == 2


def test_record_writer_level_needs_compression(tmp_path: Path) -> None:
    # As Riegeli's options ('uncompressed' takes no level) and Disky (only Zstd(level) has
    # one): a level for uncompressed output is refused, not silently ignored, and nothing
    # is created. Out-of-range levels are refused per codec; 0 is each codec's default.
    for compression, level in ((None, 3), ("none", -1), ("zstd", 23), ("brotli", 12)):
        p = tmp_path / f"{compression}-{level}"
        with pytest.raises(ValueError, match="level"):
            RecordWriter(p, compression, level=level)
        assert not p.exists()
    for compression, level in ((None, 0), ("zstd", 22), ("brotli", 11), ("brotli", 0)):
        with RecordWriter(tmp_path / f"ok-{compression}-{level}", compression,
                          level=level) as w:
            w.write_record(b"x")


MT_WRITER_BAD: Dict[str, Any] = {
    "num_shards": [(0, ValueError), (-1, ValueError), (2**32 + 1, OverflowError)],
    "worker_threads": [(0, ValueError), (-1, ValueError), (2**32 + 1, OverflowError)],
    "max_bytes_per_writer": [(0, ValueError), (-1, ValueError), (2**64, OverflowError)],
    "task_queue_capacity": [(0, ValueError), (-1, ValueError), (2**64, OverflowError)],
}


@pytest.mark.parametrize("arg,value,exc", [(a, v, e) for a, vs in MT_WRITER_BAD.items()
                                           for v, e in vs])
def test_mt_writer_ints(tmp_path: Path, arg: str, value: Any, exc: type) -> None:
    d = tmp_path / "s"
    _raises(exc, arg, lambda: MultiThreadedWriter.new_with_shards(d, **{arg: value}))
    assert not d.exists() or not any(d.iterdir())


MT_READER_BAD: Dict[str, Any] = {
    "num_shards": [(0, ValueError), (-1, ValueError), (2**32 + 1, OverflowError)],
    "worker_threads": [(0, ValueError), (-1, ValueError), (2**32 + 1, OverflowError)],
    "queue_size_mb": [(0, ValueError), (-1, ValueError), (2**64, OverflowError)],
}


@pytest.mark.parametrize("ctor", ["new_with_shards", "new_with_shard_paths",
                                  "new_with_random_shard_paths", "count_records_with_shards",
                                  "count_records_with_shard_paths"])
@pytest.mark.parametrize("arg,value,exc", [(a, v, e) for a, vs in MT_READER_BAD.items()
                                           for v, e in vs])
def test_mt_reader_ints(tmp_path: Path, ctor: str, arg: str, value: Any, exc: type) -> None:
    d = tmp_path / "s"
    with MultiThreadedWriter.new_with_shards(d, num_shards=2) as w:
        w.write_record(b"x")
    first = d if ctor.endswith("shards") else sorted(d.iterdir())
    _raises(exc, arg, lambda: getattr(MultiThreadedReader, ctor)(first, **{arg: value}))


def test_closed_mt_reader_raises(tmp_path: Path) -> None:
    d = tmp_path / "s"
    with MultiThreadedWriter.new_with_shards(d, num_shards=1) as w:
        w.write_record(b"x")
    r = MultiThreadedReader.new_with_shards(d, num_shards=1)
    r.close()
    r.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        r.next_record()
    with pytest.raises(ValueError, match="closed"):
        next(r)
    with r:  # __exit__ after close is fine
        pass


def test_mt_writer_close_is_idempotent(tmp_path: Path) -> None:
    w = MultiThreadedWriter.new_with_shards(tmp_path / "s", num_shards=1)
    w.write_record(b"x")
    w.close()
    w.close()
    with pytest.raises(ValueError, match="closed"):
        w.write_record(b"y")
    with pytest.raises(ValueError, match="closed"):
        w.flush()


def test_record_errors_carry_errno(tmp_path: Path) -> None:
    if os.path.exists("/dev/full"):
        with pytest.raises(OSError) as info:
            with RecordWriter("/dev/full") as w:
                w.write_record(b"x" * 100)
        assert info.value.errno is not None
    with pytest.raises(FileNotFoundError) as missing:
        RecordReader(tmp_path / "missing")
    assert missing.value.errno == errno.ENOENT
    with pytest.raises(OSError) as isdir:
        RecordReader(tmp_path)
    assert isdir.value.errno is not None


def test_shard_paths_must_be_a_collection(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="shard_paths"):
        MultiThreadedReader.new_with_shard_paths(str(tmp_path / "one"))


# ---- Database ----------------------------------------------------------------------------
# Before the fix: ef=0 and ef=-1 searched with the default ef, k=True searched k=1,
# reap_expired(max=0) reaped everything ("0 means no limit"), dimensions=2**32+4 reported
# "dimensions 0", and values past 64 bits raised an OverflowError naming no argument.


@pytest.fixture
def vdb() -> Any:
    import numpy as np
    db = keeldb.Database.create_in_memory()
    t = db.create_table("tab", partition_key=("pk", "S"))
    t.put_item({"pk": "a", "vec": np.ones(4, dtype=np.float32), "exp": 10})
    t.add_vector_index("vix", attribute="vec", dimensions=4)
    t.enable_ttl("exp")
    yield db, t, np.ones(4, dtype=np.float32)
    db.close()


@pytest.mark.parametrize("value,exc", [
    (0, ValueError), (-1, ValueError), (2**32, OverflowError), (2**64, OverflowError),
    (True, TypeError), (1.5, TypeError)])
def test_search_ef(vdb: Any, value: Any, exc: type) -> None:
    db, t, q = vdb
    _raises(exc, "ef", lambda: t.search("vix", q, k=1, ef=value))
    _raises(exc, "ef", lambda: t.search_batch("vix", q[None, :], k=1, ef=value))


@pytest.mark.parametrize("value,exc", [(0, keeldb.ValidationError), (101, keeldb.ValidationError),
                                       (2**64, OverflowError), (True, TypeError)])
def test_search_k(vdb: Any, value: Any, exc: type) -> None:
    db, t, q = vdb
    _raises(exc, "k", lambda: t.search("vix", q, k=value))


@pytest.mark.parametrize("value,exc", [
    (0, keeldb.ValidationError), (-1, keeldb.ValidationError), (4097, keeldb.ValidationError),
    (2**32 + 4, keeldb.ValidationError), (2**64, OverflowError), (True, TypeError)])
def test_vector_index_dimensions(vdb: Any, value: Any, exc: type) -> None:
    db, t, q = vdb
    _raises(exc, "dimensions", lambda: t.add_vector_index("vi2", attribute="vec", dimensions=value))
    if exc is keeldb.ValidationError:
        _raises(exc, str(value), lambda: t.add_vector_index("vi2", attribute="vec",
                                                             dimensions=value))
    assert [v["name"] for v in t.vector_indexes()] == ["vix"]


@pytest.mark.parametrize("value,exc", [(0, ValueError), (-1, ValueError),
                                       (2**64, OverflowError), (True, TypeError)])
def test_reap_expired_max(vdb: Any, value: Any, exc: type) -> None:
    db, t, q = vdb
    db.set_clock(100)
    _raises(exc, "max", lambda: db.reap_expired(max=value))
    db.set_clock(0)
    assert t.get_item({"pk": "a"}) is not None  # nothing was reaped


@pytest.mark.parametrize("value,exc", [(0, ValueError), (-1, ValueError),
                                       (2**64, OverflowError), (True, TypeError)])
def test_execute_limit(vdb: Any, value: Any, exc: type) -> None:
    db, t, q = vdb
    _raises(exc, "limit", lambda: db.execute("SELECT * FROM tab", limit=value))


@pytest.mark.parametrize("value,exc", [(2**63, OverflowError), (-2**63 - 1, ValueError),
                                       (1.5, TypeError), (True, TypeError)])
def test_set_clock(vdb: Any, value: Any, exc: type) -> None:
    db, t, q = vdb
    _raises(exc, "now", lambda: db.set_clock(value))


@pytest.mark.parametrize("arg,lo,hi", [("m", 2, 128), ("ef_construction", 1, 4096)])
@pytest.mark.parametrize("value", [0, -1, 4097, 2**32, 2**32 + 16, 2**64])
def test_vector_index_graph_parameters(vdb: Any, arg: str, lo: int, hi: int, value: int) -> None:
    # Before the fix m=0 and ef_construction=0 were taken as "the default" (16, 200) and
    # 2**32 + 16 was refused as not "a non-negative int".
    db, t, q = vdb
    if lo <= value <= hi:
        return
    _raises(keeldb.ValidationError, f"{arg} {value}: it must be between {lo} and {hi}",
            lambda: t.add_vector_index("vi2", attribute="vec", dimensions=4, **{arg: value}))
    assert [v["name"] for v in t.vector_indexes()] == ["vix"]
    t.add_vector_index("vi2", attribute="vec", dimensions=4, **{arg: lo})
    assert {v["name"]: v[arg] for v in t.vector_indexes()}["vi2"] == lo


FIFO_OPENS = """
import sys, keeldb
p = sys.argv[1]
for name, f in [("Database ro", lambda: keeldb.Database.open(p, readonly=True)),
                ("Database", lambda: keeldb.Database.open(p)),
                ("DataStore ro", lambda: keeldb.DataStore(p, readonly=True)),
                ("DataStore", lambda: keeldb.DataStore(p)),
                ("RecordReader", lambda: keeldb.RecordReader(p))]:
    try:
        f()
        print(name, "opened")
    except Exception as e:
        print(name, type(e).__name__, e)
"""


def test_a_fifo_is_refused_not_waited_on(tmp_path: Path, cli: str) -> None:
    # A read-only open of a FIFO used to block forever in open(2), waiting for a writer
    # (Database(fifo, readonly=True), `keel FIFO get`); a RecordReader and import-simd read
    # it as an empty file. Each now says it is not a regular file.
    import subprocess
    import sys
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    r = subprocess.run([sys.executable, "-c", FIFO_OPENS, str(fifo)], capture_output=True,
                       text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 5 and all("is not a regular file" in x for x in lines), lines
    assert all("FormatError" in x for x in lines[:4]), lines
    for args in (["get", "k"], ["ls"], ["verify"]):
        c = subprocess.run([cli, str(fifo)] + args, capture_output=True, text=True, timeout=20)
        assert c.returncode == 3 and "is not a regular file" in c.stderr, (args, c.stderr)
    c = subprocess.run([cli, "import-simd", str(fifo), str(tmp_path / "o.keel")],
                       capture_output=True, text=True, timeout=20)
    assert c.returncode == 3 and "is not a regular file" in c.stderr, c.stderr
    assert not (tmp_path / "o.keel").exists()
