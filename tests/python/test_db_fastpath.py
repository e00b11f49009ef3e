"""The per-item fast paths: keeldb._db.Table's C methods and the parse cache of conditions
and updates (src/db/expr_cache.c).

A cached parse must behave exactly like a fresh one: it is reused only for the same
expression text and names (other values are bound into it: test_db_exprbind.py), the
placeholders it used still count for the "unused" check of each request, and an expression
that fails keeps failing with the parser's message.
"""
from __future__ import annotations

import inspect
from decimal import Decimal
import threading

import pytest

import keeldb


@pytest.fixture
def t():
    db = keeldb.Database.create_in_memory()
    yield db.create_table("things", ("pk", "S"), ("sk", "N"))
    db.close()


def test_table_is_a_c_base_with_signatures(t):
    assert isinstance(t, keeldb._db.Table)
    assert t._db is t.database and t._name == "things" == t.name
    assert list(inspect.signature(keeldb.Table.get_item).parameters) == ["self", "key"]
    assert list(inspect.signature(keeldb.Table.update_item).parameters)[:3] == [
        "self", "key", "update"]
    assert list(inspect.signature(keeldb.Table).parameters) == ["db", "name"]


def test_table_arguments_are_checked():
    db = keeldb.Database.create_in_memory()
    with pytest.raises(TypeError, match="keeldb.Database"):
        keeldb.Table(object(), "t")
    with pytest.raises(TypeError, match="table name must be str"):
        keeldb.Table(db, 3)
    with pytest.raises(keeldb.ValidationError, match="NUL"):
        keeldb.Table(db, "a\0b")
    with pytest.raises(keeldb.TableNotFoundError):
        keeldb.Table(db, "absent").get_item({"pk": "a"})
    with pytest.raises(TypeError, match="key"):
        keeldb.Table(db, "absent").get_item()
    db.close()


def test_table_methods_after_close_raise(t):
    t.put_item({"pk": "a", "sk": 1})
    t.database.close()
    for call in (lambda: t.get_item({"pk": "a", "sk": 1}),
                 lambda: t.put_item({"pk": "a", "sk": 1}),
                 lambda: t.delete_item({"pk": "a", "sk": 1}),
                 lambda: t.update_item({"pk": "a", "sk": 1}, "SET v = :v", values={":v": 1})):
        with pytest.raises(ValueError, match="closed"):
            call()


def test_table_keywords_and_return_values(t):
    assert t.put_item(item={"pk": "a", "sk": 1, "v": 1}) is None
    old = t.put_item({"pk": "a", "sk": 1, "v": 2}, return_values="ALL_OLD")
    assert old == {"pk": "a", "sk": 1, "v": 1}
    new = t.update_item(key={"pk": "a", "sk": 1}, update="SET v = v + :one",
                        values={":one": 1}, return_values="UPDATED_NEW")
    assert new == {"v": 3}
    assert t.delete_item(key={"pk": "a", "sk": 1}, return_values="ALL_OLD")["v"] == 3
    with pytest.raises(TypeError):
        t.get_item({"pk": "a", "sk": 1}, {"extra": 1})


def test_repeated_update_uses_each_calls_values(t):
    t.put_item({"pk": "a", "sk": 1, "n": 0})
    for i in range(5):
        t.update_item({"pk": "a", "sk": 1}, "SET n = n + :d", values={":d": 1})
    assert t.get_item({"pk": "a", "sk": 1})["n"] == 5
    # Same text, other values: the cached parse bound to them, not its first values.
    t.update_item({"pk": "a", "sk": 1}, "SET n = n + :d", values={":d": 10})
    assert t.get_item({"pk": "a", "sk": 1})["n"] == 15
    # Same text and values, other names: another parse.
    t.update_item({"pk": "a", "sk": 1}, "SET #x = :d", names={"#x": "m"}, values={":d": 7})
    t.update_item({"pk": "a", "sk": 1}, "SET #x = :d", names={"#x": "k"}, values={":d": 7})
    item = t.get_item({"pk": "a", "sk": 1})
    assert item["m"] == 7 and item["k"] == 7


def test_repeated_condition_is_evaluated_each_time(t):
    t.put_item({"pk": "a", "sk": 1}, condition="attribute_not_exists(pk)")
    with pytest.raises(keeldb.ConditionalCheckFailed):
        t.put_item({"pk": "a", "sk": 1}, condition="attribute_not_exists(pk)")
    t.put_item({"pk": "b", "sk": 1}, condition="attribute_not_exists(pk)")
    assert t.count() == 2


