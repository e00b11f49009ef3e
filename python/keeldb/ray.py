"""keeldb.ray: record files and stores as Ray Data sources and sinks (``keeldb[ray]``).

- ``read_records(paths)``: a ``ray.data.Dataset`` whose read tasks are record ranges
  (``keeldb.plan_splits``: chunk-aligned, about ``target_bytes`` each, planned from the
  ArrayRecord footer when there is one), not files, so a single large file is read by many
  workers; consecutive ranges share a task when there are more of them than tasks wanted.
  A task fills its Arrow buffers from Arrow's memory pool in one C call per block. Rows
  have a ``record`` column (binary), plus ``path`` and ``index`` with
  ``include_paths=True``.
- ``write_records(dataset, dir)``: through ``RecordsDatasink``, each write task writes one
  shard under a temporary name; the shards are renamed to ``part-NNNNN.riegeli`` when the
  whole write has succeeded (``on_write_complete``), and removed when it failed. The
  ArrayRecord footer is on by default, so the output reads back with random access (here,
  in Grain, or with ``array_record``).
- ``read_store(path)``: the live entries of a DataStore (``key``, ``value`` columns), one read
  task per entry range (``keeldb.plan_store_splits``), each worker opening the store
  read-only.

Every task carries plain data (a range) and opens its file itself in the worker.
"""

from __future__ import annotations

import functools
import os
import uuid
from typing import Any, Dict, Iterable, Iterator, List, Optional, Union

import numpy as np
import pyarrow as pa
import ray
import ray.data
from ray.data.block import Block, BlockAccessor, BlockMetadata
from ray.data.datasource import Datasink, Datasource, ReadTask

from .records import RecordWriter
from .splits import (
    DEFAULT_TARGET_BYTES,
    PathArg,
    RecordRange,
    StoreRange,
    plan_splits,
    plan_store_splits,
    read_range_batches,
    read_store_range,
)

# The most records and bytes of one Arrow table a record read task yields (a task streams
# several for a large range). Every block costs the driver's executor a fixed amount of work
# (milliseconds on a loaded 2-CPU machine), so blocks are large: a 64 MiB range is one
# block, within Ray's target_max_block_size (128 MiB).
ROWS_PER_BLOCK = 1 << 20
BLOCK_BYTES = 64 << 20
# Rows per block of read_store (its rows are built from Python objects).
STORE_ROWS_PER_BLOCK = 65536

# read_records/read_store without override_num_blocks: ranges of about target_bytes, at
# least this many per CPU of the cluster, and Ray is told that number. Ray's own default
# asks for 200 or more blocks (DataContext.read_op_min_num_blocks) whatever the cluster
# and splits each task's output to get them; that made a 4-million-record read 4x slower
# than 16 ranges on 2 CPUs (the driver handles every block).
READ_TASKS_PER_CPU = 2


def _want_splits(min_splits: Union[int, str, None], parallelism: int) -> int:
    """How many ranges a source plans at least: ``min_splits``; for "auto",
    READ_TASKS_PER_CPU per CPU of the cluster (asked when the tasks are made, on the
    driver, after ray.init); for None, Ray's
    ``parallelism``."""
    if min_splits == "auto":
        # Before ray.init, the CPUs a local ray.init (Ray Data's implicit one) would see.
        cpus = (ray.cluster_resources().get("CPU", 1) if ray.is_initialized()
                else os.cpu_count() or 1)
        return max(1, int(cpus) * READ_TASKS_PER_CPU)
    if min_splits is None:
        return max(1, parallelism)
    if isinstance(min_splits, str) or min_splits < 1:
        raise ValueError(f"min_splits must be a positive int, 'auto' or None, "
                         f"not {min_splits!r}")
    return min_splits


def _record_tables(r: RecordRange, include_paths: bool, column: str,
                   strategy: Any) -> Iterator[pa.Table]:
    # One C call per block fills Arrow's binary layout (offsets + data) for the whole
    # block, which pyarrow wraps without a copy: no Python object per record. The buffers
    # come from Arrow's memory pool, which keeps freed memory mapped: a new bytes object
    # per 64 MiB block had its pages faulted in from the kernel each time, a third of the
    # task's CPU, and the fault path's locks slowed two workers down together.
    first = r.start
    for n, offsets, data in read_range_batches(r, batch_records=ROWS_PER_BLOCK,
                                               max_bytes=BLOCK_BYTES,
                                               corruption_strategy=strategy,
                                               alloc=pa.allocate_buffer):
        arr = pa.Array.from_buffers(pa.binary(), n,
                                    [None, pa.py_buffer(offsets), pa.py_buffer(data)])
        yield _table(arr, r.path, first, include_paths, column)
        first += n
    if first == r.start:
        yield _table(pa.array([], pa.binary()), r.path, first, include_paths, column)


