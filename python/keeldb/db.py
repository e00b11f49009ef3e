"""The Database: DynamoDB-style items in one keel file (docs/DATABASE.md).

``Database`` is KeystoneDB's API (``put``/``get``/``delete`` on a default table whose keys
are bytes, the ``_with_sk`` forms, ``batch_write``, ``batch_get``, ``flush``) plus tables in
DynamoDB's model. The C type ``keeldb._db.Database`` does the work; this module adds only
``Table``, a thin handle naming one table, and the ``Database`` methods that return one.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from . import _db
from ._db import Cursor, Vector

__all__ = ["Database", "Table", "Cursor", "Vector"]

KeyDef = Tuple[str, str]


class Database(_db.Database):
    """DynamoDB-style items in one keel file (KeystoneDB's API plus tables).

    ``Database(path, *, readonly=False, sync="none")`` opens the file, creating it when
    missing; ``Database.create(path)`` (``FileExistsError`` if it exists),
    ``Database.open(path)`` (``FileNotFoundError``; ``keeldb.CorruptFileError``, an
    ``OSError``, when damaged) and ``Database.create_in_memory()``.
    """

    __slots__ = ()

    def create_table(  # type: ignore[override]
        self,
        name: str,
        partition_key: KeyDef,
        sort_key: Optional[KeyDef] = None,
    ) -> "Table":
        """Create a table; key types are ``"S"``, ``"N"`` or ``"B"``.

        ``keeldb.TableExistsError`` if it exists, ``keeldb.ValidationError`` for a bad name
        or schema.
        """
        _db.Database.create_table(self, name, partition_key, sort_key)
        return Table(self, name)

    def table(self, name: str) -> "Table":
        """The table ``name``; ``keeldb.TableNotFoundError`` (a ``KeyError``) if absent."""
        self.describe_table(name)
        return Table(self, name)

    def __repr__(self) -> str:
        where = "in memory" if self.in_memory else f"path={self.path!r}"
        flags = (" readonly" if self.readonly else "") + (" closed" if self.closed else "")
        return f"<keeldb.Database {where}{flags}>"


class Table:
    """One table of a Database: items are dicts holding the key attributes."""

    __slots__ = ("_db", "_name")

    def __init__(self, db: Database, name: str) -> None:
        self._db = db
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def database(self) -> Database:
        return self._db

    @property
    def key_schema(self) -> Dict[str, Optional[KeyDef]]:
        """``{"partition_key": (name, type), "sort_key": (name, type) or None}``."""
        d = self._db.describe_table(self._name)
        return {"partition_key": d["partition_key"], "sort_key": d["sort_key"]}

    def put_item(self, item: Mapping[str, Any]) -> None:
        """Store ``item``, replacing any item with its key."""
        self._db.put_item(self._name, item)

    def get_item(self, key: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
        """The item with this key (a dict of exactly the key attributes), or ``None``."""
        return self._db.get_item(self._name, key)

    def delete_item(self, key: Mapping[str, Any]) -> None:
        """Delete the item with this key; absent is not an error."""
        self._db.delete_item(self._name, key)

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
    ) -> Cursor:
        """The items of one partition in sort-key order (an iterator with ``.last_key``)."""
        if index is not None:
            raise _db.ValidationError(
                f"query: no index named {index!r} (tables have no secondary indexes yet)"
            )
        return self._db.query(
            self._name,
            key_condition,
            values=values,
            names=names,
            filter=filter,
            projection=projection,
            forward=forward,
            limit=limit,
            start_key=start_key,
        )

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
    ) -> Cursor:
        """Every item (of one segment of a parallel scan), as an iterator."""
        return self._db.scan(
            self._name,
            filter=filter,
            values=values,
            names=names,
            projection=projection,
            limit=limit,
            start_key=start_key,
            segment=segment,
            total_segments=total_segments,
        )

    def batch_write(
        self,
        puts: Optional[Sequence[Mapping[str, Any]]] = None,
        deletes: Optional[Sequence[Mapping[str, Any]]] = None,
    ) -> int:
        """One atomic write of items and keys; returns how many writes."""
        return self._db.batch_write_items(self._name, puts, deletes)

    def batch_get(self, keys: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]:
        """The items found, in the order of the keys."""
        return self._db.batch_get_items(self._name, list(keys))

    def count(self) -> int:
        """The number of items."""
        return self._db.count(self._name)

    def describe(self) -> Dict[str, Any]:
        """The schema and counts."""
        return self._db.describe_table(self._name)

    def __repr__(self) -> str:
        return f"<keeldb.Table {self._name!r}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Table) and other._db is self._db and other._name == self._name

    def __hash__(self) -> int:
        return hash((id(self._db), self._name))
