"""Record files in the Riegeli records container, as Disky writes them (Pisky's API).

RecordWriter/RecordReader for one file, MultiThreadedWriter/MultiThreadedReader for a
directory of shards; records come back as zero-copy ``Bytes`` objects. The C side is
include/keel_records.h; the format is in docs/FORMAT.md.

``RecordReader`` here is a thin Python subclass of the C type: it remembers its path and
corruption strategy so that it pickles as "path plus position" and reopens in the process
that unpickles it (distributed engines ship their sources by pickling). Reading goes
straight to the C methods.
"""
import os
from typing import Any, Tuple

from . import _records
from ._records import (
    BLOCK_SIZE,
    DEFAULT_CHUNK_SIZE,
    Bytes,
    CorruptionStrategy,
    MultiThreadedReader,
    MultiThreadedWriter,
    RecordWriter,
)


def _reopen_reader(path: str, strategy: int, position: int) -> "RecordReader":
    reader = RecordReader(path, strategy)
    if position:
        reader.seek(position)
    return reader


class RecordReader(_records.RecordReader):
    __slots__ = ("_keel_path", "_keel_strategy", "__weakref__")

    def __init__(self, path: Any, corruption_strategy: Any = None) -> None:
        super().__init__(path, corruption_strategy)
        # The C type has parsed both arguments: they are valid here.
        self._keel_path = os.path.abspath(os.fsdecode(os.fspath(path)))
        if isinstance(corruption_strategy, str):
            corruption_strategy = 1 if corruption_strategy == "recover" else 0
        self._keel_strategy = int(corruption_strategy or 0)

    def __reduce__(self) -> Tuple[Any, ...]:
        if self.closed:
            raise TypeError("cannot pickle a closed RecordReader")
        return (_reopen_reader, (self._keel_path, self._keel_strategy, self.tell()))


__all__ = [
    "Bytes",
    "CorruptionStrategy",
    "MultiThreadedReader",
    "MultiThreadedWriter",
    "RecordReader",
    "RecordWriter",
    "BLOCK_SIZE",
    "DEFAULT_CHUNK_SIZE",
]
