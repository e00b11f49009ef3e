"""keeldb.ray: record files and stores as Ray Data sources and sinks (keeldb[ray])."""

from typing import Any, Dict, Iterable, Iterator, List, Optional, Union

import ray.data
from ray.data.datasource import Datasink, Datasource, ReadTask

from .splits import PathArg, RecordRange, StoreRange

ROWS_PER_BLOCK: int
BLOCK_BYTES: int
STORE_ROWS_PER_BLOCK: int
READ_TASKS_PER_CPU: int
TASK_BYTES: int

class RecordsDatasource(Datasource):
    def __init__(self, paths: Union[PathArg, Iterable[PathArg]], *, target_bytes: int = ...,
                 include_paths: bool = False, column: str = "record",
                 corruption_strategy: Any = None, min_splits: Union[int, str, None] = None) -> None: ...
    def get_name(self) -> str: ...
    def estimate_inmemory_data_size(self) -> Optional[int]: ...
    def get_read_tasks(self, parallelism: int, per_task_row_limit: Optional[int] = None,
                       data_context: Any = None) -> List[ReadTask]: ...

class RecordsDatasink(Datasink[Optional[Dict[str, Any]]]):
    dir: str
    column: str
    array_record: bool
    group_size: int
    compression: Optional[str]
    prefix: str
    written: List[str]
    def __init__(self, path: PathArg, *, column: str = "record", array_record: bool = True,
                 group_size: int = 65536, compression: Optional[str] = None,
                 prefix: str = "part") -> None: ...
    def get_name(self) -> str: ...
    def on_write_start(self, schema: Any = None) -> None: ...
    def write(self, blocks: Iterable[Any], ctx: Any) -> Optional[Dict[str, Any]]: ...
    def on_write_complete(self, write_result: Any) -> None: ...
    def on_write_failed(self, error: Exception) -> None: ...

class StoreDatasource(Datasource):
    def __init__(self, path: PathArg, *, target_bytes: int = ...,
                 min_splits: Union[int, str, None] = None) -> None: ...
    def get_name(self) -> str: ...
    def estimate_inmemory_data_size(self) -> Optional[int]: ...
    def get_read_tasks(self, parallelism: int, per_task_row_limit: Optional[int] = None,
                       data_context: Any = None) -> List[ReadTask]: ...

def read_records(paths: Union[PathArg, Iterable[PathArg]], *, target_bytes: int = ...,
                 include_paths: bool = False, column: str = "record",
                 corruption_strategy: Any = None, override_num_blocks: Optional[int] = None,
                 **read_args: Any) -> ray.data.Dataset: ...
def write_records(dataset: ray.data.Dataset, path: PathArg, *, column: str = "record",
                  array_record: bool = True, group_size: int = 65536,
                  compression: Optional[str] = None, prefix: str = "part",
                  **write_args: Any) -> List[str]: ...
def read_store(path: PathArg, *, target_bytes: int = ...,
               override_num_blocks: Optional[int] = None, **read_args: Any) -> ray.data.Dataset: ...
def _record_tables(r: RecordRange, include_paths: bool, column: str,
                   strategy: Any) -> Iterator[Any]: ...
def _store_tables(r: StoreRange) -> Iterator[Any]: ...
def _want_splits(min_splits: Union[int, str, None], parallelism: int,
                 total_bytes: int = 0) -> int: ...

__all__ = ["RecordsDatasource", "RecordsDatasink", "StoreDatasource", "read_records",
           "write_records", "read_store"]
