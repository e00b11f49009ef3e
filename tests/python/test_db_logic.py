"""keeldb's write logic: conditions, update expressions, ReturnValues and transactions.

DynamoDB's documented examples with Python values, the errors (ConditionalCheckFailed with
.item, TransactionCanceled with .reasons, ValidationError with DynamoDB's messages),
threads racing conditional puts on one key (exactly one wins), and SET's arithmetic
against decimal with unbounded precision (exact, or refused past 38 digits).
"""

from __future__ import annotations

import decimal
import threading
from typing import Any, Dict, Iterator, List

import pytest

import keeldb


@pytest.fixture
def db() -> Iterator[keeldb.Database]:
    d = keeldb.Database.create_in_memory()
    try:
        yield d
    finally:
        d.close()


@pytest.fixture
def t(db: keeldb.Database) -> keeldb.Table:
    return db.create_table("products", partition_key=("id", "N"))


# ---- conditional writes -----------------------------------------------------------------


def test_put_if_absent(t: keeldb.Table) -> None:
    assert t.put_item({"id": 1, "v": "a"}, condition="attribute_not_exists(id)") is None
    with pytest.raises(keeldb.ConditionalCheckFailed, match="The conditional request failed") as e:
        t.put_item({"id": 1, "v": "b"}, condition="attribute_not_exists(id)")
    assert e.value.item is None
    assert isinstance(e.value, keeldb.Error)
    with pytest.raises(keeldb.ConditionalCheckFailed) as e:
        t.put_item(
            {"id": 1, "v": "b"},
            condition="attribute_not_exists(id)",
            return_values_on_condition_check_failure="ALL_OLD",
        )
    assert e.value.item == {"id": 1, "v": "a"}
    assert t.get_item({"id": 1}) == {"id": 1, "v": "a"}


def test_conditions_with_placeholders(t: keeldb.Table) -> None:
    t.put_item({"id": 1, "Price": 100, "status": "new"})
    old = t.put_item(
        {"id": 1, "Price": 50},
        condition="#p > :limit AND #s = :s",
        names={"#p": "Price", "#s": "status"},
        values={":limit": 75, ":s": "new"},
        return_values="ALL_OLD",
    )
    assert old == {"id": 1, "Price": 100, "status": "new"}
    with pytest.raises(keeldb.ConditionalCheckFailed):
        t.delete_item({"id": 1}, condition="Price > :p", values={":p": 75})
    assert t.get_item({"id": 1}) == {"id": 1, "Price": 50}
    assert t.delete_item({"id": 1}, condition="Price < :p", values={":p": 75},
                         return_values="ALL_OLD") == {"id": 1, "Price": 50}
    assert t.get_item({"id": 1}) is None
    # Unused placeholders and a bad ReturnValues are refused before anything is written.
    with pytest.raises(keeldb.ValidationError):
        t.put_item({"id": 2}, values={":unused": 1})
    with pytest.raises(keeldb.ValidationError):
        t.put_item({"id": 2}, return_values="ALL_NEW")
    with pytest.raises(keeldb.ExpressionSyntaxError):
        t.put_item({"id": 2}, condition="Price >")
    assert t.get_item({"id": 2}) is None


# ---- update expressions ------------------------------------------------------------------

UPDATES: List[Any] = [
    # (item before, update, values, item after)
    ({"Price": 100}, "SET ProductCategory = :c, Price = :p", {":c": "Hardware", ":p": 60},
     {"Price": 60, "ProductCategory": "Hardware"}),
    ({"RelatedItems": ["Hammer", "Nails"]}, "SET RelatedItems[1] = :ri", {":ri": "Screwdriver"},
     {"RelatedItems": ["Hammer", "Screwdriver"]}),
    ({"Price": 100}, "SET Price = Price - :p", {":p": 15}, {"Price": 85}),
    ({"ri": ["Hammer"]}, "SET ri = list_append(ri, :v)", {":v": ["Chisel"]},
     {"ri": ["Hammer", "Chisel"]}),
    ({"ri": ["Hammer"]}, "SET ri = list_append(:v, ri)", {":v": ["Chisel"]},
     {"ri": ["Chisel", "Hammer"]}),
    ({}, "SET Price = if_not_exists(Price, :p)", {":p": 100}, {"Price": 100}),
    ({"a": 1, "b": 2}, "SET a = b, b = a", None, {"a": 2, "b": 1}),
    ({"l": [0, 1, 2]}, "SET l[9] = :x", {":x": "x"}, {"l": [0, 1, 2, "x"]}),
    ({"l": ["a", "b", "c", "d"]}, "REMOVE l[1], l[2]", None, {"l": ["a", "d"]}),
    ({"m": {"a": 1, "b": 2}, "x": 1}, "REMOVE m.a, x", None, {"m": {"b": 2}}),
    ({"q": 5}, "ADD q :n", {":n": 5}, {"q": 10}),
    ({}, "ADD q :n", {":n": -5}, {"q": -5}),
    ({"Color": {"Red"}}, "ADD Color :c", {":c": {"Orange", "Red"}}, {"Color": {"Red", "Orange"}}),
    ({"Color": {"Red", "Yellow"}}, "DELETE Color :c", {":c": {"Yellow"}}, {"Color": {"Red"}}),
    ({"Color": {"Red"}}, "DELETE Color :c", {":c": {"Red"}}, {}),
    ({"n": decimal.Decimal("0.1")}, "ADD n :d", {":d": decimal.Decimal("0.2")},
     {"n": decimal.Decimal("0.3")}),
    ({"n": 12345678901234567890123456789012345678}, "SET n = n + :one", {":one": 1},
     {"n": 12345678901234567890123456789012345679}),
]


