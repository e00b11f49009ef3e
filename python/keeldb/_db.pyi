# Stubs for keeldb._db, the C extension behind keeldb.Database (docs/DATABASE.md).
import os
from types import TracebackType
from typing import Any, Dict, final, Iterator, List, Mapping, Optional, Sequence, Tuple, Type, TypeVar, Union

from ._keeldb import CorruptError, Error

_Path = Union[str, bytes, os.PathLike[str], os.PathLike[bytes]]
_Key = Union[bytes, bytearray, memoryview, str]
_KeyDef = Tuple[str, str]
_Self = TypeVar("_Self", bound="Database")

MAX_ITEM: int
MAX_PARTITION_KEY: int
MAX_SORT_KEY: int
MAX_DEPTH: int

class ValidationError(Error, ValueError): ...
class ExpressionSyntaxError(ValidationError): ...
class TableNotFoundError(Error, KeyError): ...
class TableExistsError(Error): ...
class UnsupportedTypeError(ValidationError, TypeError): ...
class CorruptFileError(CorruptError, OSError): ...
class ConditionalCheckFailed(Error):
    item: Optional[Dict[str, Any]]
class TransactionCanceled(Error):
    reasons: List[Dict[str, Any]]
class DuplicateItemError(Error): ...

@final
class Vector:
    def __new__(cls, values: Any) -> Vector: ...
    def __len__(self) -> int: ...
    def __getitem__(self, i: int, /) -> float: ...
    def __buffer__(self, flags: int) -> memoryview: ...
    def tolist(self) -> List[float]: ...
    @property
    def address(self) -> int: ...
    @property
    def zero_copy(self) -> bool: ...

@final
class Cursor(Iterator[Dict[str, Any]]):
    def __iter__(self) -> "Cursor": ...
    def __next__(self) -> Dict[str, Any]: ...
    @property
    def last_key(self) -> Optional[Dict[str, Any]]: ...
    @property
    def scanned_count(self) -> int: ...
    @property
    def done(self) -> bool: ...

class Table:
    def __new__(cls, db: Database, name: str) -> Table: ...
    @property
    def _db(self) -> Database: ...
    @property
    def _name(self) -> str: ...
    def get_item(self, key: Mapping[str, Any]) -> Optional[Dict[str, Any]]: ...
    def put_item(
        self,
        item: Mapping[str, Any],
        condition: Optional[str] = None,
        names: Optional[Mapping[str, str]] = None,
        values: Optional[Mapping[str, Any]] = None,
        return_values: str = "NONE",
        return_values_on_condition_check_failure: str = "NONE",
    ) -> Optional[Dict[str, Any]]: ...
    def delete_item(
        self,
        key: Mapping[str, Any],
        condition: Optional[str] = None,
        names: Optional[Mapping[str, str]] = None,
        values: Optional[Mapping[str, Any]] = None,
        return_values: str = "NONE",
        return_values_on_condition_check_failure: str = "NONE",
    ) -> Optional[Dict[str, Any]]: ...
    def update_item(
        self,
        key: Mapping[str, Any],
        update: Optional[str] = None,
        condition: Optional[str] = None,
        names: Optional[Mapping[str, str]] = None,
        values: Optional[Mapping[str, Any]] = None,
        return_values: str = "NONE",
        return_values_on_condition_check_failure: str = "NONE",
    ) -> Optional[Dict[str, Any]]: ...

