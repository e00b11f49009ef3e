"""A stored float32 vector reads as the list of numbers it stands for, through the public
API: conditions, filters, projections, PartiQL, vector search filters, update operands and
the DynamoDB endpoint see ``v[i]`` as the number DynamoDB shows for it (the shortest decimal
that reads back as the float32: numpy's ``str`` of it, so 0.1f is 0.1). Each check runs on
the indexed vector ``v`` (written as a list, stored as a vector), the unindexed numpy
vector ``u``, and, as the model, ``l``: a plain list of the same numbers, which every
expression must treat the same way."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, List

import pytest

import keeldb

np = pytest.importorskip("numpy")

DIMS = 6


def shown(x: Any) -> float:
    """The number a float32 stands for: its shortest round-trip decimal."""
    return float(str(np.float32(x)))


def make(tmp_path: Path, rows: Any) -> tuple:
    db = keeldb.Database(str(tmp_path / "e.keel"))
    t = db.create_table("tbl", partition_key=("p", "N"), vector_indexes=[
        {"name": "vix", "attribute": "v", "dimensions": DIMS, "distance": "EUCLIDEAN"}])
    for p, r in enumerate(rows):
        t.put_item({"p": p, "v": [float(x) for x in r], "u": np.asarray(r, np.float32),
                    "l": [shown(x) for x in r]})
    return db, t


def keys(t: keeldb.Table, **kw: Any) -> List[int]:
    return sorted(int(i["p"]) for i in t.scan(projection="p", **kw))


ROWS = [
    [0.1, 2, -3.5, 1 / 3, 3.4028235e38, 1e-45],
    [1, 2, 3, 4, 5, 6],
    [0.5, 0.25, -1, 0, 7.000001, 1e-7],
]

EXPRS = [
    ("X[0] = :x", {":x": 0.1}),
    ("X[3] = :x", {":x": 0.33333334}),
    ("X[3] = :x", {":x": 1 / 3}),             # the double 1/3 is not the float32's number
    ("X[1] > :x", {":x": 1}),
    ("X[2] < :x", {":x": 0}),
    ("X[4] >= :x", {":x": 3.4028235e38}),
    ("X[5] = :x", {":x": 1e-45}),
    ("X[4] = :x", {":x": 7.000001}),
    ("X[1] BETWEEN :a AND :b", {":a": 0.25, ":b": 2}),
    ("X[0] IN (:a, :b)", {":a": 1, ":b": 0.5}),
    ("attribute_exists(X[5])", None),
    ("attribute_exists(X[6])", None),
    ("attribute_not_exists(X[6])", None),
    ("contains(X, :x)", {":x": -1}),
    ("contains(X, :x)", {":x": 6}),
    ("X = :l", {":l": [1, 2, 3, 4, 5, 6]}),
    ("X = :l", {":l": [1, 2, 3, 4, 5, 7]}),
    ("X <> :l", {":l": [1, 2, 3, 4, 5, 6]}),
    ("attribute_type(X, :t)", {":t": "L"}),
    ("attribute_type(X[0], :t)", {":t": "N"}),
    ("size(X) = :n", {":n": DIMS}),
    ("X[0] < X[1]", None),
    ("X[0].a = :x", {":x": 1}),
    ("X[0][0] = :x", {":x": 1}),
    ("NOT X[1] = :x", {":x": 2}),
]


def test_conditions_and_filters_match_the_list(tmp_path: Path) -> None:
    db, t = make(tmp_path, ROWS)
    for expr, values in EXPRS:
        want = keys(t, filter=expr.replace("X", "l"), values=values)
        for attr in ("v", "u"):
            got = keys(t, filter=expr.replace("X", attr), values=values)
            assert got == want, (expr, attr, values)
    # the expected truths, so that the model itself is checked
    assert keys(t, filter="v[0] = :x", values={":x": 0.1}) == [0]
    assert keys(t, filter="v[3] = :x", values={":x": 1 / 3}) == []
    assert keys(t, filter="v[1] > :x", values={":x": 1}) == [0, 1]
    assert keys(t, filter="attribute_exists(v[5])") == [0, 1, 2]
    assert keys(t, filter="attribute_exists(v[6])") == []
    assert keys(t, filter="v = :l", values={":l": [1, 2, 3, 4, 5, 6]}) == [1]
    assert keys(t, filter="contains(u, :x)", values={":x": -1}) == [2]
    # a condition on a write reads the stored vector's elements too
    t.put_item({"p": 1, "v": [9] * DIMS}, condition="v[2] = :x", values={":x": 3})
    with pytest.raises(keeldb.ConditionalCheckFailed):
        t.put_item({"p": 1, "v": [8] * DIMS}, condition="v[2] = :x", values={":x": 3})
    with pytest.raises(keeldb.ConditionalCheckFailed):
        t.delete_item({"p": 0}, condition="attribute_exists(v[6])")
    t.update_item({"p": 0}, update="SET g = :g", condition="v[3] = :x",
                  values={":g": 1, ":x": 0.33333334})
    assert t.get_item({"p": 0})["g"] == 1
    db.close()


def test_random_elements_compare_as_numbers(tmp_path: Path) -> None:
    """Random float32 elements against thresholds drawn from them (ties included) and
    between them: the vector, the unindexed vector and the list agree on every comparator."""
    rng = np.random.default_rng(5)
    rows = (rng.standard_normal((40, DIMS)) * 10.0 ** rng.integers(-8, 8, (40, 1))).astype(np.float32)
    db, t = make(tmp_path, rows)
    flat = rows.ravel()
    for n in range(60):
        i = int(rng.integers(0, DIMS))
        x = shown(flat[rng.integers(0, flat.size)])
        op = ["=", "<>", "<", "<=", ">", ">="][n % 6]
        want = keys(t, filter=f"l[{i}] {op} :x", values={":x": x})
        assert keys(t, filter=f"v[{i}] {op} :x", values={":x": x}) == want
        assert keys(t, filter=f"u[{i}] {op} :x", values={":x": x}) == want
        j = (i + 1) % DIMS
        assert keys(t, filter=f"v[{i}] {op} u[{j}]") == keys(t, filter=f"l[{i}] {op} l[{j}]")
    db.close()


def test_projections(tmp_path: Path) -> None:
    db, t = make(tmp_path, ROWS)
    got = {int(i["p"]): i for i in t.scan(projection="p, v[3], v[0], u[1], l[0]")}
    assert got[0] == {"p": 0, "v": [0.1, 0.33333334], "u": [2.0], "l": [0.1]}
    assert all(type(x) is float for x in got[0]["v"])
    assert got[1] == {"p": 1, "v": [1.0, 4.0], "u": [2.0], "l": [1.0]}
    for i in t.scan(projection="p, v[4], v[5]"):
        r = ROWS[int(i["p"])]
        assert i["v"] == [shown(r[4]), shown(r[5])]
    # past the end, or below an element (a number): nothing
    assert list(t.scan(projection="v[6], v[0].x, v[1][0], p", filter="p = :p",
                       values={":p": 0})) == [{"p": 0}]
    # the same as the list's, element for element
    for i in t.scan(projection="v[2], v[5], u[2], u[5], l[2], l[5]"):
        assert i["v"] == i["u"] == i["l"]
    # query and get paths: the same projection code
    q = list(t.query("p = :p", values={":p": 2}, projection="v[1]"))
    assert q == [{"v": [0.25]}]
    # and the whole vector is still the vector (a numpy view)
    w = list(t.scan(projection="v", filter="p = :p", values={":p": 1}))
    assert isinstance(w[0]["v"], np.ndarray)
    del w
    db.close()


def test_partiql_and_updates(tmp_path: Path) -> None:
    db, t = make(tmp_path, ROWS)
    rows = db.execute('SELECT p, v[2] FROM "tbl" WHERE v[0] = ? AND v[1] > ?', [0.1, 1])
    assert rows == [{"p": 0, "v": [-3.5]}]
    rows = db.execute('SELECT p FROM "tbl" WHERE u[3] IN [?, ?]', [4, 0.33333334])
    assert sorted(int(r["p"]) for r in rows) == [0, 1]
    assert db.execute('SELECT p FROM "tbl" WHERE v[6] IS NOT MISSING') == []
    assert len(db.execute('SELECT p FROM "tbl" WHERE v[5] IS NOT MISSING')) == 3
    db.execute('UPDATE "tbl" SET hit = ? WHERE p = ? AND v[3] = ?', [True, 0, 0.33333334])
    assert t.get_item({"p": 0})["hit"] is True
    # an update reads an element as the number it stands for
    out = t.update_item({"p": 0}, update="SET a = v[3], b = u[0] + :one, c = l[0] + :one",
                        values={":one": 1}, return_values="UPDATED_NEW")
    assert out == {"a": 0.33333334, "b": Decimal("1.1"), "c": Decimal("1.1")}  # sums are exact
    old = t.update_item({"p": 0}, update="SET v[0] = :z", values={":z": 7},
                        return_values="UPDATED_OLD")
    assert old == {"v": [0.1]}
    db.close()


def test_search_filter_on_elements(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    rows = rng.standard_normal((200, DIMS)).astype(np.float32)
    db, t = make(tmp_path, rows)
    q = np.zeros(DIMS, np.float32)
    hits = t.search("vix", q, 100, filter="v[0] > :x AND u[1] < :y", values={":x": 0, ":y": 0},
                    projection="p, v[0]")
    want = {p for p, r in enumerate(rows) if r[0] > 0 and r[1] < 0}
    got: Dict[int, Any] = {int(i["p"]): i["v"][0] for i, _ in hits}
    assert set(got) == want
    assert all(got[p] == shown(rows[p][0]) for p in got)
    db.close()


def test_dynamodb_endpoint(tmp_path: Path, cli: str, monkeypatch: Any) -> None:
    """Through `keel serve` and boto3: a filter on an element and a projection of elements,
    which come back as DynamoDB's N text of the float32's shortest decimal."""
    boto3 = pytest.importorskip("boto3")
    from keeldb.serve import serve

    monkeypatch.setenv("KEEL_BIN", cli)
    with serve(tmp_path / "db.keel") as s:
        c = boto3.client("dynamodb", endpoint_url=s.endpoint_url, region_name="us-west-2",
                         aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
        c.create_table(
            TableName="docs", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            VectorIndexes=[{"IndexName": "emb", "VectorAttribute": {"AttributeName": "v"},
                            "Dimensions": 3, "DistanceFunction": "DOT_PRODUCT",
                            "Projection": {"ProjectionType": "ALL"}}])
        for pk, xs in (("a", ["0.1", "2", "0.3333333333"]), ("b", ["5", "-1", "1e-7"])):
            c.put_item(TableName="docs",
                       Item={"pk": {"S": pk}, "v": {"L": [{"N": x} for x in xs]}})
        r = c.scan(TableName="docs", FilterExpression="v[0] < :x AND attribute_exists(v[2])",
                   ProjectionExpression="v[2], v[0]", ExpressionAttributeValues={":x": {"N": "1"}})
        assert r["Items"] == [{"v": {"L": [{"N": "0.1"}, {"N": "0.33333334"}]}}]
        r = c.scan(TableName="docs", FilterExpression="v = :l",
                   ExpressionAttributeValues={":l": {"L": [{"N": "5"}, {"N": "-1"},
                                                           {"N": "0.0000001"}]}},
                   ProjectionExpression="pk")
        assert r["Items"] == [{"pk": {"S": "b"}}]
        r = c.execute_statement(Statement="SELECT v[1] FROM docs WHERE v[1] < ?",
                                Parameters=[{"N": "0"}])
        assert r["Items"] == [{"v": {"L": [{"N": "-1"}]}}]
