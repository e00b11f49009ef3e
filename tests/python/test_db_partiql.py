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
