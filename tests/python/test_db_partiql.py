"""PartiQL from Python: Database.execute and Database.batch_execute (keel_db_execute).

Every statement kind with Python values as parameters and results, the errors each raises
(ExpressionSyntaxError with the position, ValidationError, ConditionalCheckFailed,
DuplicateItemError, TableNotFoundError), and batches in DynamoDB's response shape.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

import keeldb


@pytest.fixture
def db() -> keeldb.Database:
    d = keeldb.Database.create_in_memory()
    t = d.create_table("Music", partition_key=("Artist", "S"), sort_key=("SongTitle", "S"))
    t.put_item({"Artist": "Acme", "SongTitle": "A1", "Year": 2001, "Tags": {"x", "y"}})
    t.put_item({"Artist": "Acme", "SongTitle": "A2", "Year": 2002})
    t.put_item({"Artist": "Zed", "SongTitle": "Z1", "Year": 1999, "Info": {"x": [1, 2]}})
    return d


def test_select(db: keeldb.Database) -> None:
    assert db.execute('SELECT * FROM "Music" WHERE Artist = ? AND SongTitle = ?', ["Acme", "A2"]) == [
        {"Artist": "Acme", "SongTitle": "A2", "Year": 2002}]
    assert db.execute("SELECT SongTitle FROM Music WHERE Artist = 'Acme' ORDER BY SongTitle DESC") == [
        {"SongTitle": "A2"}, {"SongTitle": "A1"}]
    assert db.execute("SELECT Info.x[1] FROM Music WHERE \"Year\" < ?", [2000]) == [
        {"Info": {"x": [2]}}]
    assert len(db.execute("SELECT * FROM Music", limit=2)) == 2
    assert db.execute("SELECT * FROM Music WHERE Tags IS NOT MISSING AND contains(Tags, 'x')")[0][
        "Tags"] == {"x", "y"}


def test_writes(db: keeldb.Database) -> None:
    item = {"Artist": "New", "SongTitle": "N1", "b": b"\x00\x01", "d": Decimal("1.25"),
            "l": [1, "a", None, True], "m": {"k": {"n": 1.5}}, "ns": {1, 2}}
    assert db.execute("INSERT INTO Music VALUE ?", [item]) == []
    assert db.table("Music").get_item({"Artist": "New", "SongTitle": "N1"}) == item
    with pytest.raises(keeldb.DuplicateItemError):
        db.execute("INSERT INTO Music VALUE {'Artist': 'New', 'SongTitle': 'N1'}")
    assert db.execute("UPDATE Music SET \"Year\" = \"Year\" + ? REMOVE Tags WHERE Artist = 'Acme' "
                      "AND SongTitle = 'A1' RETURNING ALL NEW *", [10]) == [
        {"Artist": "Acme", "SongTitle": "A1", "Year": 2011}]
    with pytest.raises(keeldb.ConditionalCheckFailed):
        db.execute("UPDATE Music SET x = 1 WHERE Artist = 'Acme' AND SongTitle = 'none'")
    with pytest.raises(keeldb.ConditionalCheckFailed):
        db.execute("DELETE FROM Music WHERE Artist = 'Acme' AND SongTitle = 'A2' AND \"Year\" = 1")
    assert db.execute("DELETE FROM Music WHERE Artist = 'Acme' AND SongTitle = 'A2' RETURNING ALL OLD *"
                      ) == [{"Artist": "Acme", "SongTitle": "A2", "Year": 2002}]
    assert db.execute("DELETE FROM Music WHERE Artist = 'Acme' AND SongTitle = 'A2'") == []


def test_errors(db: keeldb.Database) -> None:
    with pytest.raises(keeldb.ExpressionSyntaxError, match="position 25"):
        db.execute("SELECT * FROM Music WHERE")
    with pytest.raises(keeldb.ValidationError, match="parameters"):
        db.execute("SELECT * FROM Music WHERE Artist = ?")
    with pytest.raises(keeldb.ValidationError):
        db.execute("UPDATE Music SET a = 1 WHERE Artist = 'Acme'")
    with pytest.raises(keeldb.TableNotFoundError):
        db.execute("SELECT * FROM nope")
    with pytest.raises(TypeError):
        db.execute("SELECT * FROM Music WHERE Artist = ?", "Acme")
    with pytest.raises(keeldb.UnsupportedTypeError):
        db.execute("SELECT * FROM Music WHERE Artist = ?", [object()])
    with pytest.raises(ValueError):
        db.execute("SELECT * FROM Music", limit=0)


def test_batch_execute(db: keeldb.Database) -> None:
    r = db.batch_execute([
        "SELECT * FROM Music WHERE Artist = 'Zed' AND SongTitle = 'Z1'",
        ("SELECT \"Year\" FROM Music WHERE Artist = ? AND SongTitle = ?", ["Acme", "A1"]),
        {"Statement": "SELECT * FROM Music WHERE Artist = ? AND SongTitle = 'x'",
         "Parameters": ["none"]},
        "SELECT * FROM Music WHERE Artist = 'Acme'",
    ])
    assert r[0] == {"Item": {"Artist": "Zed", "SongTitle": "Z1", "Year": 1999, "Info": {"x": [1, 2]}}}
    assert r[1] == {"Item": {"Year": 2001}}
    assert r[2] == {}
    assert r[3]["Error"]["Code"] == "ValidationError"
    w = db.batch_execute([
        "INSERT INTO Music VALUE {'Artist': 'B', 'SongTitle': 'b'}",
        "INSERT INTO Music VALUE {'Artist': 'B', 'SongTitle': 'b'}",
        ("UPDATE Music SET n = ? WHERE Artist = 'B' AND SongTitle = 'b' RETURNING MODIFIED NEW *", [5]),
    ])
    assert w[0] == {}
    assert w[1]["Error"]["Code"] == "DuplicateItem"
    assert w[2] == {"Item": {"n": 5}}
    with pytest.raises(keeldb.ValidationError):
        db.batch_execute([])
    with pytest.raises(keeldb.ValidationError):
        db.batch_execute(["SELECT * FROM Music", "DELETE FROM Music WHERE Artist = 'a' AND SongTitle = 'b'"])
    with pytest.raises(keeldb.ValidationError):
        db.batch_execute([42])


def _error(db: keeldb.Database, stmt: str, params: list) -> str:
    with pytest.raises(keeldb.Error) as e:
        db.execute(stmt, params)
    return f"{type(e.value).__name__}: {e.value}"


def _fresh() -> keeldb.Database:
    d = keeldb.Database.create_in_memory()
    d.create_table("Music", partition_key=("Artist", "S"), sort_key=("SongTitle", "S"))
    return d


def _nested(depth: int) -> list:
    v: list = []
    for _ in range(depth):
        v = [v]
    return v


def test_statement_cache_runs_each_text_with_its_own_parameters(db: keeldb.Database) -> None:
    """A statement run again is parsed once (partiql_cache.c); every run gets its own
    parameters, and a run whose parameters the parser refuses gets the parser's error."""
    get = 'SELECT * FROM "Music" WHERE Artist = ? AND SongTitle = ?'
    t = db.table("Music")
    for i in range(50):
        t.put_item({"Artist": f"a{i % 5}", "SongTitle": f"s{i}", "i": i})
    for i in range(50):
        assert db.execute(get, [f"a{i % 5}", f"s{i}"]) == [
            {"Artist": f"a{i % 5}", "SongTitle": f"s{i}", "i": i}]
    assert db.execute(get, ["a0", "nothere"]) == []
    assert db.execute(get, [1, "s1"]) == []        # a partition key of another type
    assert db.execute("SELECT i FROM Music WHERE Artist = ? AND i BETWEEN ? AND ?",
                      ["a1", 10, 25]) == [{"i": 11}, {"i": 16}, {"i": 21}]
    assert db.execute("SELECT i FROM Music WHERE Artist = ? AND i BETWEEN ? AND ?",
                      ["a2", 0, 7]) == [{"i": 2}, {"i": 7}]
    # Errors on a cached text are the parser's, word for word (a fresh database has the
    # text uncached).
    for stmt, params in [
        (get, ["a0"]), (get, ["a0", "s0", "extra"]), (get, []),
        ("SELECT * FROM Music WHERE Artist = ? AND i = ?", ["a0", set()]),
        ("SELECT * FROM Music WHERE Artist = ? AND i = ?", ["a0", Decimal("1e200")]),
        ("SELECT * FROM Music WHERE Artist = ? AND i = ?", ["a0", _nested(32)]),
    ]:
        db.execute(stmt, ["a0", "s0"][: stmt.count("?")])  # warm the cache
        assert _error(db, stmt, params) == _error(_fresh(), stmt, params)


