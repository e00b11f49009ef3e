"""Seed 003, KeystoneDB's Python README: its examples run unchanged after
``import keeldb as keystonedb``, and the KeystoneDB behaviours we keep and the quirks we fix
(../shared/reference/disky_keystone.md, part B) each have a test named after them.

The examples are copied verbatim from the README (blocks in order); only the import line is
changed. The README's blocks build on each other (the sort-key block uses the ``db`` of the
first), so they run in groups sharing one namespace; a group starts once the handles of the
previous group are gone, as they are when a script ends. The error-handling block names an
undefined ``complex_object``; it gets one (a ``complex``), the kind of value it stands for.
"""

from __future__ import annotations

import decimal
import gc
import math
import os
from pathlib import Path
from typing import Any

import pytest

import keeldb
import keeldb as keystonedb

BASIC = '''
import keeldb as keystonedb

# Create a new database
db = keystonedb.Database.create("./mydb.keystone")

# Put an item
db.put(b"user#123", {
    "name": "Alice",
    "age": 30,
    "active": True,
    "tags": ["python", "rust"],
})

# Get an item
item = db.get(b"user#123")
if item:
    print(f"Name: {item['name']}, Age: {item['age']}")

# Delete an item
db.delete(b"user#123")

# Flush to disk
db.flush()
'''

SORT_KEYS = '''
# Put with sort key
db.put_with_sk(b"org#acme", b"user#123", {
    "name": "Alice",
    "role": "admin",
})

# Get with sort key
item = db.get_with_sk(b"org#acme", b"user#123")

# Delete with sort key
db.delete_with_sk(b"org#acme", b"user#123")
'''

IN_MEMORY = '''
# Create in-memory database (no persistence)
db = keystonedb.Database.create_in_memory()

# Use same API as persistent database
db.put(b"key1", {"value": "test"})
item = db.get(b"key1")
'''

OPEN_EXISTING = '''
# Open an existing database
db = keystonedb.Database.open("./mydb.keystone")
'''

VALUE_TYPES = '''
db.put(b"test", {
    "string": "hello",              # String (S)
    "number_int": 42,                # Number (N) - integer
    "number_float": 3.14,            # Number (N) - float
    "binary": b"binary data",        # Binary (B)
    "boolean": True,                 # Boolean (Bool)
    "null": None,                    # Null
    "list": [1, 2, "three"],        # List (L)
    "nested": {                      # Map (M)
        "inner": "value",
        "count": 10,
    },
    "vector": [0.1, 0.2, 0.3],      # Vector (VecF32) - for embeddings
})

item = db.get(b"test")
assert item["string"] == "hello"
assert item["number_int"] == 42
assert item["boolean"] is True
assert item["list"] == [1, 2, "three"]
assert item["nested"]["inner"] == "value"
'''

CONTEXT_MANAGER = '''
class DatabaseContext:
    def __init__(self, path):
        self.path = path
        self.db = None

    def __enter__(self):
        self.db = keystonedb.Database.open(self.path)
        return self.db

    def __exit__(self, exc_type, exc_val, exc_tb):
        if self.db:
            self.db.flush()

# Usage
with DatabaseContext("./mydb.keystone") as db:
    db.put(b"key", {"value": "data"})
    # Automatically flushed on exit
'''

ERROR_HANDLING = '''
import keystonedb

try:
    db = keystonedb.Database.open("./mydb.keystone")
except IOError as e:
    print(f"Failed to open database: {e}")

try:
    db.put(b"key", {"invalid": complex_object})
except ValueError as e:
    print(f"Invalid value type: {e}")

try:
    item = db.get(b"nonexistent")
    if item is None:
        print("Item not found")
except Exception as e:
    print(f"Unexpected error: {e}")
'''


