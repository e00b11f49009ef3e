"""keeldb: an embedded single-file append-only key/value store (the keel C engine).

A superset of simd_r_drive's Python API: code written for it runs after
``from keeldb import DataStore``. On top of it: real zero-copy reads (``EntryHandle``
exports the buffer protocol), sharing one store between threads, ``close()`` and context
managers, compaction, iteration, a ``dict``-like interface and a typed error hierarchy.
Also record files in the Riegeli container with Pisky's API (``keeldb.records``).

    >>> from keeldb import DataStore
    >>> with DataStore("example.keel") as store:          # doctest: +SKIP
    ...     store[b"k"] = b"v"
    ...     store.read(b"k")
    b'v'
"""

from ._keeldb import (
    FORMAT_MAJOR,
    FORMAT_MINOR,
    MAX_KEY,
    CorruptError,
    DataStore,
    EntryHandle,
    EntryStream,
    Error,
    FormatError,
    LockedError,
    NamespaceHasher,
    ReadOnlyError,
    StoreIOError,
    StoreIterator,
    VersionError,
    engine_version,
    key_hash,
)
from .migrate import import_simd_r_drive
from .records import (
    Bytes,
    CorruptionStrategy,
    Globable,
    expand_dirs,
    set_log_level,
    MultiThreadedReader,
    MultiThreadedWriter,
    RecordReader,
    RecordWriter,
)

__version__ = "0.1.0"

__all__ = [
    "DataStore",
    "EntryHandle",
    "EntryStream",
    "StoreIterator",
    "NamespaceHasher",
    "Error",
    "CorruptError",
    "FormatError",
    "VersionError",
    "LockedError",
    "ReadOnlyError",
    "StoreIOError",
    "key_hash",
    "engine_version",
    "MAX_KEY",
    "FORMAT_MAJOR",
    "FORMAT_MINOR",
    "RecordWriter",
    "RecordReader",
    "MultiThreadedWriter",
    "MultiThreadedReader",
    "Bytes",
    "CorruptionStrategy",
    "Globable",
    "expand_dirs",
    "set_log_level",
    "import_simd_r_drive",
    "__version__",
]
