"""keeldb.grain: record files as a Grain ``RandomAccessDataSource``.

``RecordsDataSource(paths)`` numbers the records of several files one after the other
(a global index) and reads record ``i`` with random access. Grain needs no import here: a
data source is anything with ``__len__`` and ``__getitem__`` that pickles (Grain's worker
processes are spawned and receive the source pickled), so this module works without grain
installed and ``pip install keeldb[grain]`` only brings grain itself.

- The per-file record counts come from each file's ArrayRecord footer when it has one (one
  read at the end of the file, no walk through the data; ``keeldb.record_chunks``), else
  from a walk over the chunk headers; both happen once, in the process that builds the
  source.
- Readers are opened lazily, one per file per process, and dropped when the source is
  pickled, so each worker opens its own. A process forked from one that had readers open
  opens new ones too (the pid is checked).
- ``__getitem__`` is thread-safe (each reader serializes its calls) and deterministic.
  ``_getitems`` (Grain's batched read) and ``__getitems__`` (PyTorch's) read a batch with
  one call per record but no per-record dispatch in Grain's pipeline.
- Records come back as ``bytes`` (as array_record's source returns them), or as zero-copy
  ``keeldb.Bytes`` with ``zero_copy=True``.

Random access decodes the chunk holding the record (the reader keeps the last one), so
files written for random access use small groups: ``RecordWriter(path, array_record=True,
group_size=1)`` to read one record per chunk, larger groups when reads are mostly in order.
"""

from __future__ import annotations

import bisect
import os
import threading
from typing import Any, Dict, Iterable, List, Sequence, Tuple, Union

from .records import Bytes, RecordReader
from .splits import PathArg, _as_paths, record_chunks

Record = Union[bytes, Bytes]


class RecordsDataSource:
    """Grain ``RandomAccessDataSource`` over the records of one or more record files."""

    def __init__(self, paths: Union[PathArg, Iterable[PathArg]], *,
                 corruption_strategy: Any = None, zero_copy: bool = False) -> None:
        self._paths: List[str] = _as_paths(paths)
        self._strategy = corruption_strategy
        self._zero_copy = bool(zero_copy)
        starts = [0]
        for p in self._paths:
            _, chunks = record_chunks(p, corruption_strategy=corruption_strategy)
            starts.append(starts[-1] + sum(c.num_records for c in chunks))
        self._starts: List[int] = starts
        self._local_init()

    def _local_init(self) -> None:
        self._pid = os.getpid()
        self._readers: Dict[int, RecordReader] = {}
        self._open_lock = threading.Lock()

    # ---- pickling: paths and counts travel, readers do not --------------------------------

    def __getstate__(self) -> Dict[str, Any]:
        return {"paths": self._paths, "strategy": self._strategy,
                "zero_copy": self._zero_copy, "starts": self._starts}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self._paths = state["paths"]
        self._strategy = state["strategy"]
        self._zero_copy = state["zero_copy"]
        self._starts = state["starts"]
        self._local_init()

    # ---- the protocol ------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._starts[-1]

    def __repr__(self) -> str:
        return (f"RecordsDataSource(paths={self._paths!r}, num_records={len(self)}, "
                f"zero_copy={self._zero_copy})")

    @property
    def paths(self) -> List[str]:
        return list(self._paths)

    def locate(self, index: int) -> Tuple[str, int]:
        """The file and the record index within it of global record ``index``."""
        f, i = self._locate(index)
        return self._paths[f], i

    def _locate(self, index: int) -> Tuple[int, int]:
        n = self._starts[-1]
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"record {index} is out of range ({n} records)")
        f = bisect.bisect_right(self._starts, index) - 1
        return f, index - self._starts[f]

    def _reader(self, f: int) -> RecordReader:
        if self._pid != os.getpid():        # forked: never share the parent's readers
            self._local_init()
        r = self._readers.get(f)
        if r is None:
            with self._open_lock:
                r = self._readers.get(f)
                if r is None:
                    r = RecordReader(self._paths[f], self._strategy)
                    self._readers[f] = r
        return r

    def __getitem__(self, index: int) -> Record:
        f, i = self._locate(index)
        rec = self._reader(f)[i]
        return rec if self._zero_copy else rec.to_bytes()

    def _getitems(self, indices: Sequence[int]) -> List[Record]:
        out: List[Record] = []
        append = out.append
        starts = self._starts
        n = starts[-1]
        last_f, lo, hi, reader = -1, 0, 0, None
        for index in indices:
            if index < 0:
                index += n
            if not lo <= index < hi:
                f, _ = self._locate(index)
                last_f, lo, hi = f, starts[f], starts[f + 1]
                reader = self._reader(last_f)
            assert reader is not None
            rec = reader[index - lo]
            append(rec if self._zero_copy else rec.to_bytes())
        return out

    __getitems__ = _getitems

    def close(self) -> None:
        """Close the readers this process opened (they reopen on the next read)."""
        readers, self._readers = self._readers, {}
        for r in readers.values():
            r.close()

    def __del__(self) -> None:
        try:
            if getattr(self, "_pid", None) == os.getpid():
                self.close()
        except Exception:
            pass


__all__ = ["RecordsDataSource"]
