"""Splits for parallel reads (keeldb.splits) and pickling of handles: the engine-neutral
core that keeldb.ray, keeldb.grain and keeldb.dask stand on."""

from __future__ import annotations

import copy
import pickle
import struct
from pathlib import Path

import pytest

import keeldb
from keeldb import DataStore, RecordReader, RecordWriter


def write_file(path: Path, n: int, **kw: object) -> list[bytes]:
    recs = [b"%s:%06d" % (path.name.encode(), i) for i in range(n)]
    with RecordWriter(path, **kw) as w:  # type: ignore[arg-type]
        for r in recs:
            w.write_record(r)
    return recs


KINDS = {
    "footer": dict(array_record=True, group_size=64),
    "footer-1": dict(array_record=True, group_size=1),
    "headers": dict(chunk_size=2048),
    "headers-zstd": dict(chunk_size=2048, compression="zstd"),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_chunks_cover_the_file(tmp_path: Path, kind: str) -> None:
    p = tmp_path / "f.rec"
    recs = write_file(p, 1000, **KINDS[kind])
    from_footer, chunks = keeldb.record_chunks(p)
    assert from_footer == kind.startswith("footer")
    assert sum(c.num_records for c in chunks) == len(recs) == RecordReader.count_records(p)
    first = 0
    for c in chunks:
        assert c.first_index == first and c.num_records > 0 and c.offset >= 64
        first += c.num_records
    # Decoded sizes are the records' bytes.
    assert sum(c.decoded_size for c in chunks) == sum(map(len, recs))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_ranges_read_every_record_once(tmp_path: Path, kind: str) -> None:
    paths = [tmp_path / f"s{i}.rec" for i in range(3)]
    want = [r for p in paths for r in write_file(p, 700 + 100 * paths.index(p), **KINDS[kind])]
    for kw in (dict(target_bytes=3000), dict(target_records=250), dict(min_splits=17),
               dict()):
        ranges = keeldb.plan_splits(paths, **kw)  # type: ignore[arg-type]
        got = [bytes(r) for rr in ranges for r in keeldb.read_range(pickle.loads(pickle.dumps(rr)))]
        assert got == want, kw
        assert all(r.stop > r.start for r in ranges)
        if "min_splits" in kw:
            assert len(ranges) >= 17
    # Chunk-aligned when not asked for more ranges than chunks.
    _, chunks = keeldb.record_chunks(paths[0])
    starts = {c.first_index for c in chunks}
    for r in keeldb.plan_splits(paths[0], target_bytes=3000):
        assert r.start in starts


def test_plan_footer_does_not_read_data(tmp_path: Path) -> None:
    """With an ArrayRecord footer the plan comes from the footer: damage in the data does
    not stop planning (a header walk would stop at it), reading finds it."""
    p = tmp_path / "f.rec"
    write_file(p, 2000, array_record=True, group_size=100)
    _, chunks = keeldb.record_chunks(p)
    raw = bytearray(p.read_bytes())
    raw[chunks[5].offset + 8] ^= 0xFF       # chunk 5's header: a walk would fail here
    p.write_bytes(bytes(raw))
    ranges = keeldb.plan_splits(p, target_records=500)
    assert [(r.start, r.stop) for r in ranges] == [(0, 500), (500, 1000), (1000, 1500),
                                                   (1500, 2000)]
    assert len(list(keeldb.read_range(ranges[2]))) == 500
    with pytest.raises(OSError):
        list(keeldb.read_range(ranges[1]))


def test_plan_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        keeldb.plan_splits(tmp_path / "missing.rec")
    (tmp_path / "foreign").write_bytes(b"not a record file" * 10)
    with pytest.raises(OSError, match="not a Riegeli"):
        keeldb.plan_splits(tmp_path / "foreign")
    with pytest.raises(ValueError):
        keeldb.plan_splits([])
    with pytest.raises(ValueError):
        keeldb.plan_splits(tmp_path / "x", target_bytes=0)
    empty = tmp_path / "empty.rec"
    write_file(empty, 0)
    assert keeldb.plan_splits(empty) == []


def test_range_detects_a_shorter_file(tmp_path: Path) -> None:
    p = tmp_path / "f.rec"
    write_file(p, 500, chunk_size=1024)
    (r,) = keeldb.plan_splits(p)
    write_file(p, 100)
    with pytest.raises(keeldb.CorruptError, match="changed since planning"):
        list(keeldb.read_range(r))


def test_range_reader_is_lazy(tmp_path: Path) -> None:
    p = tmp_path / "f.rec"
    write_file(p, 10)
    (r,) = keeldb.plan_splits(p)
    it = keeldb.read_range(r)        # nothing opened yet
    p.unlink()
    with pytest.raises(FileNotFoundError):
        next(it)


def _unbatch(n: int, offsets: bytes, data: bytes) -> list[bytes]:
    offs = struct.unpack(f"<{n + 1}i", offsets)
    assert offs[0] == 0 and offs[-1] == len(data) and list(offs) == sorted(offs)
    return [data[offs[i]:offs[i + 1]] for i in range(n)]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_next_batch_is_arrow_binary_layout(tmp_path: Path, kind: str) -> None:
    p = tmp_path / "f.rec"
    recs = [b"x" * (i % 37) + b"%d" % i for i in range(1000)]
    with RecordWriter(p, **KINDS[kind]) as w:  # type: ignore[arg-type]
        for r in recs:
            w.write_record(r)
    for max_records, max_bytes in ((1, 2**31 - 1), (7, 2**31 - 1), (100, 500), (5000, 1)):
        with RecordReader(p) as r:
            got: list[bytes] = []
            while True:
                n, offsets, data = r.next_batch(max_records, max_bytes)
                if n == 0:
                    assert (offsets, data) == (b"\0\0\0\0", b"")
                    break
                assert n <= max_records
                assert len(data) <= max_bytes or n == 1    # a big record comes alone
                got += _unbatch(n, offsets, data)
                assert r.tell() == len(got)
            assert got == recs, (max_records, max_bytes)
    with RecordReader(p) as r:        # after a seek, and mixed with next_record
        r.seek(500)
        assert bytes(r.next_record()) == recs[500]  # type: ignore[arg-type]
        assert _unbatch(*r.next_batch(3)) == recs[501:504]


def test_next_batch_bad_arguments(tmp_path: Path) -> None:
    p = tmp_path / "f.rec"
    write_file(p, 3)
    r = RecordReader(p)
    for bad in (0, -1, 2**31 - 1):
        with pytest.raises(ValueError, match="max_records"):
            r.next_batch(bad)
    for bad in (0, -5, 2**31):
        with pytest.raises(ValueError, match="max_bytes"):
            r.next_batch(1, bad)
    with pytest.raises(TypeError):
        r.next_batch("3")  # type: ignore[arg-type]
    r.close()
    with pytest.raises(ValueError, match="closed"):
        r.next_batch(1)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_range_batches_read_every_record_once(tmp_path: Path, kind: str) -> None:
    paths = [tmp_path / f"s{i}.rec" for i in range(3)]
    want = [r for p in paths for r in write_file(p, 700 + 100 * paths.index(p), **KINDS[kind])]
    for batch in (1, 64, 1000):
        ranges = keeldb.plan_splits(paths, min_splits=9)
        got = [rec for rr in ranges
               for b in keeldb.read_range_batches(rr, batch_records=batch) for rec in _unbatch(*b)]
        assert got == want, batch
    with pytest.raises(ValueError, match="batch_records"):
        next(keeldb.read_range_batches(ranges[0], batch_records=0))


def test_range_batches_detect_a_shorter_file(tmp_path: Path) -> None:
    p = tmp_path / "f.rec"
    write_file(p, 500, chunk_size=1024)
    (r,) = keeldb.plan_splits(p)
    write_file(p, 100)
    with pytest.raises(keeldb.CorruptError, match="changed since planning"):
        list(keeldb.read_range_batches(r))


# ---- stores -----------------------------------------------------------------------------------


def test_store_splits_cover_every_live_entry(tmp_path: Path) -> None:
    path = tmp_path / "s.keel"
    with DataStore(path) as s:
        for i in range(3000):
            s.write(b"k%05d" % i, b"v" * (i % 50))
        for i in range(0, 3000, 7):
            s.delete(b"k%05d" % i)
        s.write(b"k00001", b"new")
        want = dict(s.items())
        ranges = keeldb.plan_store_splits(path, min_splits=5)   # while the writer is open
    assert len(ranges) == 5
    got = [kv for r in ranges for kv in keeldb.read_store_range(pickle.loads(pickle.dumps(r)),
                                                                 batch=100)]
    assert len(got) == len(want) and dict(got) == want
    assert sum(r.num_entries for r in ranges) == len(want)
    assert len(keeldb.plan_store_splits(path, target_entries=1000)) == 3
    assert keeldb.plan_store_splits(path, min_splits=10**6)[-1].stop == len(want)


def test_store_range_refuses_a_changed_store(tmp_path: Path) -> None:
    path = tmp_path / "s.keel"
    with DataStore(path) as s:
        s.write(b"a", b"1")
        (r,) = keeldb.plan_store_splits(path)
        s.write(b"b", b"2")
    with pytest.raises(keeldb.Error, match="changed since its splits were planned"):
        list(keeldb.read_store_range(r))
    with pytest.raises(FileNotFoundError):
        keeldb.plan_store_splits(tmp_path / "missing.keel")
    (tmp_path / "foreign").write_bytes(b"x" * 100)
    with pytest.raises(keeldb.FormatError):
        keeldb.plan_store_splits(tmp_path / "foreign")
    empty = tmp_path / "empty.keel"
    DataStore(empty).close()
    assert keeldb.plan_store_splits(empty) == []


# ---- pickling ---------------------------------------------------------------------------------


def test_record_reader_pickles_as_path_and_position(tmp_path: Path) -> None:
    p = tmp_path / "f.rec"
    recs = write_file(p, 300, chunk_size=512)
    with RecordReader(p, corruption_strategy="recover") as r:
        r.seek(123)
        for clone in (pickle.loads(pickle.dumps(r)), copy.copy(r), copy.deepcopy(r)):
            assert isinstance(clone, RecordReader)
            assert clone.tell() == 123
            assert [bytes(x) for x in clone] == recs[123:]
            clone.close()
        assert r.tell() == 123                  # the original did not move
        assert bytes(r[0]) == recs[0]
    with pytest.raises(TypeError, match="closed"):
        pickle.dumps(r)


def test_store_pickles_as_path_and_mode(tmp_path: Path) -> None:
    path = tmp_path / "s.keel"
    with DataStore(path) as w:
        w.write(b"k", b"v")
        with DataStore(path, readonly=True) as ro:
            clone = pickle.loads(pickle.dumps(ro))
            assert clone.readonly and clone[b"k"] == b"v"
            clone.close()
        # A writable store reopens writable: one writer per file.
        with pytest.raises(keeldb.LockedError):
            pickle.loads(pickle.dumps(w))
    clone = pickle.loads(pickle.dumps(DataStore(path)))
    assert not clone.readonly and clone[b"k"] == b"v"
    clone.close()


def test_bytes_and_refusals_pickle_clearly(tmp_path: Path) -> None:
    p = tmp_path / "f.rec"
    write_file(p, 3)
    with RecordReader(p) as r:
        rec = r.next_record()
        assert rec is not None
        assert pickle.loads(pickle.dumps(rec)) == rec.to_bytes()
    with RecordWriter(tmp_path / "w.rec") as w:
        with pytest.raises(TypeError, match="one writer"):
            pickle.dumps(w)
    d = tmp_path / "shards"
    d.mkdir()
    with keeldb.MultiThreadedWriter.new_with_shards(dir_path=d, num_shards=2) as mw:
        with pytest.raises(TypeError, match="cannot pickle a MultiThreadedWriter"):
            pickle.dumps(mw)
    with keeldb.MultiThreadedReader.new_with_shards(dir_path=d, num_shards=2) as mr:
        with pytest.raises(TypeError, match="plan_splits"):
            pickle.dumps(mr)


# ---- fork ---------------------------------------------------------------------------------------


def _in_child(fn) -> int:  # type: ignore[no-untyped-def]
    """Run fn() in a forked child; its exit status (0: fn returned without raising)."""
    import os
    import traceback

    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            fn()
        except BaseException:
            traceback.print_exc()
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_forked_child_reads_correctly(tmp_path: Path) -> None:
    p = tmp_path / "f.rec"
    recs = write_file(p, 500, chunk_size=1024)
    reader = RecordReader(p)
    reader.seek(100)
    (r,) = keeldb.plan_splits(p)

    def child() -> None:
        assert [bytes(x) for x in reader] == recs[100:]      # inherited: pread, own state
        assert bytes(reader[3]) == recs[3]
        assert [bytes(x) for x in keeldb.read_range(r)] == recs

    assert _in_child(child) == 0
    assert reader.tell() == 100 and bytes(reader.next_record() or b"") == recs[100]
    reader.close()


def test_forked_child_cannot_use_a_parent_writer(tmp_path: Path) -> None:
    path = tmp_path / "s.keel"
    rec_path = tmp_path / "w.rec"
    store = DataStore(path)
    store.write(b"k", b"v")
    ro = DataStore(path, readonly=True)
    writer = RecordWriter(rec_path)
    writer.write_record(b"parent-0")                 # pending in the parent's chunk

    def child() -> None:
        import gc
        with pytest.raises(keeldb.LockedError, match="fork"):
            store.write(b"c", b"x")
        with pytest.raises(keeldb.LockedError, match="open the store again"):
            store.read(b"k")
        assert ro.read(b"k") == b"v"                 # read-only: a snapshot, no lock
        with DataStore(path, readonly=True) as again:   # what the message says to do
            assert again[b"k"] == b"v"
        with pytest.raises(OSError, match="fork"):
            writer.write_record(b"child")
        store.close()
        ro.close()
        writer.close()      # writes nothing: the pending record is the parent's
        gc.collect()

    assert _in_child(child) == 0
    store.write(b"p", b"after")
    assert store[b"k"] == b"v" and store[b"p"] == b"after"
    writer.write_record(b"parent-1")
    writer.close()
    assert [bytes(x) for x in RecordReader(rec_path)] == [b"parent-0", b"parent-1"]
    ro.close()
    store.close()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_next_batch_into_fills_callers_buffers(tmp_path: Path, kind: str) -> None:
    p = tmp_path / "f.rec"
    recs = [b"x" * (i % 37) + b"%d" % i for i in range(1000)]
    with RecordWriter(p, **KINDS[kind]) as w:  # type: ignore[arg-type]
        for r in recs:
            w.write_record(r)
    for max_records, slots, cap in ((1, 2, 40), (7, 100, 1 << 20), (100, 11, 500),
                                    (5000, 5001, 300)):
        with RecordReader(p) as r:
            got: list[bytes] = []
            while True:
                offsets, data = bytearray(b"\xff" * 4 * slots), bytearray(cap)
                n, used = r.next_batch_into(offsets, data, max_records)
                if n == 0:
                    assert used == 0 and offsets[:4] == b"\0\0\0\0"
                    break
                assert n <= min(max_records, slots - 1) and used <= cap
                got += _unbatch(n, bytes(offsets[:4 * (n + 1)]), bytes(data[:used]))
                assert r.tell() == len(got)
            assert got == recs, (max_records, slots, cap)
    with RecordReader(p) as r:        # a record longer than data: count 0, reader stays
        r.seek(36)                    # recs[36] is 38 bytes
        assert r.next_batch_into(bytearray(8), bytearray(37)) == (0, 0)
        assert r.tell() == 36
        assert _unbatch(*r.next_batch(1)) == [recs[36]]
        mv = memoryview(bytearray(16))            # any writable buffer
        assert r.next_batch_into(mv[:8], bytearray(100))[0] == 1
        assert r.tell() == 38


def test_next_batch_into_bad_arguments(tmp_path: Path) -> None:
    p = tmp_path / "f.rec"
    write_file(p, 3)
    r = RecordReader(p)
    for bad in (0, -1, 2**31 - 1):
        with pytest.raises(ValueError, match="max_records"):
            r.next_batch_into(bytearray(8), bytearray(8), bad)
    with pytest.raises(ValueError, match="offsets holds 4 bytes"):
        r.next_batch_into(bytearray(4), bytearray(8))
    with pytest.raises(TypeError):
        r.next_batch_into(b"\0" * 8, bytearray(8))    # read-only
    r.close()
    with pytest.raises(ValueError, match="closed"):
        r.next_batch_into(bytearray(8), bytearray(8))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_range_batches_into_allocated_buffers(tmp_path: Path, kind: str) -> None:
    paths = [tmp_path / f"s{i}.rec" for i in range(3)]
    want = [r for p in paths for r in write_file(p, 700 + 100 * paths.index(p), **KINDS[kind])]
    asked: list[int] = []

    def alloc(n: int) -> bytearray:
        asked.append(n)
        return bytearray(n)

    for batch, max_bytes in ((1, 2**31 - 1), (64, 2**31 - 1), (1000, 300), (1000, 5)):
        ranges = keeldb.plan_splits(paths, min_splits=9)
        got, asked[:] = [], []
        for rr in ranges:
            for n, offsets, data in keeldb.read_range_batches(rr, batch_records=batch,
                                                               max_bytes=max_bytes,
                                                               alloc=alloc):
                got += _unbatch(n, bytes(offsets), bytes(data))
        assert got == want, (batch, max_bytes)
        assert max(asked) <= max(max_bytes, 4 * (batch + 1))
    with pytest.raises(ValueError, match="max_bytes"):
        next(keeldb.read_range_batches(ranges[0], max_bytes=0, alloc=alloc))
