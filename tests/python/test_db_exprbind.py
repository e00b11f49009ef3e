"""A kept parse bound to new values (src/db/expr_bind.c, src/db/expr_cache.c).

Conditions and updates are cached by their text and ExpressionAttributeNames; a request with
other ExpressionAttributeValues reuses the parse with its values bound in, after the
parser's value-dependent checks run again in the parser's order. So every request must
behave exactly as on a database that never saw the expression: the same results, and for
bad values the same exception with the same message, also right after a cached success.
"""
from __future__ import annotations

from decimal import Decimal
import threading

import pytest

import keeldb


def _table(db: keeldb.Database) -> keeldb.Table:
    return db.create_table("things", ("pk", "S"), ("sk", "N"))


@pytest.fixture
def t():
    db = keeldb.Database.create_in_memory()
    yield _table(db)
    db.close()


def _outcome(t: keeldb.Table, call: dict) -> tuple:
    """(exception type name, message) or ("ok", the item after the call)."""
    key = {"pk": "a", "sk": 1}
    try:
        if "update" in call:
            t.update_item(key, call["update"], condition=call.get("condition"),
                          names=call.get("names"), values=call.get("values"))
        else:
            t.put_item(dict(key, **call.get("item", {})), condition=call["condition"],
                       names=call.get("names"), values=call.get("values"))
    except (keeldb.Error, TypeError) as e:
        return type(e).__name__, str(e)
    return "ok", t.get_item(key)


def _fresh(call: dict, seed: dict) -> tuple:
    db = keeldb.Database.create_in_memory()
    try:
        t = _table(db)
        t.put_item(dict(seed))
        return _outcome(t, call)
    finally:
        db.close()


SEED = {"pk": "a", "sk": 1, "n": 5, "s": "text", "l": [1, 2], "ss": {"x", "y"},
        "ns": {Decimal(1), Decimal(2)}, "m": {"k": 1}}

# (a request that succeeds and is kept, then requests with the same text and names but
# other values: each must come out as on a fresh database)
CASES = [
    ({"update": "SET n = n + :d", "values": {":d": 1}}, [
        {":d": 7}, {":d": -12}, {":d": Decimal("0.25")}, {":d": 10**30},
        {":d": Decimal("1e100")}, {":d": "x"}, {":d": [1]}, {":d": True}, {":d": None},
        {":e": 1}, {":d": 1, ":e": 2}, {},
    ]),
    ({"update": "SET a = :x + :y", "values": {":x": 1, ":y": 2}}, [
        {":x": 3, ":y": 4}, {":x": "s"}, {":y": "s"}, {":x": "s", ":y": 1},
        {":x": 1, ":y": [2]}, {":y": 1, ":x": 2},
    ]),
    ({"update": "SET v = :v", "values": {":v": 1}}, [
        {":v": "str"}, {":v": b"\x00\x01"}, {":v": [1, "a", None]}, {":v": {"m": {"n": 1}}},
        {":v": {"a", "b"}}, {":v": True}, {":v": None}, {":v": ""}, {":v": Decimal("-0.5")},
    ]),
    ({"update": "ADD ss :s", "values": {":s": {"z"}}}, [
        {":s": {"w", "x"}}, {":s": 3}, {":s": "z"}, {":s": [1]},
    ]),
    ({"update": "ADD n :d DELETE ns :x", "values": {":d": 1, ":x": {Decimal(1)}}}, [
        {":d": 2, ":x": {Decimal(2)}}, {":d": "two", ":x": {Decimal(2)}},
        {":d": 2, ":x": 1}, {":d": 2, ":x": {"a"}},
    ]),
    ({"update": "SET l = list_append(l, :e)", "values": {":e": [3]}}, [
        {":e": [4, 5]}, {":e": 4}, {":e": {"m": 1}},
    ]),
    ({"update": "SET n = if_not_exists(absent, :z) - :d",
      "values": {":z": 10, ":d": 1}}, [
        {":z": 0, ":d": 100}, {":z": "s", ":d": 1}, {":z": 1, ":d": {"x"}},
    ]),
    ({"update": "SET r = :r", "condition": "n BETWEEN :lo AND :hi",
      "values": {":r": 1, ":lo": 1, ":hi": 9}}, [
        {":r": 2, ":lo": 6, ":hi": 9}, {":r": 2, ":lo": 9, ":hi": 1},
        {":r": 2, ":lo": "a", ":hi": 9}, {":r": 2, ":lo": [1], ":hi": 9},
        {":r": 2, ":lo": 1, ":hi": 5},
    ]),
    ({"update": "SET r = :r", "condition": "attribute_type(n, :t)",
      "values": {":r": 1, ":t": "N"}}, [
        {":r": 2, ":t": "S"}, {":r": 2, ":t": "N"}, {":r": 2, ":t": "X"},
        {":r": 2, ":t": 3}, {":r": 2, ":t": "NS"},
    ]),
    ({"update": "SET r = :r", "condition": "begins_with(s, :p) AND n < :lim",
      "values": {":r": 1, ":p": "te", ":lim": 100}}, [
        {":r": 2, ":p": "x", ":lim": 100}, {":r": 2, ":p": 1, ":lim": 100},
        {":r": 2, ":p": b"te", ":lim": 100}, {":r": 2, ":p": "te", ":lim": {"a"}},
        {":r": 2, ":p": "te", ":lim": True},
    ]),
    ({"condition": "attribute_not_exists(pk) OR n IN (:a, :b)", "item": {"v": 1},
      "values": {":a": 5, ":b": 6}}, [
        {":a": 1, ":b": 2}, {":a": "5", ":b": 5}, {":a": 5},
    ]),
    ({"update": "SET #x = :v", "names": {"#x": "n"}, "values": {":v": 1}}, [
        {":v": 2}, {":v": "two"}, {":w": 1},
    ]),
]