def test_statement_cache_parameters_inside_literals_and_writes(db: keeldb.Database) -> None:
    ins = "INSERT INTO Music VALUE {'Artist': ?, 'SongTitle': ?, 'n': ?}"
    for i in range(3):
        db.execute(ins, ["P", f"p{i}", i])
    assert [r["n"] for r in db.execute("SELECT n FROM Music WHERE Artist = 'P'")] == [0, 1, 2]
    upd = "UPDATE Music SET n = n + ? WHERE Artist = ? AND SongTitle = ? RETURNING ALL NEW *"
    assert db.execute(upd, [5, "P", "p1"]) == [{"Artist": "P", "SongTitle": "p1", "n": 6}]
    assert db.execute(upd, [7, "P", "p2"]) == [{"Artist": "P", "SongTitle": "p2", "n": 9}]
    assert db.execute("SELECT * FROM Music WHERE Artist IN (?, ?) AND SongTitle = ?",
                      ["P", "Zed", "Z1"])[0]["Year"] == 1999
    db.execute("INSERT INTO Music VALUE ?", [{"Artist": "Q", "SongTitle": "q", "v": [1]}])
    db.execute("INSERT INTO Music VALUE ?", [{"Artist": "Q", "SongTitle": "r", "v": [2]}])
    assert [r["v"] for r in db.execute("SELECT v FROM Music WHERE Artist = 'Q'")] == [[1], [2]]


