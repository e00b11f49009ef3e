"""Pickling of keeldb's handles (registered with copyreg when keeldb is imported).

Distributed engines ship work to other processes by pickling it, and a handle is an open
file, a mapping and locks: none of that can travel. So a handle pickles as what it takes to
open it again ("path plus position") and the unpickling process opens its own:

- ``DataStore``: path and mode. A writable store reopened elsewhere takes the writer lock
  there, so while the original is open it fails with ``LockedError`` (one writer per
  file); pickle a ``DataStore(path, readonly=True)`` to fan reads out.
- ``RecordReader``: path, corruption strategy and position (keeldb/records.py).
- ``Bytes``: its bytes (keeldb._records).
- Writers of record files (``RecordWriter``, ``MultiThreadedWriter``) and the sharded
  ``MultiThreadedReader`` refuse with a TypeError that says what to do instead: a record
  file has one writer, and a worker writes its own file.
"""
from __future__ import annotations

import copyreg
import os
from typing import Any, NoReturn, Tuple

from ._keeldb import DataStore
from .records import MultiThreadedReader, MultiThreadedWriter, RecordWriter


def _reopen_store(path: str, readonly: bool) -> DataStore:
    return DataStore(path, readonly=readonly, create=False)


def _reduce_store(store: DataStore) -> Tuple[Any, ...]:
    if store.closed:
        raise TypeError("cannot pickle a closed DataStore")
    return (_reopen_store, (os.path.abspath(store.path), store.readonly))


def _refuse(what: str, instead: str) -> Any:
    def reduce(obj: object) -> NoReturn:
        raise TypeError(f"cannot pickle a {what}: {instead}")
    return reduce


def register() -> None:
    copyreg.pickle(DataStore, _reduce_store)
    copyreg.pickle(RecordWriter, _refuse(
        "RecordWriter", "a record file has one writer; give each worker its own file "
        "(keeldb.ray.write_records does) and pickle the path"))
    copyreg.pickle(MultiThreadedWriter, _refuse(
        "MultiThreadedWriter", "its shards have one writer each; pickle the directory"))
    copyreg.pickle(MultiThreadedReader, _refuse(
        "MultiThreadedReader", "pickle keeldb.plan_splits(paths) instead and read each "
        "range with keeldb.read_range"))