def _table(recs: pa.Array, path: str, first: int, include_paths: bool,
           column: str) -> pa.Table:
    cols: Dict[str, Any] = {column: recs}
    if include_paths:
        n = len(recs)
        cols["path"] = pa.repeat(pa.scalar(path, pa.string()), n)
        cols["index"] = pa.array(np.arange(first, first + n, dtype=np.int64))
    return pa.table(cols)


class RecordsDatasource(Datasource):
    """Ray Data source over record files: read tasks over record ranges (one range a
    task, or several consecutive ones when the plan has more ranges than tasks wanted).

    Ranges of about ``target_bytes``, at least ``min_splits`` of them: "auto" is
    ``READ_TASKS_PER_CPU`` per CPU of the cluster, None the number of tasks Ray asks for
    (its ``parallelism``: 200 or more by default, whatever the cluster); consecutive ranges
    share tasks of about equal bytes when there are more (``_group_ranges``)."""

    def __init__(self, paths: Union[PathArg, Iterable[PathArg]], *,
                 target_bytes: int = DEFAULT_TARGET_BYTES, include_paths: bool = False,
                 column: str = "record", corruption_strategy: Any = None,
                 min_splits: Union[int, str, None] = None) -> None:
        self._paths = paths if isinstance(paths, (str, bytes, os.PathLike)) else list(paths)
        if min_splits != "auto":
            _want_splits(min_splits, 1)           # a bad value fails here, not in Ray
        self._min_splits = min_splits
        self._target_bytes = target_bytes
        self._include_paths = include_paths
        self._column = column
        self._strategy = corruption_strategy
        self._ranges: Optional[List[RecordRange]] = None

    def _plan(self, min_splits: int = 1) -> List[RecordRange]:
        if self._ranges is None or len(self._ranges) < min_splits:
            self._ranges = plan_splits(self._paths, target_bytes=self._target_bytes,
                                       min_splits=min_splits,
                                       corruption_strategy=self._strategy)
        return self._ranges

    def get_name(self) -> str:
        return "ReadKeelRecords"

    def estimate_inmemory_data_size(self) -> Optional[int]:
        return sum(r.nbytes for r in self._plan())

    def get_read_tasks(self, parallelism: int, per_task_row_limit: Optional[int] = None,
                       data_context: Any = None) -> List[ReadTask]:
        # Ranges of about target_bytes; more (smaller) ones when min_splits (or, without
        # it, Ray) asks for more tasks. When the plan has more ranges than that (many
        # files, each cut on its own), consecutive ranges share a task: Ray Data hands out
        # the next task only after polling its running ones (up to 100 ms), so a task must
        # be worth far more than that for two workers to stay busy. (Tasks that shrink
        # along the dataset, to even out the workers' ends, measured slower: more tasks.)
        want = self._want(parallelism)
        ranges = self._plan(want)
        schema = pa.schema([(self._column, pa.binary())] + (
            [("path", pa.string()), ("index", pa.int64())] if self._include_paths else []))
        tasks = []
        for group in _group_ranges(ranges, want):
            meta = BlockMetadata(num_rows=sum(r.num_records for r in group),
                                 size_bytes=int(sum(r.nbytes for r in group)),
                                 input_files=tuple(dict.fromkeys(r.path for r in group)),
                                 exec_stats=None)
            # The task carries its own ranges and settings only: a closure over self
            # would pickle the whole plan (and path list) into every task.
            tasks.append(ReadTask(functools.partial(_read_group, group, self._include_paths,
                                                    self._column, self._strategy),
                                  meta, schema=schema, per_task_row_limit=per_task_row_limit))
        return tasks

    def _want(self, parallelism: int) -> int:
        """How many tasks (and ranges at least) to plan: for "auto", what
        ``_want_splits`` says for this cluster."""
        return _want_splits(self._min_splits, parallelism)


def _read_group(group: List[RecordRange], include_paths: bool, column: str,
                strategy: Any) -> Iterator[Block]:
    for r in group:
        yield from _record_tables(r, include_paths, column, strategy)