def test_statement_cache_plans_against_the_current_catalog(db: keeldb.Database) -> None:
    """Only parses are cached, never plans: a table dropped or re-created with another key
    schema is seen by the very next run of a cached text."""
    stmt = "SELECT * FROM Music WHERE Artist = ? AND SongTitle = ?"
    assert db.execute(stmt, ["Zed", "Z1"])[0]["Year"] == 1999
    db.delete_table("Music")
    with pytest.raises(keeldb.TableNotFoundError):
        db.execute(stmt, ["Zed", "Z1"])
    t = db.create_table("Music", partition_key=("SongTitle", "S"))
    t.put_item({"SongTitle": "Z1", "Artist": "Zed", "Year": 2020})
    t.put_item({"SongTitle": "Z2", "Artist": "Zed", "Year": 2021})
    assert db.execute(stmt, ["Zed", "Z1"]) == [{"SongTitle": "Z1", "Artist": "Zed", "Year": 2020}]
    assert db.execute(stmt, ["Zed", "Z3"]) == []


def test_statement_cache_eviction_and_threads(db: keeldb.Database) -> None:
    import threading

    t = db.table("Music")
    for i in range(200):   # more texts than the cache holds (64)
        t.put_item({"Artist": "E", "SongTitle": f"e{i}", "i": i})
        assert db.execute(f"SELECT i FROM Music WHERE Artist = 'E' AND SongTitle = 'e{i}'") == [
            {"i": i}]
    for i in range(0, 200, 7):
        assert db.execute(f"SELECT i FROM Music WHERE Artist = 'E' AND SongTitle = 'e{i}'") == [
            {"i": i}]
    bad: list = []

    def work(k: int) -> None:
        for i in range(300):
            j = (i * 7 + k) % 200
            stmt = ("SELECT i FROM Music WHERE Artist = ? AND SongTitle = ?" if i % 2 else
                    f"SELECT i FROM Music WHERE Artist = ? AND SongTitle = 'e{j}'")
            params = ["E", f"e{j}"] if i % 2 else ["E"]
            if db.execute(stmt, params) != [{"i": j}]:
                bad.append((k, i))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert bad == []


def test_select_by_key_hides_expired_items_and_follows_the_table() -> None:
    """A SELECT by key reads with the store key it planned while its table stands, so TTL
    (read at the get, with a moving clock) and a table re-created between runs are both
    honoured."""
    db = keeldb.Database.create_in_memory()
    t = db.create_table("ttl", partition_key=("p", "S"), sort_key=("k", "N"))
    db.set_clock(1000)
    t.enable_ttl("exp")
    t.put_item({"p": "a", "k": 1, "exp": 1010})
    t.put_item({"p": "a", "k": 2, "exp": 2000})
    sel = "SELECT * FROM ttl WHERE p = ? AND k = ?"
    assert db.execute(sel, ["a", 1]) == [{"p": "a", "k": 1, "exp": 1010}]
    db.set_clock(1010)
    assert db.execute(sel, ["a", 1]) == []
    assert db.execute(sel, ["a", 2]) == [{"p": "a", "k": 2, "exp": 2000}]
    assert db.execute("SELECT k FROM ttl WHERE p = 'a' AND k IN (1, 2)") == [{"k": 2}]
    assert db.execute("SELECT k FROM ttl WHERE p IN ('a', 'b') AND k = 2") == [{"k": 2}]
    t.disable_ttl()
    assert db.execute(sel, ["a", 1]) == [{"p": "a", "k": 1, "exp": 1010}]
    db.delete_table("ttl")
    db.create_table("ttl", partition_key=("p", "S"), sort_key=("k", "S"))
    db.table("ttl").put_item({"p": "a", "k": "1"})
    assert db.execute(sel, ["a", 1]) == []
    assert db.execute(sel, ["a", "1"]) == [{"p": "a", "k": "1"}]
