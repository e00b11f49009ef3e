"""keeldb.Database: every method, its errors, and bad input on every entry point.

A failing call must raise the documented exception and write nothing: each error test
checks the file's statistics (or the items) before and after.
"""

from __future__ import annotations

import decimal
import gc
import inspect
import math
from pathlib import Path
from typing import Any, Iterator

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

import keeldb
from keeldb import _db


@pytest.fixture
def dbpath(tmp_path: Path) -> Path:
    return tmp_path / "items.keel"


@pytest.fixture
def db(dbpath: Path) -> Iterator[keeldb.Database]:
    d = keeldb.Database.create(dbpath)
    try:
        yield d
    finally:
        gc.collect()
        try:
            d.close()
        except BufferError:
            pass


@pytest.fixture
def events(db: keeldb.Database) -> keeldb.Table:
    return db.create_table("events", partition_key=("device", "S"), sort_key=("ts", "N"))


def unchanged(db: keeldb.Database) -> tuple[int, int]:
    s = db.stats()
    return s["file_size"], s["entries"]


# ---- values: the converters alone ----------------------------------------------------------

ROUND_TRIP = [
    "", "héllo", "\U0001f600", b"", b"\x00\xff", True, False, None,
    0, 1, -1, 23, 24, 255, 256, 65535, 65536, 2**32, 2**63 - 1, -(2**63), 2**64 - 1, -(2**64),
    2**64, -(2**64) - 1, 10**37, 10**100, -(10**100),
    1.0, -0.0, 0.0, 3.14, 1e300, 5e-324, -1.5e-200,
    decimal.Decimal("1.50"), decimal.Decimal("-0.001"), decimal.Decimal("1E+5"),
    decimal.Decimal("12345678901234567890123456789012345678"),
    [], [1, "two", b"three", [None]], {}, {"a": {"b": {"c": [1, 2.5]}}},
    {"x", "y"}, {1, 2.5}, {b"a", b"b"}, {decimal.Decimal("1.1")},
]


def _stable_id(value: Any) -> str:
    """repr, with a set's members sorted: every pytest-xdist worker must collect the same ids,
    and a set of str's repr follows the per-process hash seed."""
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(sorted(map(repr, value))) + "}"
    return repr(value)


@pytest.mark.parametrize("value", ROUND_TRIP, ids=_stable_id)
def test_value_round_trip(value: Any) -> None:
    back = _db._decode(_db._encode(value))
    assert back == value
    assert type(back) is type(value) or (type(value) is frozenset and type(back) is set)
    if isinstance(value, float):
        assert math.copysign(1.0, back) == math.copysign(1.0, value)
    if isinstance(value, decimal.Decimal):
        assert back.as_tuple() == value.as_tuple()


@given(st.decimals(allow_nan=False, allow_infinity=False))
@settings(max_examples=300, deadline=None)
def test_decimal_round_trip_exact(d: decimal.Decimal) -> None:
    back = _db._decode(_db._encode(d))
    assert back == d
    if not d.is_zero():
        assert back.as_tuple() == d.as_tuple()
    else:
        assert back.as_tuple().exponent == d.as_tuple().exponent


@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text() | st.binary(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20))
@settings(max_examples=300, deadline=None)
def test_any_value_round_trips(v: Any) -> None:
    back = _db._decode(_db._encode(v))
    assert back == v and repr(back) == repr(v)  # repr: -0.0 and 1.0 stay themselves


@pytest.mark.parametrize("text", ["-0", "0E-5", "1E+5", "-1.5E-7", "12345678901234567890",
                                  "-98765432109876543210.123", "0.000", "1e-130", "9.99E+125",
                                  "123456789012345678", "-123456789012345678", "1234567890123456789"])
def test_decimal_forms(text: str) -> None:
    d = decimal.Decimal(text)
    back = _db._decode(_db._encode(d))
    assert back == d and (d.is_zero() or back.as_tuple() == d.as_tuple())


def test_value_conversions_that_change_type() -> None:
    assert _db._decode(_db._encode((1, 2))) == [1, 2]
    assert _db._decode(_db._encode(bytearray(b"ab"))) == b"ab"
    assert _db._decode(_db._encode(memoryview(b"ab"))) == b"ab"
    assert type(_db._decode(_db._encode(frozenset({"a"})))) is set
    assert _db._decode(_db._encode(np.int64(7))) == 7