def test_unused_placeholders_are_reported_on_cached_parses(t):
    t.put_item({"pk": "a", "sk": 1, "n": 0})
    key = {"pk": "a", "sk": 1}
    # Warm the cache with the update alone, then use its values from a condition too.
    t.update_item(key, "SET n = :v", values={":v": 1})
    t.update_item(key, "SET n = :v", condition="n = :v", values={":v": 1})
    assert t.get_item(key)["n"] == 1
    for _ in range(2):   # both a fresh and a cached parse
        with pytest.raises(keeldb.ValidationError, match="unused"):
            t.update_item(key, "SET n = :v", values={":v": 1, ":w": 2})
        with pytest.raises(keeldb.ValidationError, match="unused"):
            t.put_item({"pk": "a", "sk": 1}, condition="attribute_exists(pk)",
                       names={"#unused": "x"})
    # A condition that uses a value the cached update also uses: both count as used.
    t.update_item(key, "SET n = :v", condition="attribute_exists(pk) AND n = :v",
                  values={":v": 1})
    # An update first parsed after a condition that used the same value: its entry must
    # still record that it uses :v, for a later request where it is alone.
    t.update_item(key, "SET n = :v, q = :v", condition="n = :v", values={":v": 1})
    t.update_item(key, "SET n = :v, q = :v", values={":v": 1})
    assert t.get_item(key)["q"] == 1


def test_failing_expressions_keep_failing(t):
    for _ in range(3):
        with pytest.raises(keeldb.ExpressionSyntaxError):
            t.update_item({"pk": "a", "sk": 1}, "SET n = = 1")
        with pytest.raises(keeldb.ValidationError):
            t.update_item({"pk": "a", "sk": 1}, "SET pk = :v", values={":v": "x"})


def test_cached_update_on_two_tables_checks_each_tables_key(t):
    db = t.database
    u = db.create_table("numbered", ("n", "N"))
    t.update_item({"pk": "a", "sk": 1}, "SET n = :v", values={":v": 1})
    with pytest.raises(keeldb.ValidationError):   # n is u's partition key
        u.update_item({"n": 1}, "SET n = :v", values={":v": 1})


def test_many_expressions_evict_and_threads_share(t):
    key = {"pk": "a", "sk": 1}
    t.put_item({"pk": "a", "sk": 1, "n": 0})
    for i in range(200):    # more than the cache holds
        t.update_item(key, f"SET a{i % 100} = :v", values={":v": i})
    errors = []

    def work(k: int) -> None:
        try:
            for i in range(300):
                t.update_item(key, f"SET n = n + :one, b{i % 70} = :k",
                              values={":one": 1, ":k": k})
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert t.get_item(key)["n"] == 1200


def test_update_checks_what_it_writes_and_the_size(t):
    """An update of a stored item checks the attributes it writes (and, for items long
    enough to matter, the whole item's size); the errors are the full check's."""
    key = {"pk": "a", "sk": 1}
    t.put_item({"pk": "a", "sk": 1, "big": "x" * 390_000})
    with pytest.raises(keeldb.ValidationError, match="size has exceeded"):
        t.update_item(key, "SET more = :s", values={":s": "y" * 20_000})
    assert "more" not in t.get_item(key)
    t.update_item(key, "SET more = :s", values={":s": "y" * 1_000})
    assert len(t.get_item(key)["more"]) == 1_000
    # Nested paths take the full check; a number out of range fails either way.
    t.put_item({"pk": "b", "sk": 1, "m": {"n": 1}, "n": Decimal("9e125")})
    with pytest.raises(keeldb.ValidationError):
        t.update_item({"pk": "b", "sk": 1}, "SET n = n + :d", values={":d": Decimal("9e125")})
    with pytest.raises(keeldb.ValidationError):
        t.update_item({"pk": "b", "sk": 1}, "SET m.n = n + :d", values={":d": Decimal("9e125")})
    t.update_item({"pk": "b", "sk": 1}, "SET m.n = m.n + :d, x = :d", values={":d": 2})
    assert t.get_item({"pk": "b", "sk": 1})["m"] == {"n": 3}


def test_update_of_an_item_with_a_vector_keeps_it_aligned(t):
    key = {"pk": "v", "sk": 1}
    t.put_item({"pk": "v", "sk": 1, "vec": keeldb.Vector([1.0, 2.0, 3.0]), "n": 1})
    for _ in range(3):
        t.update_item(key, "SET n = n + :one, s = :s", values={":one": 1, ":s": "abc"})
    item = t.get_item(key)
    assert item["n"] == 4 and item["s"] == "abc"
    assert list(item["vec"]) == [1.0, 2.0, 3.0]
