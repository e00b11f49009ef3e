"""Sort order of keys, as DynamoDB's: S by UTF-8 bytes, B by unsigned bytes, N by value
("9" < "10", negatives, decimals, 1e3 == 1000), in queries forward and backward, with every
sort-key operator's boundaries, and partition keys of each type."""

from __future__ import annotations

import decimal
import random
from typing import Any, Iterator, List

import pytest

import keeldb

D = decimal.Decimal


@pytest.fixture
def db() -> Iterator[keeldb.Database]:
    with keeldb.Database.create_in_memory() as d:
        yield d


def sks(t: keeldb.Table, cond: str = "pk = :p", forward: bool = True, **values: Any) -> List[Any]:
    v = {":p": "p", **{":" + k: x for k, x in values.items()}}
    return [i["sk"] for i in t.query(cond, values=v, forward=forward)]


NUMBERS = [D("-9.99e125"), -10**20, -100, -10, -9, D("-1.5"), -1, D("-0.5"), D("-1e-130"), 0,
           D("1e-130"), D("0.001"), D("0.5"), 1, D("1.5"), 2, 9, 10, D("10.5"), 99, 100, 1000,
           2**63, 10**37, D("9.99e125")]
STRINGS = ["A", "B", "Z", "a", "aa", "ab", "abc", "b", "item#10", "item#9", "z", "\x7f", "é",
           "ÿ", "\u4e2d", "\U0001f600"]
BINARIES = [b"\x00", b"\x00\x00", b"\x00\x01", b"\x01", b"\x7f", b"\x80", b"\xfe", b"\xff",
            b"\xff\x00", b"\xff\xff"]


@pytest.mark.parametrize("typ,keys,expect", [
    ("N", NUMBERS, sorted(NUMBERS)),
    ("S", STRINGS, sorted(STRINGS, key=lambda s: s.encode())),
    ("B", BINARIES, sorted(BINARIES)),
])
def test_sort_keys_in_dynamodb_order(db: keeldb.Database, typ: str, keys: List[Any],
                                     expect: List[Any]) -> None:
    t = db.create_table("t" + typ * 3, partition_key=("pk", "S"), sort_key=("sk", typ))
    shuffled = list(keys)
    random.Random(3).shuffle(shuffled)
    for k in shuffled:
        t.put_item({"pk": "p", "sk": k})
        t.put_item({"pk": "q", "sk": k})  # a neighbouring partition stays out
    assert sks(t) == expect
    assert sks(t, forward=False) == expect[::-1]
    mid = expect[len(expect) // 2]
    assert sks(t, "pk = :p AND sk < :x", x=mid) == [k for k in expect if k < mid]
    assert sks(t, "pk = :p AND sk <= :x", x=mid) == [k for k in expect if k <= mid]
    assert sks(t, "pk = :p AND sk > :x", x=mid) == [k for k in expect if k > mid]
    assert sks(t, "pk = :p AND sk >= :x", x=mid) == [k for k in expect if k >= mid]
    assert sks(t, "pk = :p AND sk >= :x", forward=False, x=mid) == [k for k in expect
                                                                     if k >= mid][::-1]
    lo, hi = expect[2], expect[-3]
    assert sks(t, "pk = :p AND sk BETWEEN :a AND :b", a=lo, b=hi) == expect[2:-2]
    assert sks(t, "pk = :p AND sk = :x", x=mid) == [mid]
    assert t.count() == 2 * len(keys)


def test_numbers_are_equal_by_value(db: keeldb.Database) -> None:
    t = db.create_table("nums", partition_key=("pk", "S"), sort_key=("sk", "N"))
    t.put_item({"pk": "p", "sk": 1000, "v": "int"})
    t.put_item({"pk": "p", "sk": D("1E3"), "v": "decimal"})
    t.put_item({"pk": "p", "sk": 1000.0, "v": "float"})
    assert t.count() == 1 and t.get_item({"pk": "p", "sk": D("1000.000")})["v"] == "float"  # type: ignore[index]
    t.put_item({"pk": "p", "sk": 9})
    t.put_item({"pk": "p", "sk": 10})
    assert sks(t) == [9, 10, 1000.0]  # "9" < "10" numerically


def test_begins_with_on_strings_and_binaries(db: keeldb.Database) -> None:
    s = db.create_table("strs", partition_key=("pk", "S"), sort_key=("sk", "S"))
    for k in ("a", "ab", "abc", "abd", "ac", "b", "é", "éa"):
        s.put_item({"pk": "p", "sk": k})
    assert sks(s, "pk = :p AND begins_with(sk, :x)", x="ab") == ["ab", "abc", "abd"]
    assert sks(s, "pk = :p AND begins_with(sk, :x)", x="é") == ["é", "éa"]
    assert sks(s, "pk = :p AND begins_with(sk, :x)", forward=False, x="a") == [
        "ac", "abd", "abc", "ab", "a"]
    b = db.create_table("bins", partition_key=("pk", "S"), sort_key=("sk", "B"))
    for k in (b"\xff", b"\xff\x00", b"\xff\xff", b"\xff\xff\x01", b"\xfe"):
        b.put_item({"pk": "p", "sk": k})
    assert sks(b, "pk = :p AND begins_with(sk, :x)", x=b"\xff\xff") == [b"\xff\xff",
                                                                       b"\xff\xff\x01"]
    assert sks(b, "pk = :p AND begins_with(sk, :x)", x=b"\xff") == [
        b"\xff", b"\xff\x00", b"\xff\xff", b"\xff\xff\x01"]


@pytest.mark.parametrize("typ,pks", [
    ("S", ["a", "aa", "a\x00", "é", "\U0001f600"]),
    ("N", [0, -1, 1, D("1.5"), 10**30, D("-1e-100")]),
    ("B", [b"\x00", b"\x00\x00", b"\x00\xff", b"\xff", b"a"]),
])
def test_partition_keys_of_each_type(db: keeldb.Database, typ: str, pks: List[Any]) -> None:
    t = db.create_table("p" + typ * 3, partition_key=("pk", typ), sort_key=("sk", "N"))
    for i, pk in enumerate(pks):
        for n in range(3):
            t.put_item({"pk": pk, "sk": n, "owner": i})
    for i, pk in enumerate(pks):
        got = list(t.query("pk = :p", values={":p": pk}))
        assert [g["owner"] for g in got] == [i, i, i] and [g["sk"] for g in got] == [0, 1, 2]
    assert sorted(g["owner"] for g in t.scan()) == sorted(list(range(len(pks))) * 3)


def test_empty_keys_are_refused_where_dynamodb_refuses_them(db: keeldb.Database) -> None:
    s = db.create_table("strs", partition_key=("pk", "S"), sort_key=("sk", "S"))
    b = db.create_table("bins", partition_key=("pk", "B"))
    for t, item in ((s, {"pk": "", "sk": "a"}), (s, {"pk": "a", "sk": ""}), (b, {"pk": b""})):
        with pytest.raises(keeldb.ValidationError):
            t.put_item(item)
    # The default table's empty sort key is a key of its own (unlike KeystoneDB).
    db.put(b"p", {"v": "no sk"})
    db.put(b"p", {"v": "empty sk"}, sk=b"")
    assert db.get(b"p") == {"v": "no sk"} and db.get(b"p", b"") == {"v": "empty sk"}
