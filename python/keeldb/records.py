"""Record files in the Riegeli records container, as Disky writes them (Pisky's API).

RecordWriter/RecordReader for one file, MultiThreadedWriter/MultiThreadedReader for a
directory of shards; records come back as zero-copy ``Bytes`` objects. The C side is
include/keel_records.h; the format is in docs/FORMAT.md.
"""
from ._records import (
    BLOCK_SIZE,
    DEFAULT_CHUNK_SIZE,
    Bytes,
    CorruptionStrategy,
    MultiThreadedReader,
    MultiThreadedWriter,
    RecordReader,
    RecordWriter,
)

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
