"""keeldb.dask: record files and stores as Dask bags (keeldb[dask])."""

from typing import Any, Iterable, Optional, Union

from dask.bag import Bag

from .splits import PathArg

def read_records(paths: Union[PathArg, Iterable[PathArg]], *, target_bytes: int = ...,
                 npartitions: Optional[int] = None, corruption_strategy: Any = None) -> Bag: ...
def read_store(path: PathArg, *, target_bytes: int = ...,
               npartitions: Optional[int] = None) -> Bag: ...

__all__ = ["read_records", "read_store"]
