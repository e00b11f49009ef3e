# Stubs for keeldb.db: Database (KeystoneDB's API plus tables) and Table.
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from . import _db
from ._db import Cursor as Cursor, Vector as Vector

_KeyDef = Tuple[str, str]

class Database(_db.Database):
    def create_table(  # type: ignore[override]
        self,
        name: str,
        partition_key: _KeyDef,
        sort_key: Optional[_KeyDef] = None,
        *,
        global_indexes: Optional[Sequence[Mapping[str, Any]]] = None,
        local_indexes: Optional[Sequence[Mapping[str, Any]]] = None,
        vector_indexes: Optional[Sequence[Mapping[str, Any]]] = None,
    ) -> Table: ...
    def table(self, name: str) -> Table: ...
    def transact_write(self, actions: Sequence[Mapping[str, Mapping[str, Any]]]) -> None: ...
    def transact_get(
        self, gets: Sequence[Mapping[str, Mapping[str, Any]]]
    ) -> List[Optional[Dict[str, Any]]]: ...

class Table(_db.Table):
    def __new__(cls, db: Database, name: str) -> Table: ...
    @property
    def name(self) -> str: ...
    @property
    def database(self) -> Database: ...
    @property
    def key_schema(self) -> Dict[str, Optional[_KeyDef]]: ...
    # get_item, put_item, delete_item, update_item: the C base's (keeldb._db.Table).
    def query(
        self,
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
    def batch_write(
        self,
        puts: Optional[Sequence[Mapping[str, Any]]] = None,
        deletes: Optional[Sequence[Mapping[str, Any]]] = None,
    ) -> int: ...
    def batch_get(self, keys: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]: ...
    def count(self) -> int: ...
    def add_vector_index(
        self,
        name: str,
        attribute: str,
        dimensions: int,
        distance: str = "COSINE",
        projection: Union[str, Sequence[str], None] = None,
        filter_attributes: Optional[Sequence[str]] = None,
        m: Optional[int] = None,
        ef_construction: Optional[int] = None,
        hash_attribute: Optional[str] = None,
    ) -> None: ...
    def drop_vector_index(self, name: str) -> None: ...
    def vector_indexes(self) -> List[Dict[str, Any]]: ...
    # search, search_batch: filter and projection read a stored vector as its list of
    # numbers (v[0] > :x); scores are the exact path's (DOT_PRODUCT: the dot product,
    # largest first) whether ef is given or not.
    def search(
        self,
        index: str,
        vector: Any,
        k: int,
        filter: Optional[str] = None,
        values: Optional[Mapping[str, Any]] = None,
        names: Optional[Mapping[str, str]] = None,
        projection: Optional[str] = None,
        ef: Optional[int] = None,
        exact: bool = False,
    ) -> List[Tuple[Dict[str, Any], float]]: ...
    def search_batch(
        self,
        index: str,
        queries: Any,
        k: int,
        filter: Optional[str] = None,
        values: Optional[Mapping[str, Any]] = None,
        names: Optional[Mapping[str, str]] = None,
        projection: Optional[str] = None,
        ef: Optional[int] = None,
        exact: bool = False,
    ) -> List[List[Tuple[Dict[str, Any], float]]]: ...
    def add_index(
        self,
        name: str,
        partition_key: _KeyDef,
        sort_key: Optional[_KeyDef] = None,
        projection: Union[str, Sequence[str]] = "ALL",
    ) -> None: ...
    def drop_index(self, name: str) -> None: ...
    def enable_ttl(self, attribute: str) -> None: ...
    def disable_ttl(self) -> None: ...
    @property
    def ttl(self) -> Optional[str]: ...
    def stats(self) -> Dict[str, Any]: ...
    def describe(self) -> Dict[str, Any]: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

__all__ = ["Database", "Table", "Cursor", "Vector"]