class Database:
    def __new__(cls: Type[_Self], path: _Path, *, readonly: bool = False, sync: str = "none") -> _Self: ...
    @classmethod
    def create(cls: Type[_Self], path: _Path, sync: str = "none") -> _Self: ...
    @classmethod
    def open(cls: Type[_Self], path: _Path, readonly: bool = False, sync: str = "none") -> _Self: ...
    @classmethod
    def create_in_memory(cls: Type[_Self]) -> _Self: ...
    def put(self, pk: _Key, item: Mapping[str, Any], sk: Optional[_Key] = None) -> None: ...
    def put_with_sk(self, pk: _Key, sk: _Key, item: Mapping[str, Any]) -> None: ...
    def get(self, pk: _Key, sk: Optional[_Key] = None) -> Optional[Dict[str, Any]]: ...
    def get_with_sk(self, pk: _Key, sk: _Key) -> Optional[Dict[str, Any]]: ...
    def delete(self, pk: _Key, sk: Optional[_Key] = None) -> None: ...
    def delete_with_sk(self, pk: _Key, sk: _Key) -> None: ...
    def batch_write(
        self,
        puts: Optional[Sequence[Union[Tuple[_Key, Mapping[str, Any]], Tuple[_Key, _Key, Mapping[str, Any]]]]] = None,
        deletes: Optional[Sequence[Union[_Key, Tuple[_Key, _Key]]]] = None,
    ) -> int: ...
    def batch_get(self, keys: Sequence[Union[_Key, Tuple[_Key, _Key]]], /) -> Dict[Any, Dict[str, Any]]: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...
    def compact(self) -> None: ...
    def verify(self) -> int: ...
    def stats(self) -> Dict[str, Any]: ...
    def create_table(
        self,
        name: str,
        partition_key: _KeyDef,
        sort_key: Optional[_KeyDef] = None,
        global_indexes: Optional[Sequence[Mapping[str, Any]]] = None,
        local_indexes: Optional[Sequence[Mapping[str, Any]]] = None,
    ) -> Any: ...
    def update_table(
        self,
        table: str,
        *,
        create_index: Optional[Mapping[str, Any]] = None,
        delete_index: Optional[str] = None,
    ) -> None: ...
    def update_ttl(self, table: str, attribute: Optional[str]) -> None: ...
    def set_clock(self, now: Optional[int], /) -> None: ...
    def reap_expired(self, table: Optional[str] = None, max: Optional[int] = None) -> int: ...
    def table_stats(self, table: str, /) -> Dict[str, Any]: ...
    def create_vector_index(
        self,
        table: str,
        name: str,
        attribute: str,
        dimensions: int,
        /,
        distance: str = "COSINE",
        projection: Union[str, Sequence[str], None] = None,
        filter_attributes: Optional[Sequence[str]] = None,
        m: Optional[int] = None,
        ef_construction: Optional[int] = None,
        hash_attribute: Optional[str] = None,
    ) -> None: ...
    def drop_vector_index(self, table: str, name: str, /) -> None: ...
    def vector_indexes(self, table: str, /) -> List[Dict[str, Any]]: ...
    def search(
        self,
        table: str,
        index: str,
        vector: Any,
        k: int,
        /,
        filter: Optional[str] = None,
        values: Optional[Mapping[str, Any]] = None,
        names: Optional[Mapping[str, str]] = None,
        projection: Optional[str] = None,
        ef: Optional[int] = None,
    ) -> List[Tuple[Dict[str, Any], float]]: ...
    def search_batch(
        self,
        table: str,
        index: str,
        queries: Any,
        k: int,
        /,
        filter: Optional[str] = None,
        values: Optional[Mapping[str, Any]] = None,
        names: Optional[Mapping[str, str]] = None,
        projection: Optional[str] = None,
        ef: Optional[int] = None,
    ) -> List[List[Tuple[Dict[str, Any], float]]]: ...
    def delete_table(self, name: str, /) -> None: ...
    def describe_table(self, name: str, /) -> Dict[str, Any]: ...
    def list_tables(self) -> List[str]: ...
    def put_item(
        self,
        table: str,
        item: Mapping[str, Any],
        condition: Optional[str] = None,
        names: Optional[Mapping[str, str]] = None,
        values: Optional[Mapping[str, Any]] = None,
        return_values: Optional[str] = "NONE",
        return_values_on_condition_check_failure: Optional[str] = "NONE",
    ) -> Optional[Dict[str, Any]]: ...
    def get_item(self, table: str, key: Mapping[str, Any]) -> Optional[Dict[str, Any]]: ...
    def delete_item(
        self,
        table: str,
        key: Mapping[str, Any],
        condition: Optional[str] = None,
        names: Optional[Mapping[str, str]] = None,
        values: Optional[Mapping[str, Any]] = None,
        return_values: Optional[str] = "NONE",
        return_values_on_condition_check_failure: Optional[str] = "NONE",
    ) -> Optional[Dict[str, Any]]: ...
    def update_item(
        self,
        table: str,
        key: Mapping[str, Any],
        update: Optional[str] = None,
        condition: Optional[str] = None,
        names: Optional[Mapping[str, str]] = None,
        values: Optional[Mapping[str, Any]] = None,
        return_values: Optional[str] = "NONE",
        return_values_on_condition_check_failure: Optional[str] = "NONE",
    ) -> Optional[Dict[str, Any]]: ...
    def _transact_write(self, actions: Sequence[Tuple[Any, ...]], /) -> None: ...
    def _transact_write_items(self, actions: Sequence[Mapping[str, Mapping[str, Any]]], /) -> Any: ...
    def execute(
        self, statement: str, parameters: Optional[Sequence[Any]] = None, limit: Optional[int] = None
    ) -> List[Dict[str, Any]]: ...
    def batch_execute(self, statements: Sequence[Any], /) -> List[Dict[str, Any]]: ...
    def _transact_get(self, gets: Sequence[Tuple[Any, ...]], /) -> List[Optional[Dict[str, Any]]]: ...
    def batch_write_items(
        self,
        table: str,
        puts: Optional[Sequence[Mapping[str, Any]]] = None,
        deletes: Optional[Sequence[Mapping[str, Any]]] = None,
    ) -> int: ...
    def batch_get_items(self, table: str, keys: Sequence[Mapping[str, Any]]) -> List[Dict[str, Any]]: ...
    def count(self, table: str, /) -> int: ...
    def _dynamo_handle(self, operation: str, body: Union[bytes, bytearray, memoryview], /) -> Tuple[int, bytes, str]: ...
    def query(
        self,
        table: str,
        key_condition: str,
        *,
        values: Optional[Mapping[str, Any]] = None,
        names: Optional[Mapping[str, str]] = None,
        filter: Optional[str] = None,
        projection: Optional[str] = None,
        forward: bool = True,
        limit: Optional[int] = None,
        start_key: Optional[Mapping[str, Any]] = None,
        index: Optional[str] = None,
    ) -> Cursor: ...
    def scan(
        self,
        table: str,
        *,
        filter: Optional[str] = None,
        values: Optional[Mapping[str, Any]] = None,
        names: Optional[Mapping[str, str]] = None,
        projection: Optional[str] = None,
        limit: Optional[int] = None,
        start_key: Optional[Mapping[str, Any]] = None,
        segment: Optional[int] = None,
        total_segments: Optional[int] = None,
        index: Optional[str] = None,
    ) -> Cursor: ...
    @property
    def path(self) -> Optional[str]: ...
    @property
    def closed(self) -> bool: ...
    @property
    def readonly(self) -> bool: ...
    @property
    def in_memory(self) -> bool: ...
    def __enter__(self: _Self) -> _Self: ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...

def _encode(value: Any, /) -> bytes: ...
def _decode(data: Any, /) -> Any: ...
