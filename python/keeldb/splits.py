"""Splits of record files and stores for parallel reads: the engine-neutral core.

A distributed engine (Ray Data, Grain, Dask, Beam, Spark) ships its work units to other
processes by pickling them, so a unit here is plain data: a ``RecordRange`` names a file and
a range of record indices, a ``StoreRange`` a store file and a range of its live entries in
file order. The driver plans them (``plan_splits``, ``plan_store_splits``); a worker opens
the file itself, read-only, when it first reads (``read_range``, ``read_store_range``).

Record ranges start and end at chunk boundaries, so each chunk is decoded by one worker
only. The chunk list comes from the ArrayRecord footer when the file has one (one read at
the end of the file, none of the data) and otherwise from a walk over the chunk headers
(``keel_rec_reader_chunks`` in include/keel_records.h). A range splits a chunk only when
more ranges were asked for (``min_splits``) than the files have chunks.
"""

from __future__ import annotations

import heapq
import os
from typing import (Any, Callable, Iterable, Iterator, List, NamedTuple, Optional, Tuple,
                    Union)

from . import _plan
from ._keeldb import CorruptError, Error, FormatError, LockedError, StoreIOError, VersionError
from .records import Bytes, RecordReader

PathArg = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

DEFAULT_TARGET_BYTES = 64 << 20
# The smallest data buffer read_range_batches asks its alloc for.
_MIN_BATCH_BYTES = 1 << 16


class ChunkInfo(NamedTuple):
    """One chunk of records: where it is, which records it holds, their decoded size."""

    offset: int
    first_index: int
    num_records: int
    decoded_size: int


class RecordRange(NamedTuple):
    """Records ``start <= i < stop`` of the record file ``path``; ``nbytes`` is their
    decoded size (exact at chunk boundaries, prorated by records inside a chunk)."""

    path: str
    start: int
    stop: int
    nbytes: int

    @property
    def num_records(self) -> int:
        return self.stop - self.start


class StoreRange(NamedTuple):
    """Live entries ``start <= i < stop`` (in file order) of the store ``path``, as it was
    when planned: ``file_size`` is its committed size then, and a worker refuses a store
    whose size differs (it changed, so the entry numbering may have). ``nbytes`` is an
    estimate (the live bytes prorated by entries)."""

    path: str
    start: int
    stop: int
    nbytes: int
    file_size: int

    @property
    def num_entries(self) -> int:
        return self.stop - self.start


def _as_paths(paths: Union[PathArg, Iterable[PathArg]]) -> List[str]:
    if isinstance(paths, (str, bytes, os.PathLike)):
        paths = [paths]
    out = [os.path.abspath(os.fsdecode(os.fspath(p))) for p in paths]
    if not out:
        raise ValueError("no paths given")
    return out


def _strategy(recover: Union[bool, str, int, None]) -> bool:
    if recover is None or recover in (0, "error"):
        return False
    if recover in (1, "recover", True):
        return True
    raise ValueError(f"corruption_strategy must be 'error' or 'recover', not {recover!r}")


def _keel_error(exc: OSError, what: str) -> BaseException:
    """keeldb._plan raises OSError(status, detail); map it like the extensions do."""
    status, detail = exc.errno, exc.strerror or str(exc)
    msg = f"{what}: {detail}"
    table = {-5: FileNotFoundError, -7: FormatError, -8: VersionError, -9: CorruptError,
             -10: LockedError, -17: PermissionError, -1: ValueError}
    cls = table.get(status) if isinstance(status, int) else None
    if cls is not None:
        return cls(msg)
    if isinstance(status, int) and status < 0:
        return StoreIOError(msg)
    return exc


def record_chunks(path: PathArg, *, corruption_strategy: Any = None
                  ) -> Tuple[bool, List[ChunkInfo]]:
    """The record chunks of one file and whether they came from its ArrayRecord footer."""
    p = os.fsdecode(os.fspath(path))
    try:
        footer, rows = _plan.chunks(p, _strategy(corruption_strategy))
    except OSError as exc:
        if exc.errno is not None and exc.errno < 0:
            err = _keel_error(exc, p)
            if isinstance(err, (FileNotFoundError, PermissionError, ValueError)):
                raise err from None
            raise OSError(f"{p}: {exc.strerror}") from None
        raise
    return footer, [ChunkInfo(*r) for r in rows]


