"""keeldb.dask: record files and stores as Dask bags (``keeldb[dask]``).

``read_records(paths)`` is a ``dask.bag.Bag`` with one partition per record range
(``keeldb.plan_splits``); ``read_store(path)`` one with a partition per entry range of a
DataStore (``keeldb.plan_store_splits``), as ``(key, value)`` pairs. Each partition opens its
file in the worker that computes it. Records are ``bytes``: they travel between processes.

For a dataframe, map the same ranges yourself::

    import dask.dataframe as dd, pandas as pd, keeldb
    ranges = keeldb.plan_splits(paths)
    df = dd.from_map(lambda r: pd.DataFrame({"record": [x.to_bytes() for x in
                                                        keeldb.read_range(r)]}), ranges)
"""

from __future__ import annotations

from typing import Any, Iterable, List, Optional, Tuple, Union

import dask.bag as db

from .splits import (
    DEFAULT_TARGET_BYTES,
    PathArg,
    RecordRange,
    StoreRange,
    plan_splits,
    plan_store_splits,
    read_range,
    read_store_range,
)


def _read_records(ranges: List[RecordRange], strategy: Any) -> List[bytes]:
    return [rec.to_bytes() for r in ranges for rec in read_range(r, corruption_strategy=strategy)]


def _read_entries(ranges: List[StoreRange]) -> List[Tuple[bytes, bytes]]:
    return [kv for r in ranges for kv in read_store_range(r)]


def read_records(paths: Union[PathArg, Iterable[PathArg]], *,
                 target_bytes: int = DEFAULT_TARGET_BYTES, npartitions: Optional[int] = None,
                 corruption_strategy: Any = None) -> db.Bag:
    """A bag of the records (``bytes``), one partition per record range; ``npartitions``
    asks for at least that many ranges."""
    ranges = plan_splits(paths, target_bytes=target_bytes, min_splits=npartitions or 1,
                         corruption_strategy=corruption_strategy)
    if not ranges:
        return db.from_sequence([], npartitions=1)
    return db.from_sequence(ranges, npartitions=len(ranges)).map_partitions(
        _read_records, corruption_strategy)


def read_store(path: PathArg, *, target_bytes: int = DEFAULT_TARGET_BYTES,
               npartitions: Optional[int] = None) -> db.Bag:
    """A bag of a DataStore's live ``(key, value)`` pairs, one partition per entry range."""
    ranges = plan_store_splits(path, target_bytes=target_bytes, min_splits=npartitions or 1)
    if not ranges:
        return db.from_sequence([], npartitions=1)
    return db.from_sequence(ranges, npartitions=len(ranges)).map_partitions(_read_entries)


__all__ = ["read_records", "read_store"]