def run_group(*blocks: str, prelude: dict[str, Any] | None = None) -> dict[str, Any]:
    ns: dict[str, Any] = {"__name__": "__main__", **(prelude or {})}
    for code in blocks:
        code = code.replace("\nimport keystonedb\n", "\nimport keeldb as keystonedb\n")
        exec(compile(code, "<README 003>", "exec"), ns)
    return ns


def end_group(ns: dict[str, Any]) -> None:
    """What the end of a script does: the handles go (and close)."""
    ns.clear()
    gc.collect()


def test_readme_examples_run_verbatim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    ns = run_group(BASIC, SORT_KEYS)
    assert "Name: Alice, Age: 30" in capsys.readouterr().out
    assert ns["item"] == {"name": "Alice", "role": "admin"}
    assert ns["db"].get_with_sk(b"org#acme", b"user#123") is None
    ns = run_group(IN_MEMORY, prelude={"keystonedb": keystonedb})
    assert ns["item"] == {"value": "test"}
    end_group(ns)
    ns = run_group(OPEN_EXISTING, VALUE_TYPES, prelude={"keystonedb": keystonedb})
    item = ns["item"]
    assert item["number_float"] == 3.14 and item["binary"] == b"binary data"
    assert item["null"] is None and item["vector"] == [0.1, 0.2, 0.3]
    end_group(ns)
    ns = run_group(CONTEXT_MANAGER, prelude={"keystonedb": keystonedb})
    end_group(ns)
    ns = run_group(ERROR_HANDLING, prelude={"complex_object": complex(1, 2)})
    out = capsys.readouterr().out
    assert "Invalid value type" in out and "Item not found" in out
    assert "Failed to open" not in out
    ns["db"].close()
    with keystonedb.Database.open("./mydb.keystone") as db:
        assert db.get(b"key") == {"value": "data"}
        assert db.get(b"test")["string"] == "hello"  # type: ignore[index]
    assert os.path.isfile("./mydb.keystone")


def test_readme_api_reference_errors(tmp_path: Path) -> None:
    # "Raises IOError if database already exists or path is invalid" / "doesn't exist or is
    # corrupted": IOError is OSError.
    p = tmp_path / "db.keystone"
    keystonedb.Database.create(p).close()
    with pytest.raises(IOError):
        keystonedb.Database.create(p)
    with pytest.raises(IOError):
        keystonedb.Database.open(tmp_path / "missing.keystone")
    with pytest.raises(IOError):
        keystonedb.Database.create(tmp_path / "no-such-dir" / "db.keystone")
    with pytest.raises((ValueError, OSError)):  # KeystoneDB's smoke test: any exception
        keystonedb.Database.create("/invalid\x00path/test.db")


@pytest.fixture
def db(tmp_path: Path) -> Any:
    d = keystonedb.Database.create(tmp_path / "seed.keystone")
    yield d
    gc.collect()
    d.close()


# ---- KeystoneDB behaviours kept -------------------------------------------------------------

def test_kept_get_of_a_missing_key_is_none(db: Any) -> None:
    assert db.get(b"nonexistent") is None and db.get_with_sk(b"a", b"b") is None


def test_kept_delete_is_idempotent(db: Any) -> None:
    db.delete(b"never")
    db.delete_with_sk(b"never", b"x")


def test_kept_put_replaces_the_whole_item(db: Any) -> None:
    db.put(b"k", {"a": 1, "b": 2})
    db.put(b"k", {"c": 3})
    assert db.get(b"k") == {"c": 3}


def test_kept_keys_are_not_attributes(db: Any) -> None:
    db.put_with_sk(b"pk", b"sk", {"x": 1})
    assert db.get_with_sk(b"pk", b"sk") == {"x": 1}


def test_kept_pk_only_and_pk_sk_are_distinct_rows(db: Any) -> None:
    db.put(b"p", {"which": "pk"})
    db.put_with_sk(b"p", b"s", {"which": "pk+sk"})
    assert db.get(b"p") == {"which": "pk"} and db.get(b"p", b"s") == {"which": "pk+sk"}