@pytest.mark.parametrize("first, others", CASES, ids=[c[0].get("update") or c[0]["condition"]
                                                       for c in CASES])
def test_bound_values_behave_as_a_fresh_parse(t, first, others):
    t.put_item(dict(SEED))
    kept = _outcome(t, first)
    assert kept == _fresh(first, SEED), kept
    assert kept[0] == "ok", kept
    for values in others:
        t.put_item(dict(SEED))          # the same item for every request
        call = dict(first, values=values)
        got = _outcome(t, call)
        assert got == _fresh(call, SEED), (values, got)
        # and once more, now that an error (never kept) or a success went before
        t.put_item(dict(SEED))
        assert _outcome(t, call) == got


def test_a_cached_success_then_a_wrong_type_raises_the_parsers_error(t):
    key = {"pk": "c", "sk": 0}
    for i in range(3):
        t.update_item(key, "SET n = if_not_exists(n, :zero) + :d", values={":zero": 0, ":d": i})
    assert t.get_item(key)["n"] == 3
    with pytest.raises(keeldb.ValidationError) as e:
        t.update_item(key, "SET n = if_not_exists(n, :zero) + :d",
                      values={":zero": 0, ":d": "x"})
    assert str(e.value).endswith("(Invalid UpdateExpression: Incorrect operand type for operator or "
                                 "function; operator or function: +, operand type: S)")
    with pytest.raises(keeldb.ValidationError, match="attribute value: :d"):
        t.update_item(key, "SET n = if_not_exists(n, :zero) + :d", values={":zero": 0})
    with pytest.raises(keeldb.ValidationError, match=r"unused in expressions: keys: \{:extra\}"):
        t.update_item(key, "SET n = if_not_exists(n, :zero) + :d",
                      values={":zero": 0, ":d": 1, ":extra": 2})
    # the kept parse is untouched by the failures
    t.update_item(key, "SET n = if_not_exists(n, :zero) + :d", values={":d": 10, ":zero": 0})
    assert t.get_item(key)["n"] == 13


def test_values_in_another_order_and_of_other_lengths(t):
    key = {"pk": "o", "sk": 0}
    text = "SET a = :a, b = :b, c = :c"
    t.update_item(key, text, values={":a": 1, ":b": 2, ":c": 3})
    t.update_item(key, text, values={":c": "long " * 100, ":a": [1, 2, 3], ":b": {"x": 1}})
    assert t.get_item(key) == {"pk": "o", "sk": 0, "a": [1, 2, 3], "b": {"x": 1},
                               "c": "long " * 100}


def test_names_changing_reach_other_attributes(t):
    key = {"pk": "n", "sk": 0}
    for name, value in [("x", 1), ("y", 2), ("x", 3), ("z z", 4)]:
        t.update_item(key, "SET #a = :v", names={"#a": name}, values={":v": value})
    assert t.get_item(key) == {"pk": "n", "sk": 0, "x": 3, "y": 2, "z z": 4}


def test_threads_bind_their_own_values(t):
    key = {"pk": "t", "sk": 0}
    t.put_item(dict(key, tally=0, **{f"w{i}": 0 for i in range(4)}))
    errors: list[str] = []
    bad: list[str] = []

    def worker(i: int) -> None:
        try:
            for j in range(300):
                if j % 50 == 49:    # a wrong type among them: refused, never kept
                    try:
                        t.update_item(key, "SET tally = tally + :d, #w = #w + :one",
                                      names={"#w": f"w{i}"}, values={":d": "x", ":one": 1})
                        bad.append("accepted")
                    except keeldb.ValidationError as e:
                        if "operand type: S" not in str(e):
                            bad.append(str(e))
                    continue
                t.update_item(key, "SET tally = tally + :d, #w = #w + :one",
                              names={"#w": f"w{i}"}, values={":d": i + 1, ":one": 1})
        except Exception as e:  # pragma: no cover - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors and not bad, (errors, bad)
    item = t.get_item(key)
    done = 300 - 300 // 50
    assert item["tally"] == sum((i + 1) * done for i in range(4))
    assert [item[f"w{i}"] for i in range(4)] == [done] * 4


def test_a_repeated_values_map_is_still_checked_after_a_bad_one(t):
    """Each thread remembers the last good small map (expr_lex.c); another map, good or
    bad, is checked in full, and the same bad map keeps failing."""
    key = {"pk": "r", "sk": 0}
    for _ in range(2):
        t.update_item(key, "SET v = :v", values={":v": 1})
    for _ in range(2):
        with pytest.raises(keeldb.ValidationError, match="invalid key"):
            t.update_item(key, "SET v = :v", values={"v": 1})
        with pytest.raises(keeldb.ValidationError, match=r"unused in expressions: keys: \{:w\}"):
            t.update_item(key, "SET v = :v", values={":v": 1, ":w": 2})
        t.update_item(key, "SET v = :v", values={":v": 1})
    assert t.get_item(key)["v"] == 1