def _group_ranges(ranges: List[RecordRange], n: int) -> List[List[RecordRange]]:
    """The ranges in order, in at most ``n`` groups of consecutive ranges holding about
    equal bytes; one range a group when there are no more than ``n``."""
    if len(ranges) <= n:
        return [[r] for r in ranges]
    sizes = [max(1, int(r.nbytes)) for r in ranges]
    total = sum(sizes)
    groups: List[List[RecordRange]] = [[]]
    acc = 0
    for i, (r, size) in enumerate(zip(ranges, sizes)):
        left = len(ranges) - i                    # ranges not yet placed, r included
        # Close the current group when r's middle lies past the group's share of the
        # bytes (each cut falls at the range boundary nearest to k * total / n), or when
        # every group still to come needs one of the ranges left.
        if groups[-1] and len(groups) < n and (
                acc + size / 2 > total * len(groups) / n or left <= n - len(groups)):
            groups.append([])
        groups[-1].append(r)
        acc += size
    return groups


def read_records(paths: Union[PathArg, Iterable[PathArg]], *,
                 target_bytes: int = DEFAULT_TARGET_BYTES, include_paths: bool = False,
                 column: str = "record", corruption_strategy: Any = None,
                 override_num_blocks: Optional[int] = None,
                 **read_args: Any) -> ray.data.Dataset:
    """Read record files into a Dataset: read tasks over record ranges.

    ``override_num_blocks`` asks for at least that many ranges (cut inside chunks only
    when the files have fewer chunks); without it, ranges of about ``target_bytes`` and
    at least ``READ_TASKS_PER_CPU`` per CPU of the cluster,
    planned now and passed to Ray as the number of blocks (so Ray does not cut each task's output into its default
    200+ blocks). Either way, more ranges than that share tasks of about equal bytes.
    Each task yields blocks of up to ``BLOCK_BYTES``. Other keywords go to
    ``ray.data.read_datasource`` (``concurrency``, ``ray_remote_args``, ...)."""
    src = RecordsDatasource(paths, target_bytes=target_bytes, include_paths=include_paths,
                            column=column, corruption_strategy=corruption_strategy,
                            min_splits=override_num_blocks or "auto")
    if override_num_blocks is None:
        want = src._want(1)
        override_num_blocks = max(1, min(want, len(src._plan(want))))
    return ray.data.read_datasource(src, override_num_blocks=override_num_blocks, **read_args)


# ---- writing ------------------------------------------------------------------------------


class RecordsDatasink(Datasink):
    """Write one record file per write task: ``{dir}/{prefix}-{task:05d}.riegeli``.

    Each task writes under a temporary name (``.{prefix}-{task}-{random}.tmp``); when every
    task has succeeded the driver renames them (``on_write_complete``), when one failed it
    removes them (``on_write_failed``), so ``dir`` never holds half of a write. The values
    come from ``column`` (bytes; str is written as UTF-8)."""

    def __init__(self, path: PathArg, *, column: str = "record", array_record: bool = True,
                 group_size: int = 65536, compression: Optional[str] = None,
                 prefix: str = "part") -> None:
        self.dir = os.path.abspath(os.fsdecode(os.fspath(path)))
        self.column = column
        self.array_record = array_record
        self.group_size = group_size
        self.compression = compression
        self.prefix = prefix
        self.written: List[str] = []

    def get_name(self) -> str:
        return "WriteKeelRecords"

    def on_write_start(self, schema: Any = None) -> None:
        os.makedirs(self.dir, exist_ok=True)

    def write(self, blocks: Iterable[Block], ctx: Any) -> Optional[Dict[str, Any]]:
        tmp = os.path.join(self.dir, f".{self.prefix}-{ctx.task_idx:05d}-{uuid.uuid4().hex}.tmp")
        n = 0
        w = RecordWriter(tmp, self.compression, array_record=self.array_record,  # type: ignore[arg-type]
                         group_size=self.group_size)
        try:
            for block in blocks:
                acc = BlockAccessor.for_block(block)
                if acc.num_rows() == 0:
                    continue
                col = acc.to_arrow().column(self.column)
                for v in col.to_pylist():
                    w.write_record(v.encode() if isinstance(v, str) else v)
                    n += 1
            w.close()
        except BaseException:
            w.close()
            os.unlink(tmp)
            raise
        if n == 0:
            os.unlink(tmp)
            return None
        return {"tmp": tmp, "task": ctx.task_idx, "records": n}

    def on_write_complete(self, write_result: Any) -> None:
        parts = sorted((r for r in write_result.write_returns if r), key=lambda r: r["task"])
        self.written = []
        for i, r in enumerate(parts):
            final = os.path.join(self.dir, f"{self.prefix}-{i:05d}.riegeli")
            os.replace(r["tmp"], final)
            self.written.append(final)

    def on_write_failed(self, error: Exception) -> None:
        for name in os.listdir(self.dir):
            if name.startswith(f".{self.prefix}-") and name.endswith(".tmp"):
                try:
                    os.unlink(os.path.join(self.dir, name))
                except FileNotFoundError:
                    pass