def test_kept_later_keyword_forms_and_str_keys(db: Any) -> None:
    db.put("user", {"v": 1}, sk="a")
    assert db.get(b"user", sk=b"a") == {"v": 1}
    db.delete("user", sk="a")
    assert db.get("user", "a") is None


def test_kept_batch_write_returns_count_and_batch_get_a_dict(db: Any) -> None:
    assert db.batch_write(puts=[(b"a", {"n": 1}), ("b", {"n": 2})]) == 2
    assert db.batch_get([b"a", "b", b"c"]) == {b"a": {"n": 1}, "b": {"n": 2}}
    assert db.batch_write(deletes=[b"a"]) == 1
    assert db.get(b"a") is None


def test_kept_lists_stay_lists(db: Any) -> None:
    # The README's "vector": [0.1, 0.2, 0.3] is a list in KeystoneDB too (an L of N).
    db.put(b"k", {"vector": [0.1, 0.2, 0.3], "mixed": [1, "two"]})
    assert db.get(b"k") == {"vector": [0.1, 0.2, 0.3], "mixed": [1, "two"]}


def test_kept_unsupported_types_are_value_errors(db: Any) -> None:
    for bad in (object(), complex(1, 2), {1: "x"}):
        with pytest.raises(ValueError):
            db.put(b"k", {"v": bad})


def test_kept_3_14_round_trips(db: Any) -> None:
    db.put(b"k", {"pi": 3.14})
    assert db.get(b"k") == {"pi": 3.14}


def test_kept_reopen_after_flush(tmp_path: Path) -> None:
    p = tmp_path / "r.keystone"
    db = keystonedb.Database.create(p)
    db.put(b"k", {"v": 1})
    db.flush()
    del db
    gc.collect()
    assert keystonedb.Database.open(p).get(b"k") == {"v": 1}


# ---- KeystoneDB quirks fixed ------------------------------------------------------------------

def test_fixed_1_0_stays_a_float(db: Any) -> None:
    db.put(b"k", {"f": 1.0, "i": 1})
    got = db.get(b"k")
    assert type(got["f"]) is float and type(got["i"]) is int


def test_fixed_negative_zero_keeps_its_sign(db: Any) -> None:
    db.put(b"k", {"z": -0.0})
    z = db.get(b"k")["z"]
    assert type(z) is float and math.copysign(1.0, z) == -1.0


def test_fixed_empty_sort_key_is_distinct_from_no_sort_key(db: Any) -> None:
    db.put(b"p", {"which": "none"})
    db.put(b"p", {"which": "empty"}, sk=b"")
    assert db.get(b"p") == {"which": "none"} and db.get(b"p", sk=b"") == {"which": "empty"}
    db.delete(b"p", sk=b"")
    assert db.get(b"p") == {"which": "none"}


def test_fixed_ints_past_64_bits(db: Any) -> None:
    big = {"a": 2**64, "b": -(2**64) - 5, "c": 10**37, "d": 2**63, "e": -(2**63) - 1}
    db.put(b"k", big)
    assert db.get(b"k") == big


def test_fixed_large_floats_stay_floats(db: Any) -> None:
    # KeystoneDB stored 1e300 as a 301-digit string; DynamoDB's range ends at 9.99e125.
    db.put(b"k", {"x": 1e125, "y": 1e-120, "z": 123456789.125})
    got = db.get(b"k")
    assert got == {"x": 1e125, "y": 1e-120, "z": 123456789.125}
    assert all(type(v) is float for v in got.values())
    with pytest.raises(keeldb.ValidationError):
        db.put(b"k", {"x": 1e300})


def test_fixed_sets(db: Any) -> None:
    sets = {"ss": {"a", "b"}, "ns": {1, 2.5, decimal.Decimal("3.25")}, "bs": {b"x", b"y"},
            "fs": frozenset({"q"})}
    db.put(b"k", sets)
    got = db.get(b"k")
    assert got == {**sets, "fs": {"q"}} and all(type(v) is set for v in got.values())


