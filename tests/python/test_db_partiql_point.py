"""A kept PartiQL SELECT that names one item by its whole key (src/db/partiql.c, point_get).

`SELECT * FROM t WHERE pk = ? AND sk = ?` run again is read as a point get at once, without
the kept parse's copy or a plan. Every run must come out exactly as on a database that never
saw the text (its first run takes the parser and the planner): the same items, and for
parameters of other types, counts or sizes the same results or the same errors, word for
word; a table re-created with another key schema is seen at once.
"""
from __future__ import annotations

from decimal import Decimal
import threading

import pytest

import keeldb


def _music(db: keeldb.Database) -> None:
    t = db.create_table("Music", partition_key=("Artist", "S"), sort_key=("Year", "N"))
    for i in range(20):
        t.put_item({"Artist": f"a{i % 4}", "Year": 2000 + i, "Title": f"t{i}", "n": i})


def _outcome(db: keeldb.Database, stmt: str, params) -> tuple:
    try:
        return "ok", db.execute(stmt, params)
    except (keeldb.Error, TypeError) as e:
        return type(e).__name__, str(e)


def _fresh(stmt: str, params) -> tuple:
    db = keeldb.Database.create_in_memory()
    try:
        _music(db)
        return _outcome(db, stmt, params)
    finally:
        db.close()


@pytest.fixture
def db():
    d = keeldb.Database.create_in_memory()
    _music(d)
    yield d
    d.close()


STATEMENTS = [
    'SELECT * FROM "Music" WHERE Artist = ? AND "Year" = ?',
    'SELECT * FROM Music WHERE "Year" = ? AND Artist = ?',
    'SELECT * FROM Music WHERE ? = Artist AND ? = "Year"',
]
PARAMS = [
    ["a1", 2001], ["a1", 2005], ["a0", 2001], ["nobody", 2001], ["a2", Decimal("2002")],
    ["a2", Decimal("2002.0")], ["a3", 2003.0],
    [1, 2001], ["a1", "2001"], ["a1", b"x"], ["a1", None], ["a1", True], ["a1", [2001]],
    ["a1"], ["a1", 2001, 3], [], None, ["", 2001], ["a" * 3000, 2001], ["a1", 10**40],
    ["a1", {"x"}], ["a1", {"m": 1}],
]


@pytest.mark.parametrize("stmt", STATEMENTS)
def test_point_select_behaves_as_a_fresh_run(db, stmt):
    first = _outcome(db, stmt, ["a1", 2001] if not stmt.startswith('SELECT * FROM Music WHERE "Year"')
                     else [2001, "a1"])
    assert first[0] == "ok" and len(first[1]) == 1
    for params in PARAMS:
        if params and stmt.startswith('SELECT * FROM Music WHERE "Year"') and len(params) >= 2:
            params = [params[1], params[0]] + params[2:]
        got = _outcome(db, stmt, params)
        assert got == _fresh(stmt, params), (params, got)
        assert _outcome(db, stmt, params) == got       # and again, now kept


def test_point_select_finds_what_a_get_finds(db):
    t = db.table("Music")
    stmt = 'SELECT * FROM Music WHERE Artist = ? AND "Year" = ?'
    for i in range(20):
        key = {"Artist": f"a{i % 4}", "Year": 2000 + i}
        assert db.execute(stmt, [key["Artist"], key["Year"]]) == [t.get_item(key)]
        assert db.execute(stmt, [key["Artist"], key["Year"] + 1]) == []
    assert db.execute(stmt, ["a1", 2001], limit=1) == [t.get_item({"Artist": "a1", "Year": 2001})]


def test_point_select_follows_the_catalog(db):
    stmt = 'SELECT * FROM Music WHERE Artist = ? AND "Year" = ?'
    assert len(db.execute(stmt, ["a1", 2001])) == 1
    db.delete_table("Music")
    with pytest.raises(keeldb.TableNotFoundError):
        db.execute(stmt, ["a1", 2001])
    # The same names, the key types swapped: the parameters no longer fit the key.
    t = db.create_table("Music", partition_key=("Year", "N"), sort_key=("Artist", "S"))
    t.put_item({"Artist": "a1", "Year": 2001, "v": 1})
    assert db.execute(stmt, ["a1", 2001]) == [{"Artist": "a1", "Year": 2001, "v": 1}]
    db.delete_table("Music")
    # A partition key only: two conjuncts are a key and a filter, not a point.
    t = db.create_table("Music", partition_key=("Artist", "S"))
    t.put_item({"Artist": "a1", "Year": 2001})
    t.put_item({"Artist": "a2", "Year": 1})
    assert db.execute(stmt, ["a1", 2001]) == [{"Artist": "a1", "Year": 2001}]
    assert db.execute(stmt, ["a1", 2002]) == []
    one = 'SELECT * FROM Music WHERE Artist = ?'
    for _ in range(3):
        assert db.execute(one, ["a2"]) == [{"Artist": "a2", "Year": 1}]
    assert db.execute(one, ["zz"]) == []


def test_point_select_errors_keep_their_positions(db):
    stmt = 'SELECT * FROM Music WHERE Artist = ? AND "Year" = ?'
    db.execute(stmt, ["a1", 2001])
    with pytest.raises(keeldb.ValidationError) as e:
        db.execute(stmt, ["a1"])
    assert str(e.value) == _fresh(stmt, ["a1"])[1]
    bad = 'SELECT * FROM Music WHERE Artist = ? AND "Year" = ? AND'
    with pytest.raises(keeldb.ExpressionSyntaxError, match="position 55"):
        db.execute(bad, ["a1", 2001])
    with pytest.raises(keeldb.ExpressionSyntaxError, match="position 55"):
        db.execute(bad, ["a1", 2001])


def test_point_select_from_threads(db):
    stmt = 'SELECT * FROM Music WHERE Artist = ? AND "Year" = ?'
    wrong: list = []

    def worker(k: int) -> None:
        for j in range(400):
            i = (j + k) % 20
            got = db.execute(stmt, [f"a{i % 4}", 2000 + i])
            if got != [{"Artist": f"a{i % 4}", "Year": 2000 + i, "Title": f"t{i}", "n": i}]:
                wrong.append((i, got))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not wrong