def test_encoding_is_the_documented_cbor() -> None:
    assert _db._encode(1.0) == b"\xfb" + bytes.fromhex("3ff0000000000000")
    assert _db._encode(-0.0) == bytes.fromhex("fb8000000000000000")
    assert _db._encode(2**64) == bytes.fromhex("c249010000000000000000")  # tag 2 bignum
    assert _db._encode(decimal.Decimal("1.50")) == bytes.fromhex("c482211896")  # tag 4
    assert _db._encode({"a"}) == bytes.fromhex("d901028161" + "61")  # tag 258
    v = np.array([1.0], dtype=np.float32)
    assert _db._encode(v) == bytes.fromhex("d855" + "44" + "0000803f")  # tag 85, f32 LE


def test_vectors_encode_from_numpy_and_vector() -> None:
    for v in (np.arange(5, dtype=np.float32), np.arange(10, dtype=np.float32)[::2],
              keeldb.Vector([0.0, 1.0, 2.0, 3.0, 4.0])):
        back = _db._decode(_db._encode(v))
        assert isinstance(back, np.ndarray) and back.dtype == np.float32
        assert back.tolist() == list(np.asarray(v, dtype=np.float32)) or len(back) == len(v)
        assert not back.flags.writeable


def test_attribute_names_many_long_and_unicode() -> None:
    # The decoder caches attribute names by a hash slot: collisions, long names and non-ASCII
    # names must all come back exactly.
    item = {f"attr{i}": i for i in range(3000)}
    item.update({"x" * 47: 1, "y" * 48: 2, "z" * 49: 3, "é": 4, "名前": 5, "": 6})
    for _ in range(2):
        assert _db._decode(_db._encode(item)) == item
    names = [f"n{i}" for i in range(2000)]
    for n in names:
        assert _db._decode(_db._encode({n: n})) == {n: n}


def test_padding_pairs_are_skipped() -> None:
    # {"a": 1, 0: h'0000', "b": 2}: an unsigned-integer key and its byte string are padding.
    raw = bytes.fromhex("a3" "6161" "01" "00" "420000" "6162" "02")
    assert _db._decode(raw) == {"a": 1, "b": 2}


@pytest.mark.parametrize("value", [
    object(), 1j, np.array([1, 2], dtype=np.int32), np.zeros((2, 2), dtype=np.float32),
    {1: "int key"}, {("t",): 1}, {frozenset({1})}, {None}, {True},
], ids=lambda v: type(v).__name__)
def test_unsupported_types(value: Any) -> None:
    with pytest.raises(keeldb.UnsupportedTypeError) as e:
        _db._encode(value)
    assert isinstance(e.value, TypeError) and isinstance(e.value, ValueError)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, decimal.Decimal("NaN"),
                                   decimal.Decimal("sNaN"), decimal.Decimal("-NaN"),
                                   decimal.Decimal("Infinity"), decimal.Decimal("-Infinity")])
def test_nan_and_infinity_are_value_errors(value: Any) -> None:
    with pytest.raises(ValueError, match="NaN or infinity"):
        _db._encode({"x": value})


def test_cycles_stop() -> None:
    a: list[Any] = []
    a.append(a)
    with pytest.raises(keeldb.ValidationError, match="nested"):
        _db._encode(a)


@pytest.mark.parametrize("raw", ["", "a1", "a16161", "5f", "9f", "f7", "d9ffff00", "a1f500",
                                 "6161ff", "1c", "c280", "61ff", "a161ff01", "d9010281" "8101"])
def test_malformed_cbor_is_corrupt_error(raw: str) -> None:
    with pytest.raises(keeldb.CorruptError):
        _db._decode(bytes.fromhex(raw))


@given(st.binary(max_size=64), st.data())
@settings(max_examples=500, deadline=None)
def test_decoder_survives_any_bytes(raw: bytes, data: st.DataObject) -> None:
    # Random bytes, and valid items with a byte changed or cut: a value or CorruptError.
    item = _db._encode({"a": [1, {"b": b"x" * 30}], "n": 2**70, "d": decimal.Decimal("1.5"),
                        "s": {"x"}, "v": keeldb.Vector([1.0, 2.0])})
    pos = data.draw(st.integers(0, len(item) - 1))
    mutated = item[:pos] + bytes([data.draw(st.integers(0, 255))]) + item[pos + 1:]
    for candidate in (raw, mutated, item[:pos]):
        try:
            _db._decode(candidate)
        except keeldb.CorruptError:
            pass


# ---- opening and closing ----------------------------------------------------------------------

