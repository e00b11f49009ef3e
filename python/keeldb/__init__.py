"""keeldb: an embedded single-file append-only key/value store (the keel C engine).

A superset of simd_r_drive's Python API: code written for it runs after
``from keeldb import DataStore``. On top of it: real zero-copy reads (``EntryHandle``
exports the buffer protocol), sharing one store between threads, ``close()`` and context
managers, compaction, iteration, a ``dict``-like interface and a typed error hierarchy.
Also record files in the Riegeli container with Pisky's API (``keeldb.records``), and
DynamoDB-style items in one file with KeystoneDB's API (``keeldb.Database``: code written for
KeystoneDB runs after ``import keeldb as keystonedb``).

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
    RecoveryWarning,
    StoreIOError,
    StoreFileNotFoundError,
    StoreFileExistsError,
    StorePermissionError,
    StoreIterator,
    VersionError,
    engine_version,
    key_hash,
)
from . import _pickle
from .migrate import import_simd_r_drive
from ._db import (
    ConditionalCheckFailed,
    CorruptFileError,
    Cursor,
    DuplicateItemError,
    ExpressionSyntaxError,
    TableExistsError,
    TableNotFoundError,
    TransactionCanceled,
    UnsupportedTypeError,
    ValidationError,
    Vector,
)
from .db import Database, Table
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

from .splits import (
    ChunkInfo,
    RecordRange,
    StoreRange,
    plan_splits,
    plan_store_splits,
    read_range,
    read_ranges,
    read_store_range,
    record_chunks,
)

_pickle.register()

__version__ = "0.1.0"

__all__ = [
    "DataStore",
    "Database",
    "Table",
    "Cursor",
    "Vector",
    "ValidationError",
    "ExpressionSyntaxError",
    "TableNotFoundError",
    "TableExistsError",
    "ConditionalCheckFailed",
    "TransactionCanceled",
    "DuplicateItemError",
    "UnsupportedTypeError",
    "CorruptFileError",
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
    "StoreFileNotFoundError",
    "StoreFileExistsError",
    "StorePermissionError",
    "RecoveryWarning",
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
    "RecordRange",
    "StoreRange",
    "ChunkInfo",
    "plan_splits",
    "read_range",
    "read_ranges",
    "record_chunks",
    "plan_store_splits",
    "read_store_range",
    "Globable",
    "expand_dirs",
    "set_log_level",
    "import_simd_r_drive",
    "__version__",
]