@pytest.mark.parametrize("before,update,values,after", UPDATES)
def test_update_examples(
    t: keeldb.Table, before: Dict[str, Any], update: str, values: Any, after: Dict[str, Any]
) -> None:
    t.put_item({"id": 1, **before})
    t.update_item({"id": 1}, update, values=values)
    assert t.get_item({"id": 1}) == {"id": 1, **after}


@pytest.mark.parametrize(
    "update,values,message",
    [
        ("SET id = :v", {":v": 2}, "Cannot update attribute id. This attribute is part of the key"),
        ("SET a = :v, a.b = :v", {":v": 1}, "Two document paths overlap"),
        ("SET zz.b = :v", {":v": 1}, "invalid for update"),
        ("SET n = n + a", None, "incorrect data type"),
        ("SET n = n + :s", {":s": "x"}, "operator or function: \\+, operand type: S"),
        ("ADD s :s", {":s": "x"}, "operator: ADD, operand type: STRING"),
        ("DELETE n :n", {":n": 1}, "operator: DELETE, operand type: NUMBER"),
        ("SET x = nothere", None, "does not exist in the item"),
    ],
)
def test_update_errors(t: keeldb.Table, update: str, values: Any, message: str) -> None:
    t.put_item({"id": 1, "n": 1, "a": {}})
    with pytest.raises(keeldb.ValidationError, match=message):
        t.update_item({"id": 1}, update, values=values)
    assert t.get_item({"id": 1}) == {"id": 1, "n": 1, "a": {}}


def test_update_return_values(t: keeldb.Table) -> None:
    start = {"id": 1, "a": 1, "m": {"x": 1, "y": 2}}
    upd = "SET a = a + :one, m.x = :one + m.x, b = :one"
    want = {
        "NONE": None,
        "ALL_OLD": start,
        "UPDATED_OLD": {"a": 1, "m": {"x": 1}},
        "ALL_NEW": {"id": 1, "a": 2, "m": {"x": 2, "y": 2}, "b": 1},
        "UPDATED_NEW": {"a": 2, "m": {"x": 2}, "b": 1},
    }
    for rv, expected in want.items():
        t.put_item(start)
        assert t.update_item({"id": 1}, upd, values={":one": 1}, return_values=rv) == expected
    # Created from the key; a condition guards it.
    assert t.update_item({"id": 7}, "SET v = :v", values={":v": "x"},
                         return_values="ALL_NEW") == {"id": 7, "v": "x"}
    with pytest.raises(keeldb.ConditionalCheckFailed) as e:
        t.update_item({"id": 7}, "SET v = :w", condition="v = :w", values={":w": "y"},
                      return_values_on_condition_check_failure="ALL_OLD")
    assert e.value.item == {"id": 7, "v": "x"}
    with pytest.raises(keeldb.ValidationError):
        t.update_item({"id": 7}, "SET v = :w", values={":w": 1}, return_values="SOME")


# ---- transactions ------------------------------------------------------------------------