def test_fixed_bytes_round_trip(db: Any) -> None:
    db.put(b"k", {"b": b"\x00\x01binary", "ba": bytearray(b"ba"), "mv": memoryview(b"mv")})
    assert db.get(b"k") == {"b": b"\x00\x01binary", "ba": b"ba", "mv": b"mv"}


def test_fixed_tuples_and_decimals_are_supported(db: Any) -> None:
    db.put(b"k", {"t": (1, 2), "d": decimal.Decimal("0.10")})
    got = db.get(b"k")
    assert got["t"] == [1, 2] and str(got["d"]) == "0.10"


def test_fixed_nan_and_infinity_are_refused(db: Any) -> None:
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError):
            db.put(b"k", {"x": bad})
    assert db.get(b"k") is None


def test_fixed_create_of_an_existing_database_is_an_oserror(tmp_path: Path) -> None:
    p = tmp_path / "x.keystone"
    keystonedb.Database.create(p).close()
    with pytest.raises(FileExistsError):  # KeystoneDB raised RuntimeError
        keystonedb.Database.create(p)


def test_fixed_a_damaged_file_is_an_oserror(tmp_path: Path) -> None:
    p = tmp_path / "x.keystone"
    with keystonedb.Database.create(p) as db:
        for i in range(40):
            db.put(b"k%d" % i, {"v": "x" * 100})
    raw = bytearray(p.read_bytes())
    for i in range(len(raw) // 3, len(raw) // 3 + 300):
        raw[i] ^= 0xFF
    p.write_bytes(raw)
    with pytest.raises(OSError) as e:  # KeystoneDB raised RuntimeError
        keystonedb.Database.open(p)
    assert isinstance(e.value, keeldb.CorruptError)


def test_fixed_a_torn_tail_is_recovered_not_fatal(tmp_path: Path) -> None:
    p = tmp_path / "x.keystone"
    with keystonedb.Database.create(p) as db:
        db.put(b"a", {"v": 1})
        db.put(b"b", {"v": 2})
    with open(p, "r+b") as f:
        f.truncate(p.stat().st_size - 3)  # KeystoneDB's open failed on a partial record
    with keystonedb.Database.open(p) as db:
        assert db.get(b"a") == {"v": 1} and db.get(b"b") is None


def test_fixed_one_file_not_a_directory(tmp_path: Path) -> None:
    p = tmp_path / "x.keystone"
    keystonedb.Database.create(p).close()
    assert p.is_file() and os.listdir(tmp_path) == ["x.keystone"]


def test_fixed_sort_keys_in_dynamodb_order_not_length_first(db: Any) -> None:
    t = db.create_table("items", partition_key=("pk", "S"), sort_key=("sk", "S"))
    for sk in ("b", "aa", "item#9", "item#10"):
        t.put_item({"pk": "p", "sk": sk})
    got = [i["sk"] for i in t.query("pk = :p", values={":p": "p"})]
    assert got == ["aa", "b", "item#10", "item#9"]  # KeystoneDB: b, aa, item#9, item#10


def test_fixed_close_and_context_manager(tmp_path: Path) -> None:
    with keystonedb.Database.create(tmp_path / "x.keystone") as db:
        db.put(b"k", {"v": 1})
    assert db.closed
    db.close()  # idempotent


def test_fixed_query_and_scan_exist(db: Any) -> None:
    t = db.create_table("things", partition_key=("pk", "S"), sort_key=("n", "N"))
    t.batch_write(puts=[{"pk": "p", "n": n} for n in range(5)])
    assert [i["n"] for i in t.query("pk = :p AND n >= :x", values={":p": "p", ":x": 3})] == [3, 4]
    assert sorted(i["n"] for i in t.scan()) == [0, 1, 2, 3, 4]