def _split_count(total_bytes: int, total_items: int, target_bytes: int,
                 target_items: Optional[int]) -> int:
    n = -(-total_bytes // target_bytes) if total_bytes else 1
    if target_items:
        n = max(n, -(-total_items // target_items))
    return max(1, n)


def _check_targets(target_bytes: int, target: Optional[int], name: str, min_splits: int
                   ) -> None:
    if target_bytes <= 0:
        raise ValueError(f"target_bytes must be positive, not {target_bytes}")
    if target is not None and target <= 0:
        raise ValueError(f"{name} must be positive, not {target}")
    if min_splits < 1:
        raise ValueError(f"min_splits must be at least 1, not {min_splits}")


def plan_splits(
    paths: Union[PathArg, Iterable[PathArg]],
    *,
    target_bytes: int = DEFAULT_TARGET_BYTES,
    target_records: Optional[int] = None,
    min_splits: int = 1,
    corruption_strategy: Any = None,
) -> List[RecordRange]:
    """Cut record files into ranges of about ``target_bytes`` decoded bytes (and at most
    ``target_records`` records when given), at chunk boundaries, in path order.

    With ``min_splits`` the largest ranges are halved until there are that many (or every
    range is one record): at a chunk boundary while a range has several chunks, inside a
    chunk after that. Files without records give no range. Raises like ``RecordReader``
    for a missing or foreign file.
    """
    _check_targets(target_bytes, target_records, "target_records", min_splits)
    # Each range is a list of pieces (first_index, num_records, decoded_size): whole chunks,
    # or parts of one chunk once min_splits had to cut inside it.
    ranges: List[Tuple[int, str, List[Tuple[int, int, int]]]] = []
    for file_no, path in enumerate(_as_paths(paths)):
        _, chunks = record_chunks(path, corruption_strategy=corruption_strategy)
        cur: List[Tuple[int, int, int]] = []
        nbytes = nrec = 0
        for c in chunks:
            cur.append((c.first_index, c.num_records, c.decoded_size))
            nbytes += c.decoded_size
            nrec += c.num_records
            if nbytes >= target_bytes or (target_records and nrec >= target_records):
                ranges.append((file_no, path, cur))
                cur, nbytes, nrec = [], 0, 0
        if cur:
            ranges.append((file_no, path, cur))
    if len(ranges) < min_splits:
        ranges = _split_more(ranges, min_splits)
    out = []
    for _, path, pieces in ranges:
        start = pieces[0][0]
        stop = pieces[-1][0] + pieces[-1][1]
        out.append(RecordRange(path, start, stop, sum(p[2] for p in pieces)))
    return out


def _split_more(ranges: List[Tuple[int, str, List[Tuple[int, int, int]]]], want: int
                ) -> List[Tuple[int, str, List[Tuple[int, int, int]]]]:
    """Halve the largest range (bytes, then records) until there are `want` ranges or
    every range is one record; the result is in file order, then record order."""
    Piece = Tuple[int, int, int]
    heap: List[Tuple[int, int, int, int, str, List[Piece]]] = []
    seq = 0
    for file_no, path, pieces in ranges:
        heap.append((-sum(p[2] for p in pieces), -sum(p[1] for p in pieces), seq, file_no,
                     path, pieces))
        seq += 1
    heapq.heapify(heap)
    single: List[Tuple[int, str, List[Piece]]] = []
    while heap and len(heap) + len(single) < want:
        nb, nr, _, file_no, path, pieces = heapq.heappop(heap)
        if nr == -1:
            single.append((file_no, path, pieces))
            continue
        if len(pieces) > 1:
            # At the chunk boundary closest to half the bytes.
            half, acc, cut, best = -nb / 2, 0, 1, -1.0
            for i in range(1, len(pieces)):
                acc += pieces[i - 1][2]
                if best < 0 or abs(acc - half) < best:
                    best, cut = abs(acc - half), i
            parts = [pieces[:cut], pieces[cut:]]
        else:
            first, n, dec = pieces[0]
            k = n // 2
            parts = [[(first, k, dec * k // n)], [(first + k, n - k, dec - dec * k // n)]]
        for part in parts:
            heapq.heappush(heap, (-sum(p[2] for p in part), -sum(p[1] for p in part), seq,
                                  file_no, path, part))
            seq += 1
    out = [(file_no, path, pieces) for _, _, _, file_no, path, pieces in heap] + single
    out.sort(key=lambda t: (t[0], t[2][0][0]))
    return out


def read_range(r: RecordRange, *, corruption_strategy: Any = None
               ) -> Iterator[Bytes]:
    """Yield the records of ``r``, opening its file when the first record is asked for
    and closing it after the last. Raises ``CorruptError`` when the file holds fewer
    records than planned (it was cut or replaced since)."""
    reader = RecordReader(r.path, corruption_strategy)
    try:
        if r.start:
            reader.seek(r.start)
        for i in range(r.start, r.stop):
            rec = reader.next_record()
            if rec is None:
                raise CorruptError(f"{r.path}: record {i} of the planned range {r.start}.."
                                   f"{r.stop} is missing (the file changed since planning)")
            yield rec
    finally:
        reader.close()


def read_range_batches(r: RecordRange, *, batch_records: int = 65536,
                       max_bytes: int = 2**31 - 1, corruption_strategy: Any = None,
                       alloc: Optional[Callable[[int], Any]] = None
                       ) -> Iterator[Tuple[int, Any, Any]]:
    """The records of ``r`` in batches of up to ``batch_records`` (fewer when
    ``max_bytes`` is reached), each ``(count, offsets, data)``: Arrow's binary layout, for a
    columnar consumer. Opens and closes the file like ``read_range`` and raises
    ``CorruptError`` the same way.

    Without ``alloc``, offsets and data are new ``bytes`` (``RecordReader.next_batch``).
    With it, they are ``memoryview`` slices of writable buffers ``alloc(nbytes)`` returns
    (``RecordReader.next_batch_into``): data sized from the range's ``nbytes``, at most
    ``max_bytes``. Pass an allocator whose memory stays mapped once freed (such as
    ``pyarrow.allocate_buffer``, Arrow's memory pool): the pages of a fresh ``bytes`` of
    many MiB are faulted in from the kernel on every batch, which took a third of the CPU
    of reading 100-byte records. A record that does not fit comes alone as ``bytes``."""
    if batch_records < 1:
        raise ValueError(f"batch_records must be at least 1, not {batch_records}")
    if alloc is not None and not 1 <= max_bytes <= 2**31 - 1:
        raise ValueError(f"max_bytes must be in 1..{2**31 - 1}, not {max_bytes}")
    reader = RecordReader(r.path, corruption_strategy)
    try:
        if r.start:
            reader.seek(r.start)
        i, done_bytes = r.start, 0
        while i < r.stop:
            k = min(batch_records, r.stop - i)
            batch: Tuple[int, Any, Any]
            n = 0
            if alloc is not None:
                offsets = alloc(4 * (k + 1))
                data = alloc(min(max_bytes, max(r.nbytes - done_bytes, _MIN_BATCH_BYTES)))
                n, used = reader.next_batch_into(offsets, data, k)
                batch = (n, memoryview(offsets)[:4 * (n + 1)], memoryview(data)[:used])
            if n == 0:             # no alloc, or the next record is larger than data
                batch = reader.next_batch(k if alloc is None else 1, max_bytes)
                n = batch[0]
            if n == 0:
                raise CorruptError(f"{r.path}: record {i} of the planned range {r.start}.."
                                   f"{r.stop} is missing (the file changed since planning)")
            i += n
            done_bytes += len(batch[2])
            yield batch
    finally:
        reader.close()


def read_ranges(ranges: Iterable[RecordRange], *,
                corruption_strategy: Any = None) -> Iterator[Bytes]:
    """``read_range`` over several ranges in turn."""
    for r in ranges:
        yield from read_range(r, corruption_strategy=corruption_strategy)


# ---- stores --------------------------------------------------------------------------------


class _Scan:
    """A read-only store and one snapshot of its live entries, in file order."""

    def __init__(self, path: str) -> None:
        try:
            self.cap = _plan.store_scan_open(path)
        except OSError as exc:
            raise _keel_error(exc, path) from None
        self.entries, self.file_size, self.live_bytes = _plan.store_scan_info(self.cap)

    def batch(self, a: int, b: int) -> List[Tuple[bytes, bytes]]:
        return _plan.store_scan_batch(self.cap, a, b)

    def close(self) -> None:
        _plan.store_scan_close(self.cap)


def plan_store_splits(
    path: PathArg,
    *,
    target_bytes: int = DEFAULT_TARGET_BYTES,
    target_entries: Optional[int] = None,
    min_splits: int = 1,
) -> List[StoreRange]:
    """Cut a store's live entries (file order) into ranges of about ``target_bytes``
    (and at most ``target_entries`` entries when given), at least ``min_splits`` of them
    when the store has that many entries. The store is opened read-only, so a writer may
    hold it meanwhile; a worker refuses a range if the store changed in between."""
    _check_targets(target_bytes, target_entries, "target_entries", min_splits)
    p = os.path.abspath(os.fsdecode(os.fspath(path)))
    scan = _Scan(p)
    try:
        n, size, live = scan.entries, scan.file_size, scan.live_bytes
    finally:
        scan.close()
    if n == 0:
        return []
    k = min(n, max(min_splits, _split_count(live, n, target_bytes, target_entries)))
    bounds = [n * i // k for i in range(k + 1)]
    return [StoreRange(p, a, b, live * (b - a) // n, size)
            for a, b in zip(bounds, bounds[1:]) if b > a]


def read_store_range(r: StoreRange, *, batch: int = 1024) -> Iterator[Tuple[bytes, bytes]]:
    """Yield ``(key, value)`` for the entries of ``r``, opening the store read-only when
    the first is asked for. Raises ``keeldb.Error`` when the store's committed size is not
    the planned one (written or compacted since: plan again)."""
    scan = _Scan(r.path)
    try:
        if scan.file_size != r.file_size or scan.entries < r.stop:
            raise Error(f"{r.path}: the store changed since its splits were planned "
                        f"(committed size {r.file_size} then, {scan.file_size} now): "
                        "plan again")
        for a in range(r.start, r.stop, batch):
            yield from scan.batch(a, min(a + batch, r.stop))
    finally:
        scan.close()


__all__ = [
    "ChunkInfo",
    "RecordRange",
    "StoreRange",
    "record_chunks",
    "plan_splits",
    "read_range",
    "read_ranges",
    "read_range_batches",
    "plan_store_splits",
    "read_store_range",
    "DEFAULT_TARGET_BYTES",
]