def test_create_open_and_path_forms(tmp_path: Path) -> None:
    p = tmp_path / "a.keel"
    with keeldb.Database.create(str(p)) as d:
        assert isinstance(d, keeldb.Database)
        d.put(b"k", {"v": 1})
        assert d.path == str(p) and not d.closed and not d.in_memory
    assert d.closed
    with keeldb.Database.open(p) as d:
        assert d.get(b"k") == {"v": 1}
    with keeldb.Database(p, readonly=True) as d:
        assert d.readonly and d.get(b"k") == {"v": 1}
        with pytest.raises(keeldb.ReadOnlyError):
            d.put(b"k", {"v": 2})
    with keeldb.Database(tmp_path / "new.keel", sync="data") as d:
        d.put(b"x", {})
        d.flush()


def test_create_existing_is_file_exists_error(dbpath: Path) -> None:
    keeldb.Database.create(dbpath).close()
    with pytest.raises(FileExistsError) as e:
        keeldb.Database.create(dbpath)
    assert e.value.filename == str(dbpath)


def test_open_missing_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        keeldb.Database.open(tmp_path / "missing.keel")
    assert not (tmp_path / "missing.keel").exists()
    with pytest.raises(FileNotFoundError):
        keeldb.Database(tmp_path / "missing.keel", readonly=True)


def test_open_a_datastore_is_format_error(tmp_path: Path) -> None:
    p = tmp_path / "store.keel"
    with keeldb.DataStore(p) as s:
        s.write(b"k", b"v")
    before = p.read_bytes()
    with pytest.raises(keeldb.FormatError):
        keeldb.Database.open(p)
    assert p.read_bytes() == before
    with keeldb.Database.create(tmp_path / "db.keel"):
        pass
    with pytest.raises(keeldb.FormatError):
        keeldb.DataStore(tmp_path / "db.keel")


