"""The Database: DynamoDB-style items in one keel file (docs/DATABASE.md).

``Database`` is KeystoneDB's API (``put``/``get``/``delete`` on a default table whose keys
are bytes, the ``_with_sk`` forms, ``batch_write``, ``batch_get``, ``flush``) plus tables in
DynamoDB's model. The C type ``keeldb._db.Database`` does the work; this module adds only
``Table``, a thin handle naming one table, the ``Database`` methods that return one, and
the unpacking of DynamoDB's TransactItems shape for ``transact_write``/``transact_get``.
``Table``'s per-item methods (``get_item``, ``put_item``, ``delete_item``, ``update_item``)
are its C base's, ``keeldb._db.Table``: one C call per item, no Python frame on the way.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from . import _db
from ._db import Cursor, Vector

__all__ = ["Database", "Table", "Cursor", "Vector"]

KeyDef = Tuple[str, str]

# TransactItems action names -> keel_db_tx_kind, and the members each may hold.
_TX_KINDS = {"Put": 1, "Update": 2, "Delete": 3, "ConditionCheck": 4}
_TX_COMMON = {
    "TableName",
    "ConditionExpression",
    "ExpressionAttributeNames",
    "ExpressionAttributeValues",
    "ReturnValuesOnConditionCheckFailure",
}
_TX_MEMBERS = {
    "Put": _TX_COMMON | {"Item"},
    "Update": _TX_COMMON | {"Key", "UpdateExpression"},
    "Delete": _TX_COMMON | {"Key"},
    "ConditionCheck": _TX_COMMON | {"Key"},
}
_GET_MEMBERS = {"TableName", "Key", "ProjectionExpression", "ExpressionAttributeNames"}


def _one_action(i: int, action: Any, allowed: Mapping[str, Any]) -> Tuple[str, Mapping[str, Any]]:
    """The (name, body) of ``{"Put": {...}}``, checked against ``allowed`` names."""
    if not isinstance(action, Mapping) or len(action) != 1:
        raise _db.ValidationError(
            f"transact item {i}: must be a dict with exactly one of {sorted(allowed)}"
        )
    ((name, body),) = action.items()
    if name not in allowed:
        raise _db.ValidationError(f"transact item {i}: unknown action {name!r}")
    if not isinstance(body, Mapping):
        raise _db.ValidationError(f"transact item {i}: {name} must be a dict")
    extra = set(body) - set(allowed[name])
    if extra:
        raise _db.ValidationError(f"transact item {i}: {name} has unknown members {sorted(extra)}")
    if "TableName" not in body:
        raise _db.ValidationError(f"transact item {i}: {name} needs TableName")
    return name, body


def _ef(ef: Optional[int], exact: bool) -> Optional[int]:
    if exact and ef:
        raise ValueError(f"search: exact=True and ef={ef!r} contradict each other")
    return None if exact else ef


_np: Any = None  # numpy, imported at the first search (it is optional)


def _f32(v: Any, ndim: int) -> Any:
    """``v`` as a C-contiguous float32 array (numpy when available, else array.array)."""
    global _np
    if isinstance(v, Vector):
        return v
    np = _np
    if np is None:
        try:
            import numpy as np
        except ImportError:  # pragma: no cover - numpy is optional
            if ndim != 1:
                raise TypeError("search_batch needs numpy") from None
            import array

            return array.array("f", v)
        _np = np
    if type(v) is np.ndarray and v.dtype == np.float32 and v.ndim == ndim and v.flags.c_contiguous:
        return v  # already what the C layer takes: no conversion per query
    a = np.ascontiguousarray(v, dtype=np.float32)
    if a.ndim != ndim:
        raise _db.ValidationError(f"the query must have {ndim} dimension(s), not {a.ndim}")
    return a


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
        *,
        global_indexes: Optional[Sequence[Mapping[str, Any]]] = None,
        local_indexes: Optional[Sequence[Mapping[str, Any]]] = None,
        vector_indexes: Optional[Sequence[Mapping[str, Any]]] = None,
    ) -> "Table":
        """Create a table; key types are ``"S"``, ``"N"`` or ``"B"``.

        Secondary indexes are dicts ``{"name": ..., "partition_key": (name, type),
        "sort_key": (name, type) | None, "projection": "ALL" | "KEYS_ONLY" | [attr, ...]}``
        (at most 20 global and 5 local; a local index has the table's partition key, which
        it may omit, and a sort key). ``keeldb.TableExistsError`` if it exists,
        ``keeldb.ValidationError`` for a bad name, schema or index.

        Vector indexes are dicts ``{"name", "attribute", "dimensions", "distance":
        "COSINE" | "EUCLIDEAN" | "DOT_PRODUCT", "projection"?, "filter_attributes"?,
        "hash_attribute"?}``; they are added right after the table (see
        ``Table.add_vector_index``).
        """
        _db.Database.create_table(
            self,
            name,
            partition_key,
            sort_key,
            global_indexes=global_indexes,
            local_indexes=local_indexes,
        )
        t = Table(self, name)
        try:
            for v in vector_indexes or ():
                t.add_vector_index(**v)
        except BaseException:
            self.delete_table(name)
            raise
        return t

    def table(self, name: str) -> "Table":
        """The table ``name``; ``keeldb.TableNotFoundError`` (a ``KeyError``) if absent."""
        self.describe_table(name)
        return Table(self, name)

    def transact_write(self, actions: Sequence[Mapping[str, Mapping[str, Any]]]) -> None:
        """TransactWriteItems: 1 to 100 actions in DynamoDB's TransactItems shape.

        Each action is ``{"Put": {"TableName", "Item", ...}}``, ``{"Update": {"TableName",
        "Key", "UpdateExpression", ...}}``, ``{"Delete": {"TableName", "Key", ...}}`` or
        ``{"ConditionCheck": {"TableName", "Key", "ConditionExpression", ...}}``, each with
        optional ``ConditionExpression``, ``ExpressionAttributeNames``,
        ``ExpressionAttributeValues`` (Python values) and
        ``ReturnValuesOnConditionCheckFailure`` (``"ALL_OLD"``). All conditions are checked
        and all writes land as one atomic group, or nothing is written and
        ``keeldb.TransactionCanceled`` is raised with ``.reasons`` (one per action).
        """
        # Plain dicts in this shape are unpacked in C; anything else comes back
        # NotImplemented, unwritten, and is unpacked here, where the checks name the problem.
        if self._transact_write_items(actions) is not NotImplemented:
            return
        flat = []
        for i, action in enumerate(actions):
            name, b = _one_action(i, action, _TX_MEMBERS)
            what = b.get("Item") if name == "Put" else b.get("Key")
            if what is None:
                raise _db.ValidationError(
                    f"transact item {i}: {name} needs {'Item' if name == 'Put' else 'Key'}"
                )
            flat.append(
                (
                    _TX_KINDS[name],
                    b["TableName"],
                    what,
                    b.get("UpdateExpression"),
                    b.get("ConditionExpression"),
                    b.get("ExpressionAttributeNames"),
                    b.get("ExpressionAttributeValues"),
                    b.get("ReturnValuesOnConditionCheckFailure"),
                )
            )
        self._transact_write(flat)

    def transact_get(
        self, gets: Sequence[Mapping[str, Mapping[str, Any]]]
    ) -> List[Optional[Dict[str, Any]]]:
        """TransactGetItems: 1 to 100 ``{"Get": {"TableName", "Key", ...}}`` read as one
        consistent snapshot; the items in order (``None`` where absent), projected by an
        optional ``ProjectionExpression`` (with ``ExpressionAttributeNames``)."""
        flat = []
        for i, g in enumerate(gets):
            _, b = _one_action(i, g, {"Get": _GET_MEMBERS})
            if "Key" not in b:
                raise _db.ValidationError(f"transact item {i}: Get needs Key")
            flat.append(
                (b["TableName"], b["Key"], b.get("ProjectionExpression"),
                 b.get("ExpressionAttributeNames"))
            )
        return self._transact_get(flat)

    def __repr__(self) -> str:
        where = "in memory" if self.in_memory else f"path={self.path!r}"
        flags = (" readonly" if self.readonly else "") + (" closed" if self.closed else "")
        return f"<keeldb.Database {where}{flags}>"


class Table(_db.Table):
    """One table of a Database: items are dicts holding the key attributes.

    ``Table(db, name)``. The per-item methods come from the C base ``keeldb._db.Table``:
    ``get_item(key)``, ``put_item(item, condition=None, names=None, values=None,
    return_values="NONE", return_values_on_condition_check_failure="NONE")``,
    ``delete_item(key, ...)`` (the same options) and ``update_item(key, update=None,
    condition=None, ...)`` (see ``help(keeldb._db.Table)``).
    """

    __slots__ = ()

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
        """The items of one partition in sort-key order (an iterator with ``.last_key``).

        With ``index=``, the partition and sort key are the index's, and the items its
        projections in index order.
        """
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
            index=index,
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
        index: Optional[str] = None,
    ) -> Cursor:
        """Every item (of one segment of a parallel scan), as an iterator; with ``index=``,
        every entry of that secondary index."""
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
            index=index,
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
        """The schema and counts, the secondary indexes and the TTL attribute."""
        d = self._db.describe_table(self._name)
        stats = self._db.table_stats(self._name)
        d["indexes"] = stats["indexes"]
        d["ttl_attribute"] = stats["ttl_attribute"]
        return d

    def add_index(
        self,
        name: str,
        partition_key: KeyDef,
        sort_key: Optional[KeyDef] = None,
        projection: Union[str, Sequence[str]] = "ALL",
    ) -> None:
        """Add a global secondary index; it is built from the items already there before
        this returns (local indexes can only be given to ``create_table``)."""
        self._db.update_table(
            self._name,
            create_index={
                "name": name,
                "partition_key": partition_key,
                "sort_key": sort_key,
                "projection": projection,
            },
        )

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
    ) -> None:
        """Add a vector index over the float32 vectors of ``attribute`` that have
        ``dimensions`` elements (1..4096), searched by ``distance`` (``"COSINE"``,
        ``"EUCLIDEAN"`` or ``"DOT_PRODUCT"``); built from the items already there.
        ``m`` (2..128, default 16) and ``ef_construction`` (1..4096, default 200) shape the
        HNSW graph of approximate searches (``search(..., ef=...)``).

        ``filter_attributes`` and ``hash_attribute`` are DynamoDB's SearchSchema (its
        INLINE_FILTER elements and its one HASH element; the HASH attribute is added to the
        filter attributes when absent). Once indexed, ``attribute`` must be a list of
        ``dimensions`` numbers (stored as a float32 vector) or a float32 vector of that
        length on every write: anything else is a ``keeldb.ValidationError``."""
        filters = list(filter_attributes) if filter_attributes is not None else None
        if hash_attribute is not None and hash_attribute not in (filters or ()):
            filters = (filters or []) + [hash_attribute]
        self._db.create_vector_index(
            self._name, name, attribute, dimensions, distance, projection, filters,
            m, ef_construction, hash_attribute,
        )

    def drop_vector_index(self, name: str) -> None:
        """Drop a vector index."""
        self._db.drop_vector_index(self._name, name)

    def vector_indexes(self) -> List[Dict[str, Any]]:
        """The table's vector indexes (name, attribute, dimensions, distance, projection,
        items, m, ef_construction, and the approximate search's graph: ``graph``
        ("none": not built since open, "loaded": read from its checkpoint in the file,
        "built": built from the items), graph_items, graph_pending (writes the next
        approximate search applies), graph_inserts (since open) and graph_bytes)."""
        return self._db.vector_indexes(self._name)

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
    ) -> List[Tuple[Dict[str, Any], float]]:
        """The ``k`` (1..100) items nearest to ``vector`` (anything numpy turns into float32
        values), best first, as ``(item, score)``: COSINE and EUCLIDEAN scores ascending,
        DOT_PRODUCT descending (DynamoDB's conventions: the DOT_PRODUCT score is the dot
        product itself). ``filter`` is a condition on the items; ``projection`` a
        ProjectionExpression; both see a stored vector as its list of numbers (``v[0] > :x``,
        projection ``v[0]``: each element the shortest decimal that reads back as its
        float32). Whole items' stored vectors come back as zero-copy numpy arrays over the
        file (a ``projection``'s vectors are copies, as a scan's are).

        ``ef`` (1..4096) asks for an approximate search through the index's HNSW graph with
        that beam (larger: better recall, slower); ``None`` or 0, or ``exact=True``, scores
        every item. An approximate search answers exactly anyway below 5,000 items, or when
        the filter keeps few items; scores are always the exact ones, for every distance."""
        return self._db.search(
            self._name, index, _f32(vector, 1), k, filter, values, names, projection,
            _ef(ef, exact),
        )

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
    ) -> List[List[Tuple[Dict[str, Any], float]]]:
        """``search`` for each row of a 2-D array of queries, in one pass over the vectors
        per block of queries."""
        return self._db.search_batch(
            self._name, index, _f32(queries, 2), k, filter, values, names, projection,
            _ef(ef, exact),
        )

    def drop_index(self, name: str) -> None:
        """Drop a secondary index and all its entries."""
        self._db.update_table(self._name, delete_index=name)

    def enable_ttl(self, attribute: str) -> None:
        """Expire items whose ``attribute`` is a number of epoch seconds <= now: they
        vanish from every read at once and are deleted by ``Database.reap_expired()`` (and
        by ``compact()``)."""
        self._db.update_ttl(self._name, attribute)

    def disable_ttl(self) -> None:
        """Stop expiring items (expired ones not yet reaped are visible again)."""
        self._db.update_ttl(self._name, None)

    @property
    def ttl(self) -> Optional[str]:
        """The TTL attribute, or None when TTL is disabled."""
        return self._db.table_stats(self._name)["ttl_attribute"]

    def stats(self) -> Dict[str, Any]:
        """Items and bytes of the table and of each of its indexes, and its TTL attribute."""
        return self._db.table_stats(self._name)

    def __repr__(self) -> str:
        return f"<keeldb.Table {self._name!r}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Table) and other._db is self._db and other._name == self._name

    def __hash__(self) -> int:
        return hash((id(self._db), self._name))