def write_records(dataset: ray.data.Dataset, path: PathArg, *, column: str = "record",
                  array_record: bool = True, group_size: int = 65536,
                  compression: Optional[str] = None, prefix: str = "part",
                  **write_args: Any) -> List[str]:
    """Write a Dataset's ``column`` as record files in ``path`` (one per write task) and
    return their paths, in task order."""
    sink = RecordsDatasink(path, column=column, array_record=array_record,
                           group_size=group_size, compression=compression, prefix=prefix)
    dataset.write_datasink(sink, **write_args)
    return list(sink.written)


# ---- stores -------------------------------------------------------------------------------


def _store_tables(r: StoreRange) -> Iterator[pa.Table]:
    keys: List[bytes] = []
    values: List[bytes] = []
    for k, v in read_store_range(r):
        keys.append(k)
        values.append(v)
        if len(keys) == STORE_ROWS_PER_BLOCK:
            yield pa.table({"key": pa.array(keys, pa.binary()),
                            "value": pa.array(values, pa.binary())})
            keys, values = [], []
    if keys or r.start == r.stop:
        yield pa.table({"key": pa.array(keys, pa.binary()),
                        "value": pa.array(values, pa.binary())})


class StoreDatasource(Datasource):
    """Ray Data source over a DataStore's live entries: one read task per entry range
    (at least ``min_splits``, as in ``RecordsDatasource``)."""

    def __init__(self, path: PathArg, *, target_bytes: int = DEFAULT_TARGET_BYTES,
                 min_splits: Union[int, str, None] = None) -> None:
        self._path = path
        if min_splits != "auto":
            _want_splits(min_splits, 1)           # a bad value fails here, not in Ray
        self._min_splits = min_splits
        self._target_bytes = target_bytes
        self._ranges: Optional[List[StoreRange]] = None

    def _plan(self, min_splits: int = 1) -> List[StoreRange]:
        if self._ranges is None or len(self._ranges) < min_splits:
            self._ranges = plan_store_splits(self._path, target_bytes=self._target_bytes,
                                             min_splits=min_splits)
        return self._ranges

    def get_name(self) -> str:
        return "ReadKeelStore"

    def estimate_inmemory_data_size(self) -> Optional[int]:
        return sum(r.nbytes for r in self._plan())

    def get_read_tasks(self, parallelism: int, per_task_row_limit: Optional[int] = None,
                       data_context: Any = None) -> List[ReadTask]:
        schema = pa.schema([("key", pa.binary()), ("value", pa.binary())])
        tasks = []
        for r in self._plan(_want_splits(self._min_splits, parallelism)):
            meta = BlockMetadata(num_rows=r.num_entries, size_bytes=int(r.nbytes),
                                 input_files=(r.path,), exec_stats=None)

            def read_fn(r: StoreRange = r) -> Iterator[Block]:
                return _store_tables(r)

            tasks.append(ReadTask(read_fn, meta, schema=schema,
                                  per_task_row_limit=per_task_row_limit))
        return tasks


def read_store(path: PathArg, *, target_bytes: int = DEFAULT_TARGET_BYTES,
               override_num_blocks: Optional[int] = None, **read_args: Any) -> ray.data.Dataset:
    """The live entries of a DataStore as a Dataset with ``key`` and ``value`` columns;
    read tasks as in ``read_records``."""
    src = StoreDatasource(path, target_bytes=target_bytes,
                          min_splits=override_num_blocks or "auto")
    if override_num_blocks is None:
        want = _want_splits("auto", 1)
        override_num_blocks = max(1, min(want, len(src._plan(want))))
    return ray.data.read_datasource(src, override_num_blocks=override_num_blocks, **read_args)


__all__ = ["RecordsDatasource", "RecordsDatasink", "StoreDatasource", "read_records",
           "write_records", "read_store"]