def test_open_damaged_is_corrupt_error_and_oserror(dbpath: Path) -> None:
    with keeldb.Database.create(dbpath) as d:
        for i in range(50):
            d.put(b"k%d" % i, {"v": "x" * 100})
    raw = bytearray(dbpath.read_bytes())
    for i in range(len(raw) // 3, len(raw) // 3 + 300):  # damage well before the tail,
        raw[i] ^= 0xFF                                  # across an entry's trailer
    dbpath.write_bytes(raw)
    with pytest.raises(keeldb.CorruptError) as e:
        keeldb.Database.open(dbpath)
    assert isinstance(e.value, OSError) and isinstance(e.value, keeldb.CorruptFileError)


def test_sync_argument() -> None:
    with pytest.raises(ValueError, match="sync"):
        keeldb.Database("x", sync="sometimes")
    with pytest.raises(TypeError):
        keeldb.Database(42)  # type: ignore[arg-type]


def test_close_is_idempotent_and_then_everything_refuses(db: keeldb.Database) -> None:
    db.put(b"k", {"v": 1})
    db.close()
    db.close()
    for call in (lambda: db.get(b"k"), lambda: db.put(b"k", {}), lambda: db.delete(b"k"),
                 lambda: db.flush(), lambda: db.list_tables(), lambda: db.compact(),
                 lambda: db.verify(), lambda: db.stats(), lambda: db.batch_get([b"k"])):
        with pytest.raises(ValueError, match="closed"):
            call()


def test_in_memory() -> None:
    with keeldb.Database.create_in_memory() as d:
        assert d.in_memory and d.path is None
        d.put(b"key1", {"value": "test"})
        assert d.get(b"key1") == {"value": "test"}
        t = d.create_table("t12", partition_key=("k", "S"))
        t.put_item({"k": "a"})
        assert t.count() == 1
        with pytest.raises(ValueError, match="in-memory"):
            d.compact()


# ---- KeystoneDB's API --------------------------------------------------------------------------

def test_put_get_delete_forms(db: keeldb.Database) -> None:
    db.put(b"p", {"a": 1})
    db.put("p", {"a": 2}, sk="s")
    db.put_with_sk(b"p", b"s2", {"a": 3})
    db.put(pk=b"q", item={"a": 4}, sk=b"")
    assert db.get(b"p") == {"a": 1}
    assert db.get("p", "s") == {"a": 2} == db.get_with_sk(b"p", b"s")
    assert db.get(b"p", sk=b"s2") == {"a": 3}
    assert db.get(b"q") is None and db.get(b"q", b"") == {"a": 4}
    assert db.get(bytearray(b"p")) == db.get(memoryview(b"p")) == {"a": 1}
    db.delete(b"p")
    db.delete_with_sk(b"p", b"s")
    db.delete(b"p", sk=b"s2")
    db.delete(b"never-there")
    assert db.get(b"p") is None and db.get(b"p", b"s") is None and db.get(b"p", b"s2") is None


def test_batch_write_and_batch_get(db: keeldb.Database) -> None:
    db.put(b"gone", {"x": 0})
    n = db.batch_write(puts=[(b"a", {"x": 1}), (b"a", b"s", {"x": 2}), ("b", {"x": 3})],
                       deletes=[b"gone", (b"a", b"nothing")])
    assert n == 5
    got = db.batch_get([b"a", (b"a", b"s"), "b", b"gone", (b"x", b"y")])
    assert got == {b"a": {"x": 1}, (b"a", b"s"): {"x": 2}, "b": {"x": 3}}
    assert db.batch_write() == 0
    assert db.batch_write(puts=[]) == 0


def test_batch_write_errors_write_nothing(db: keeldb.Database) -> None:
    db.put(b"k", {"v": 1})
    before = unchanged(db)
    bad = [
        (dict(puts=[(b"a", {"x": 1}), (b"a", {"x": 2})]), keeldb.ValidationError),  # duplicate
        (dict(puts=[(b"a", {"x": 1})], deletes=[b"a"]), keeldb.ValidationError),
        (dict(puts=[(b"a", {"x": object()})]), keeldb.UnsupportedTypeError),
        (dict(puts=[(b"a",)]), TypeError),
        (dict(puts=[b"a"]), TypeError),
        (dict(puts=[(b"a", [1])]), TypeError),
        (dict(puts=[(b"a", {"x": 1}), (b"x" * 5000, {"x": 1})]), keeldb.ValidationError),
        (dict(deletes=[(b"a", b"b", b"c")]), TypeError),
        (dict(deletes=[1]), TypeError),
        (dict(puts=5), TypeError),
    ]
    for kwargs, exc in bad:
        with pytest.raises(exc):
            db.batch_write(**kwargs)
    assert unchanged(db) == before and db.get(b"a") is None


def test_keystone_bad_input(db: keeldb.Database) -> None:
    db.put(b"k", {"v": 1})
    before = unchanged(db)
    with pytest.raises(TypeError, match="dict"):
        db.put(b"k", [1, 2])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="bytes or str"):
        db.put(1, {})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        db.put(b"k", {}, sk=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        db.put_with_sk(b"k", None, {})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        db.put(b"k")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword"):
        db.put(b"k", {}, sort_key=b"s")  # type: ignore[call-arg]
    with pytest.raises(keeldb.ValidationError):
        db.put(b"p" * 2049, {"v": 1})
    with pytest.raises(keeldb.ValidationError):
        db.put(b"p", {"v": 1}, sk=b"s" * 1025)
    with pytest.raises(keeldb.ValidationError):
        db.put(b"p", {"v": "x" * (400 * 1024 + 1)})
    with pytest.raises(keeldb.UnsupportedTypeError):
        db.put(b"p", {"v": object()})
    with pytest.raises(ValueError):
        db.put(b"p", {"v": math.nan})
    with pytest.raises(keeldb.ValidationError):
        db.put(b"p", {"v": 10**38 + 1})  # 39 significant digits
    with pytest.raises(keeldb.ValidationError):
        db.put(b"p", {"v": decimal.Decimal("1e-131")})
    with pytest.raises(keeldb.ValidationError):
        db.put(b"p", {"v": set()})  # DynamoDB refuses empty sets
    with pytest.raises(keeldb.ValidationError):
        db.put(b"p", {"v": {1, "a"}})  # one type per set
    deep: Any = 1
    for _ in range(40):
        deep = [deep]
    with pytest.raises(keeldb.ValidationError):
        db.put(b"p", {"v": deep})
    assert unchanged(db) == before and db.get(b"p") is None
    with pytest.raises(TypeError):
        db.get(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        db.batch_get(b"k")  # type: ignore[arg-type]


def test_limits_are_inclusive(db: keeldb.Database) -> None:
    db.put(b"p" * 2048, {"v": 1}, sk=b"s" * 1024)
    assert db.get(b"p" * 2048, b"s" * 1024) == {"v": 1}
    db.put(b"n", {"v": 10**37 * 9, "d": decimal.Decimal("1e-130"), "e": decimal.Decimal("9.99e125")})
    deep: Any = 1
    for _ in range(30):
        deep = [deep]
    db.put(b"deep", {"v": deep})
    assert db.get(b"deep") == {"v": deep}


# ---- tables ------------------------------------------------------------------------------------

def test_table_lifecycle(db: keeldb.Database) -> None:
    t = db.create_table("users", partition_key=("id", "S"))
    assert t.name == "users" and t.key_schema == {"partition_key": ("id", "S"), "sort_key": None}
    assert db.table("users") == t
    assert db.list_tables() == ["users"]
    db.create_table("b-table.2", partition_key=("k", "B"), sort_key=("n", "N"))
    assert db.list_tables() == ["b-table.2", "users"]
    with pytest.raises(keeldb.TableExistsError):
        db.create_table("users", partition_key=("id", "S"))
    d = t.describe()
    assert d["name"] == "users" and d["item_count"] == 0 and d["created"] > 0
    t.put_item({"id": "a", "x": 1})
    assert t.count() == 1 and t.describe()["item_count"] == 1
    db.delete_table("users")
    assert db.list_tables() == ["b-table.2"]
    with pytest.raises(keeldb.TableNotFoundError):
        t.get_item({"id": "a"})
    with pytest.raises(KeyError):
        db.table("users")
    with pytest.raises(keeldb.TableNotFoundError):
        db.delete_table("users")


def test_create_table_bad_input(db: keeldb.Database) -> None:
    before = unchanged(db)
    with pytest.raises(keeldb.ValidationError):
        db.create_table("ab", partition_key=("k", "S"))  # too short
    with pytest.raises(keeldb.ValidationError):
        db.create_table("bad name", partition_key=("k", "S"))
    with pytest.raises(keeldb.ValidationError):
        db.create_table("good", partition_key=("k", "X"))
    with pytest.raises(keeldb.ValidationError):
        db.create_table("good", partition_key=("k", "S"), sort_key=("k", "S"))
    with pytest.raises(TypeError):
        db.create_table("good", partition_key="k")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        db.create_table(5, partition_key=("k", "S"))  # type: ignore[arg-type]
    with pytest.raises(keeldb.ValidationError):
        db.create_table("x" * 256, partition_key=("k", "S"))
    assert unchanged(db) == before and db.list_tables() == []


def test_items(events: keeldb.Table) -> None:
    item = {"device": "a", "ts": 5, "temp": 21.5, "tags": {"x"}, "raw": b"\x00",
            "nested": {"l": [1, None, True]}}
    events.put_item(item)
    assert events.get_item({"device": "a", "ts": 5}) == item
    assert events.get_item({"device": "a", "ts": decimal.Decimal("5.0")}) == item  # N by value
    assert events.get_item({"device": "a", "ts": 6}) is None
    events.put_item({"device": "a", "ts": 5, "temp": 1.0})
    got = events.get_item({"device": "a", "ts": 5})
    assert got == {"device": "a", "ts": 5, "temp": 1.0} and type(got["temp"]) is float
    events.delete_item({"device": "a", "ts": 5})
    events.delete_item({"device": "a", "ts": 5})
    assert events.get_item({"device": "a", "ts": 5}) is None


def test_item_bad_input(events: keeldb.Table) -> None:
    events.put_item({"device": "a", "ts": 1})
    before = unchanged(events.database)
    for bad, exc in [
        ({"ts": 1}, keeldb.ValidationError),                    # missing partition key
        ({"device": "a"}, keeldb.ValidationError),              # missing sort key
        ({"device": 1, "ts": 1}, keeldb.ValidationError),       # wrong key type
        ({"device": "a", "ts": "1"}, keeldb.ValidationError),
        ({"device": "", "ts": 1}, keeldb.ValidationError),      # empty key
        ({"device": "a" * 2049, "ts": 1}, keeldb.ValidationError),
        ({"device": "a", "ts": 1, "x": object()}, keeldb.UnsupportedTypeError),
        ({"device": "a", "ts": 1, 5: 1}, keeldb.UnsupportedTypeError),
        ([("device", "a")], TypeError),
        ({"device": "a", "ts": 1, "big": b"x" * 500_000}, keeldb.ValidationError),
    ]:
        with pytest.raises(exc):
            events.put_item(bad)  # type: ignore[arg-type]
    for bad, exc in [
        ({"device": "a"}, keeldb.ValidationError),
        ({"device": "a", "ts": 1, "other": 2}, keeldb.ValidationError),  # not only the key
        ({"device": b"a", "ts": 1}, keeldb.ValidationError),
        ("a", TypeError),
    ]:
        with pytest.raises(exc):
            events.get_item(bad)  # type: ignore[arg-type]
        with pytest.raises(exc):
            events.delete_item(bad)  # type: ignore[arg-type]
    with pytest.raises(keeldb.TableNotFoundError):
        events.database.put_item("nope", {"device": "a", "ts": 1})
    with pytest.raises(TypeError):
        events.database.put_item(None, {"device": "a", "ts": 1})  # type: ignore[arg-type]
    assert unchanged(events.database) == before


def test_table_batches(events: keeldb.Table) -> None:
    events.put_item({"device": "a", "ts": 0})
    n = events.batch_write(puts=[{"device": "a", "ts": i, "v": i} for i in range(1, 4)],
                           deletes=[{"device": "a", "ts": 0}])
    assert n == 4 and events.count() == 3
    keys = [{"device": "a", "ts": 3}, {"device": "zz", "ts": 1}, {"device": "a", "ts": 1}]
    assert [i["v"] for i in events.batch_get(keys)] == [3, 1]
    before = unchanged(events.database)
    with pytest.raises(keeldb.ValidationError, match="duplicates"):
        events.batch_write(puts=[{"device": "b", "ts": 1}, {"device": "b", "ts": 1, "x": 2}])
    with pytest.raises(keeldb.ValidationError):
        events.batch_write(puts=[{"device": "b", "ts": 1}, {"device": "b"}])
    with pytest.raises(keeldb.ValidationError):
        events.batch_write(puts=[{"device": "b", "ts": 1}], deletes=[{"device": "b", "ts": 1}])
    with pytest.raises(TypeError):
        events.batch_write(puts=[("device", "b")])  # type: ignore[list-item]
    assert unchanged(events.database) == before and events.count() == 3
    with pytest.raises(TypeError):
        events.batch_get(5)  # type: ignore[arg-type]


# ---- query and scan ----------------------------------------------------------------------------

@pytest.fixture
def filled(events: keeldb.Table) -> keeldb.Table:
    events.batch_write(puts=[{"device": d, "ts": ts, "t": ts * 1.5, "kind": "k%d" % (ts % 3)}
                             for d in ("a", "b") for ts in range(10)])
    return events


def ts_of(it: Any) -> list[Any]:
    return [i["ts"] for i in it]


def test_query_operators(filled: keeldb.Table) -> None:
    v = {":d": "a"}
    q = filled.query
    assert ts_of(q("device = :d", values=v)) == list(range(10))
    assert ts_of(q("device = :d AND ts = :x", values={**v, ":x": 3})) == [3]
    assert ts_of(q("device = :d AND ts < :x", values={**v, ":x": 3})) == [0, 1, 2]
    assert ts_of(q("device = :d AND ts <= :x", values={**v, ":x": 3})) == [0, 1, 2, 3]
    assert ts_of(q("device = :d AND ts > :x", values={**v, ":x": 7})) == [8, 9]
    assert ts_of(q("device = :d AND ts >= :x", values={**v, ":x": 7})) == [7, 8, 9]
    assert ts_of(q("device = :d AND ts BETWEEN :lo AND :hi",
                   values={**v, ":lo": 2, ":hi": 4})) == [2, 3, 4]
    assert ts_of(q("device = :d", values=v, forward=False)) == list(range(9, -1, -1))
    assert ts_of(q("#d = :d AND #t > :x", values={**v, ":x": 8}, names={"#d": "device",
                                                                         "#t": "ts"})) == [9]
    assert ts_of(q("device = :d", values={":d": "zz"})) == []


def test_query_filter_projection_and_pages(filled: keeldb.Table) -> None:
    it = filled.query("device = :d", values={":d": "a", ":k": "k0"}, filter="kind = :k")
    assert ts_of(it) == [0, 3, 6, 9] and it.last_key is None
    it = filled.query("device = :d", values={":d": "a"}, projection="ts, kind")
    assert list(it)[0] == {"ts": 0, "kind": "k0"}
    pages, start = [], None
    while True:
        it = filled.query("device = :d", values={":d": "b"}, limit=3, start_key=start)
        pages.append(ts_of(it))
        start = it.last_key
        if start is None:
            break
        assert set(start) == {"device", "ts"}
    assert sum(pages, []) == list(range(10))
    # limit counts items evaluated, before the filter (as DynamoDB).
    it = filled.query("device = :d", values={":d": "a", ":k": "k1"}, filter="kind = :k",
                      limit=4)
    assert ts_of(it) == [1] and it.last_key == {"device": "a", "ts": 3}
    assert it.scanned_count == 4


def test_scan_pages_and_segments(filled: keeldb.Table) -> None:
    everything = sorted((i["device"], i["ts"]) for i in filled.scan())
    assert len(everything) == 20
    seen, start = [], None
    while True:
        it = filled.scan(limit=7, start_key=start)
        seen += [(i["device"], i["ts"]) for i in it]
        start = it.last_key
        if start is None:
            break
    assert sorted(seen) == everything
    segs = [sorted((i["device"], i["ts"]) for i in filled.scan(segment=s, total_segments=3))
            for s in range(3)]
    assert sorted(sum(segs, [])) == everything
    it = filled.scan(filter="t > :x", values={":x": 12}, projection="ts")
    assert sorted(i["ts"] for i in it) == [9, 9]


def test_query_and_scan_bad_input(filled: keeldb.Table) -> None:
    before = unchanged(filled.database)
    q = filled.query
    with pytest.raises(keeldb.ExpressionSyntaxError, match="position"):
        q("device = :d AND", values={":d": "a"})
    with pytest.raises(keeldb.ExpressionSyntaxError):
        filled.scan(filter="(ts > :x", values={":x": 1})
    with pytest.raises(keeldb.ValidationError):
        q("device = :d", values={":d": "a", ":unused": 1})
    with pytest.raises(keeldb.ValidationError):
        q("device = :missing", values={":d": "a"})
    with pytest.raises(keeldb.ValidationError):
        q("device = :d", values={":d": 1})  # wrong key type
    with pytest.raises(keeldb.ValidationError):
        q("kind = :d", values={":d": "a"})  # not a key attribute
    with pytest.raises(keeldb.ValidationError):
        q("device = :d AND ts BETWEEN :hi AND :lo", values={":d": "a", ":lo": 1, ":hi": 5})
    with pytest.raises(keeldb.ValidationError):
        q("device = :d", values={":d": "a"}, filter="#nope = :d", names={"#other": "x"})
    with pytest.raises(keeldb.ValidationError):
        q("device = :d", values={":d": "a"}, index="by-kind")
    with pytest.raises(keeldb.ValidationError):
        q("device = :d", values={":d": "a"}, limit=0)
    with pytest.raises(TypeError):
        q("device = :d", values={":d": "a"}, limit="5")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        q("device = :d", values=[(":d", "a")])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        q("device = :d", values={":d": "a"}, names={"#n": 5})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        q(None)  # type: ignore[arg-type]
    with pytest.raises(keeldb.ValidationError):
        q("device = :d", values={":d": "a"}, start_key={"device": "b", "ts": 1})
    with pytest.raises(keeldb.ValidationError):
        filled.scan(segment=3, total_segments=3)
    with pytest.raises(keeldb.ValidationError):
        filled.scan(segment=0)
    with pytest.raises(keeldb.ValidationError):
        filled.scan(filter="ts > :x")  # placeholder missing
    with pytest.raises(keeldb.UnsupportedTypeError):
        filled.scan(filter="ts > :x", values={":x": object()})
    with pytest.raises(keeldb.TableNotFoundError):
        filled.database.scan("nope")
    assert unchanged(filled.database) == before


def test_cursor_is_an_iterator(filled: keeldb.Table) -> None:
    it = filled.query("device = :d", values={":d": "a"})
    assert iter(it) is it and isinstance(it, keeldb.Cursor)
    assert next(it)["ts"] == 0
    rest = list(it)
    assert len(rest) == 9 and it.done
    with pytest.raises(StopIteration):
        next(it)
    with pytest.raises(TypeError):
        keeldb.Cursor()


def test_cursor_in_a_cycle_is_collected() -> None:
    import weakref

    class MyDatabase(keeldb.Database):
        __slots__ = ("cursor",)

    d = MyDatabase.create_in_memory()
    t = d.create_table("tab", partition_key=("k", "S"))
    t.put_item({"k": "a"})
    d.cursor = t.scan()  # d -> cursor -> d
    ref = weakref.ref(d)
    del d, t
    gc.collect()
    assert ref() is None


def test_cursor_after_close_refuses(dbpath: Path) -> None:
    d = keeldb.Database.create(dbpath)
    t = d.create_table("tab", partition_key=("k", "S"))
    t.put_item({"k": "a"})
    it = t.scan()
    d.close()
    with pytest.raises(ValueError, match="closed"):
        next(it)


# ---- vectors -----------------------------------------------------------------------------------

def test_vectors_are_zero_copy_and_aligned(db: keeldb.Database) -> None:
    vecs = {f"v{i}": np.random.default_rng(i).random(8 + i, dtype=np.float32) for i in range(5)}
    db.put(b"vec", {"name": "x", **vecs})
    got = db.get(b"vec")
    assert got is not None
    for name, v in vecs.items():
        a = got[name]
        assert isinstance(a, np.ndarray) and a.dtype == np.float32
        assert np.array_equal(a, v)
        assert a.ctypes.data % 64 == 0, name
        assert not a.flags.writeable and not a.flags.owndata
        with pytest.raises(ValueError):
            a[0] = 1.0
    with pytest.raises(BufferError, match="vector"):
        db.close()
    assert not db.closed
    del got, a
    gc.collect()
    db.close()
    assert db.closed


def test_vectors_from_tables_queries_and_projections(events: keeldb.Table) -> None:
    v = np.arange(16, dtype=np.float32)
    events.put_item({"device": "a", "ts": 1, "emb": v})
    a = events.get_item({"device": "a", "ts": 1})["emb"]  # type: ignore[index]
    assert a.ctypes.data % 64 == 0 and np.array_equal(a, v)
    b = next(events.query("device = :d", values={":d": "a"}))["emb"]
    assert b.ctypes.data == a.ctypes.data  # the same bytes in the mapping
    c = next(events.scan(projection="emb"))["emb"]  # projections are copies
    assert np.array_equal(c, v) and c.ctypes.data != a.ctypes.data
    with pytest.raises(BufferError):
        events.database.close()
    del a, b
    gc.collect()
    events.database.close()  # the projection's copy does not pin the database
    assert np.array_equal(c, v)


def test_vector_type() -> None:
    v = keeldb.Vector([1.0, 2.5, -3.0])
    assert len(v) == 3 and v[1] == 2.5 and v.tolist() == [1.0, 2.5, -3.0]
    assert v == keeldb.Vector([1, 2.5, -3]) and not v.zero_copy
    m = memoryview(v)
    assert m.format == "<f" and m.readonly and m.shape == (3,)
    assert np.asarray(v).tolist() == [1.0, 2.5, -3.0]
    with pytest.raises(IndexError):
        v[3]
    with pytest.raises(TypeError):
        keeldb.Vector(5)  # type: ignore[arg-type]


# ---- maintenance and signatures ----------------------------------------------------------------

def test_flush_compact_verify_stats(dbpath: Path) -> None:
    with keeldb.Database.create(dbpath) as d:
        t = d.create_table("tab", partition_key=("k", "S"))
        for i in range(100):
            t.put_item({"k": str(i % 10), "v": i})
        d.put(b"kv", {"x": 1})
        d.flush()
        s = d.stats()
        assert s["reclaimable_bytes"] > 0
        d.compact()
        assert d.stats()["file_size"] < s["file_size"]
        assert d.verify() >= 11
        assert t.count() == 10 and d.get(b"kv") == {"x": 1}
    with keeldb.Database.open(dbpath) as d:
        assert d.table("tab").count() == 10


def test_every_callable_has_a_signature() -> None:
    for cls in (keeldb.Database, _db.Database, keeldb.Table, keeldb.Vector):
        for name, member in inspect.getmembers(cls):
            if name.startswith("_") and name not in ("__enter__", "__exit__", "__init__"):
                continue
            if callable(member) and not isinstance(member, type):
                inspect.signature(member)
    assert str(inspect.signature(keeldb.Database.put)) == "(self, /, pk, item, sk=None)"
    assert str(inspect.signature(keeldb.Database)) == "(path, *, readonly=False, sync='none')"
    assert "key_condition" in str(inspect.signature(keeldb.Table.query))


def test_exception_hierarchy() -> None:
    assert issubclass(keeldb.ValidationError, keeldb.Error)
    assert issubclass(keeldb.ValidationError, ValueError)
    assert issubclass(keeldb.ExpressionSyntaxError, keeldb.ValidationError)
    assert issubclass(keeldb.TableNotFoundError, KeyError)
    assert issubclass(keeldb.TableNotFoundError, keeldb.Error)
    assert issubclass(keeldb.TableExistsError, keeldb.Error)
    assert issubclass(keeldb.UnsupportedTypeError, TypeError)
    assert issubclass(keeldb.UnsupportedTypeError, ValueError)
    assert issubclass(keeldb.CorruptFileError, keeldb.CorruptError)
    assert issubclass(keeldb.CorruptFileError, OSError)


def test_database_md_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    doc = Path(__file__).resolve().parents[2] / "docs" / "DATABASE.md"
    blocks = re.findall(r"^```python\n(.*?)^```", doc.read_text(), re.S | re.M)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)
    for code in blocks:
        ns: dict[str, Any] = {"__name__": "__main__"}
        exec(compile(code, str(doc), "exec"), ns)
        for v in ns.values():
            if isinstance(v, keeldb.Database):
                v.close()