def test_transact_write(db: keeldb.Database, t: keeldb.Table) -> None:
    other = db.create_table("orders", partition_key=("o", "S"), sort_key=("n", "N"))
    t.put_item({"id": 1, "stock": 5})
    t.put_item({"id": 3, "gone": True})
    t.put_item({"id": 4})
    db.transact_write([
        {"Update": {"TableName": "products", "Key": {"id": 1},
                    "UpdateExpression": "ADD stock :m", "ConditionExpression": "stock >= :n",
                    "ExpressionAttributeValues": {":m": -2, ":n": 2}}},
        {"Put": {"TableName": "orders", "Item": {"o": "a", "n": 1, "qty": 2},
                 "ConditionExpression": "attribute_not_exists(o)"}},
        {"Delete": {"TableName": "products", "Key": {"id": 3}}},
        {"ConditionCheck": {"TableName": "products", "Key": {"id": 4},
                            "ConditionExpression": "attribute_exists(id)"}},
    ])
    assert t.get_item({"id": 1}) == {"id": 1, "stock": 3}
    assert other.get_item({"o": "a", "n": 1}) == {"o": "a", "n": 1, "qty": 2}
    assert t.get_item({"id": 3}) is None

    with pytest.raises(keeldb.TransactionCanceled, match="ConditionalCheckFailed") as e:
        db.transact_write([
            {"Update": {"TableName": "products", "Key": {"id": 1},
                        "UpdateExpression": "ADD stock :m",
                        "ExpressionAttributeValues": {":m": -1}}},
            {"Put": {"TableName": "orders", "Item": {"o": "a", "n": 1, "qty": 9},
                     "ConditionExpression": "attribute_not_exists(o)",
                     "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
        ])
    assert e.value.reasons == [
        {"Code": "None"},
        {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed",
         "Item": {"o": "a", "n": 1, "qty": 2}},
    ]
    assert t.get_item({"id": 1}) == {"id": 1, "stock": 3}  # nothing written

    with pytest.raises(keeldb.TransactionCanceled) as e:
        db.transact_write([
            {"Update": {"TableName": "products", "Key": {"id": 1},
                        "UpdateExpression": "SET stock = stock + nothere"}},
        ])
    assert e.value.reasons[0]["Code"] == "ValidationError"

    with pytest.raises(keeldb.ValidationError, match="multiple operations on one item"):
        db.transact_write([
            {"Delete": {"TableName": "products", "Key": {"id": 1}}},
            {"ConditionCheck": {"TableName": "products", "Key": {"id": 1},
                                "ConditionExpression": "attribute_exists(id)"}},
        ])
    with pytest.raises(keeldb.ValidationError):
        db.transact_write([])
    with pytest.raises(keeldb.ValidationError):
        db.transact_write([{"Delete": {"TableName": "products", "Key": {"id": i}}}
                           for i in range(101)])
    with pytest.raises(keeldb.ValidationError, match="unknown action"):
        db.transact_write([{"Upsert": {"TableName": "products"}}])
    with pytest.raises(keeldb.TableNotFoundError):
        db.transact_write([{"Delete": {"TableName": "nothere", "Key": {"id": 1}}}])


def test_transact_write_shapes(db: keeldb.Database, t: keeldb.Table) -> None:
    """Plain dicts are unpacked in C, anything else in Python: both write the same, and a
    malformed action gets the message that names it, with nothing written."""
    from types import MappingProxyType

    put = {"Put": {"TableName": "products", "Item": {"id": 1, "n": 1}}}
    db.transact_write((put,))                                     # a tuple of dicts
    db.transact_write(iter([{"Put": {"TableName": "products", "Item": {"id": 2}}}]))
    db.transact_write([MappingProxyType(                          # other mappings
        {"Update": MappingProxyType({"TableName": "products", "Key": {"id": 1},
                                     "UpdateExpression": "SET n = n + :one",
                                     "ExpressionAttributeValues": {":one": 1}})})])
    assert t.get_item({"id": 1}) == {"id": 1, "n": 2}
    assert t.get_item({"id": 2}) == {"id": 2}
    bad = [
        ({"Put": {"TableName": "products", "Key": {"id": 9}}}, "Put has unknown members"),
        ({"Delete": {"TableName": "products", "Item": {"id": 9}}}, "unknown members"),
        ({"Put": {"TableName": "products", "Item": {"id": 9},
                  "UpdateExpression": "SET a = :a"}}, "unknown members"),
        ({"Put": {"Item": {"id": 9}}}, "needs TableName"),
        ({"Put": {"TableName": "products"}}, "Put needs Item"),
        ({"Put": {"TableName": "products", "Item": None}}, "Put needs Item"),
        ({"Delete": {"TableName": "products"}}, "Delete needs Key"),
        ({"Put": {"TableName": "products", "Item": {"id": 9}}, "Delete": {}},
         "exactly one of"),
        ({"Put": [("TableName", "products")]}, "Put must be a dict"),
        ("Put", "must be a dict with exactly one"),
    ]
    for action, msg in bad:
        with pytest.raises(keeldb.ValidationError, match=msg):
            db.transact_write([{"Put": {"TableName": "products", "Item": {"id": 9}}}, action])
        assert t.get_item({"id": 9}) is None
    with pytest.raises(TypeError, match="TableName|table"):
        db.transact_write([{"Put": {"TableName": 5, "Item": {"id": 9}}}])
    assert t.get_item({"id": 9}) is None


def test_transact_get(db: keeldb.Database, t: keeldb.Table) -> None:
    t.put_item({"id": 1, "a": {"b": 2, "c": 3}, "d": 4})
    got = db.transact_get([
        {"Get": {"TableName": "products", "Key": {"id": 1}}},
        {"Get": {"TableName": "products", "Key": {"id": 2}}},
        {"Get": {"TableName": "products", "Key": {"id": 1},
                 "ProjectionExpression": "#a.b, d", "ExpressionAttributeNames": {"#a": "a"}}},
    ])
    assert got == [{"id": 1, "a": {"b": 2, "c": 3}, "d": 4}, None, {"a": {"b": 2}, "d": 4}]


# ---- threads -----------------------------------------------------------------------------


def test_racing_conditional_puts(t: keeldb.Table) -> None:
    """Two threads put the same keys, each only if absent: every key has one winner."""
    keys = 200
    wins: List[List[int]] = [[], []]
    errors: List[BaseException] = []
    barrier = threading.Barrier(2)

    def run(who: int) -> None:
        try:
            barrier.wait()
            for k in range(keys):
                try:
                    t.put_item({"id": k, "by": who}, condition="attribute_not_exists(id)")
                    wins[who].append(k)
                except keeldb.ConditionalCheckFailed:
                    pass
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    ts = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    assert not errors
    assert sorted(wins[0] + wins[1]) == list(range(keys))
    for k in range(keys):
        assert t.get_item({"id": k})["by"] == (0 if k in set(wins[0]) else 1)  # type: ignore[index]


def test_counter_no_lost_updates(db: keeldb.Database, t: keeldb.Table) -> None:
    """ADD from several threads and transactions that move units: nothing is lost."""
    t.put_item({"id": 1, "n": 0})
    t.put_item({"id": 2, "v": 50})
    t.put_item({"id": 3, "v": 50})
    per = 100

    def adder() -> None:
        for _ in range(per):
            t.update_item({"id": 1}, "ADD n :one", values={":one": 1})

    def mover() -> None:
        for i in range(per):
            a, b = (2, 3) if i % 2 else (3, 2)
            db.transact_write([
                {"Update": {"TableName": "products", "Key": {"id": a},
                            "UpdateExpression": "ADD v :m",
                            "ExpressionAttributeValues": {":m": -1}}},
                {"Update": {"TableName": "products", "Key": {"id": b},
                            "UpdateExpression": "ADD v :p",
                            "ExpressionAttributeValues": {":p": 1}}},
            ])
            x, y = db.transact_get([{"Get": {"TableName": "products", "Key": {"id": 2}}},
                                    {"Get": {"TableName": "products", "Key": {"id": 3}}}])
            assert x is not None and y is not None and x["v"] + y["v"] == 100

    errors: List[BaseException] = []

    def guard(f: Any) -> Any:
        def run() -> None:
            try:
                f()
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)
        return run

    ts = [threading.Thread(target=guard(adder)) for _ in range(2)]
    ts.append(threading.Thread(target=guard(mover)))
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    assert not errors, errors
    assert t.get_item({"id": 1}) == {"id": 1, "n": 2 * per}


# ---- exact arithmetic, against decimal with unbounded precision ---------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402

_digits = st.integers(min_value=-(10**38) + 1, max_value=10**38 - 1)
_numbers = st.builds(lambda m, e: decimal.Decimal(m).scaleb(e), _digits,
                     st.integers(min_value=-40, max_value=40))


def _significant(d: decimal.Decimal) -> int:
    """Significant digits, without rounding (normalize() would round to the context)."""
    digits = "".join(map(str, d.as_tuple().digits)).strip("0")
    return len(digits)


@settings(max_examples=200, deadline=None)
@given(a=_numbers, b=_numbers, minus=st.booleans())
def test_arithmetic_is_exact(a: decimal.Decimal, b: decimal.Decimal, minus: bool) -> None:
    db = keeldb.Database.create_in_memory()
    try:
        t = db.create_table("nums", partition_key=("id", "N"))
        t.put_item({"id": 1, "n": a})
        with decimal.localcontext() as ctx:
            ctx.prec = 200
            want = a - b if minus else a + b
        expr = "SET n = n - :b" if minus else "SET n = n + :b"
        if _significant(want) > 38:
            with pytest.raises(keeldb.ValidationError):
                t.update_item({"id": 1}, expr, values={":b": b})
            assert t.get_item({"id": 1}) == {"id": 1, "n": a}
        else:
            got = t.update_item({"id": 1}, expr, values={":b": b}, return_values="UPDATED_NEW")
            assert got is not None and decimal.Decimal(got["n"]) == want
    finally:
        db.close()
