"""Tests for `keel db FILE update | transact | stats` (tools/keel/db_cmds.c), run as a
subprocess: DynamoDB JSON in and out, the exit status contract of test_cli_db.py (0
success, 2 usage error, 3 a refused request with "keel: <what>: ..." on stderr), a failed
condition or a canceled transaction writing nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import keeldb
import pytest

# The `cli` fixture (the keel binary under test) comes from conftest.py.


def run(cli: str, *args: str | os.PathLike[str], input: bytes = b"",
        check: int | None = 0) -> subprocess.CompletedProcess[bytes]:
    r = subprocess.run([cli, *map(os.fspath, args)], input=input, capture_output=True,
                       timeout=60)
    if check is not None:
        assert r.returncode == check, (args, r.returncode, r.stdout, r.stderr)
    return r


def err(r: subprocess.CompletedProcess[bytes], code: int, *needles: str) -> str:
    text = r.stderr.decode()
    assert r.returncode == code, (r.returncode, text)
    assert text.startswith("keel: "), text
    for n in needles:
        assert n in text, (n, text)
    return text


S = lambda s: {"S": s}  # noqa: E731
N = lambda n: {"N": str(n)}  # noqa: E731
d = json.dumps


@pytest.fixture
def db(tmp_path: Path, cli: str) -> Path:
    path = tmp_path / "app.keel"
    run(cli, "db", path, "create-table", "stock", "sku:S")
    run(cli, "db", path, "put", "stock", d({"sku": S("a"), "qty": N(5)}))
    return path


def item(cli: str, db: Path, sku: str) -> Any:
    r = run(cli, "db", db, "get", "stock", d({"sku": S(sku)}), check=None)
    return json.loads(r.stdout) if r.returncode == 0 else None


# ---- update -------------------------------------------------------------------------------


def test_update_set_arithmetic_and_return_values(cli: str, db: Path) -> None:
    key = d({"sku": S("a")})
    one = d({":one": N(1)})
    assert run(cli, "db", db, "update", "stock", key, "SET qty = qty + :one",
               "--values", one).stdout == b""
    out = run(cli, "db", db, "update", "stock", key, "SET qty = qty + :one", "--values", one,
              "--return", "ALL_NEW").stdout
    assert json.loads(out) == {"sku": S("a"), "qty": N(7)}
    out = run(cli, "db", db, "update", "stock", key, "SET qty = qty + :one", "--values", one,
              "--return", "UPDATED_OLD").stdout
    assert json.loads(out) == {"qty": N(7)}
    out = run(cli, "db", db, "update", "stock", key, "SET #n = :v", "--names",
              d({"#n": "name"}), "--values", d({":v": S("bolt")}), "--return=ALL_OLD").stdout
    assert json.loads(out) == {"sku": S("a"), "qty": N(8)}
    out = run(cli, "db", db, "update", "stock", key, "REMOVE #n", "--names", d({"#n": "name"}),
              "--return", "UPDATED_NEW").stdout
    assert out == b""   # nothing left of the updated paths: no Attributes
    assert item(cli, db, "a") == {"sku": S("a"), "qty": N(8)}


def test_update_creates_the_item_from_its_key(cli: str, db: Path) -> None:
    run(cli, "db", db, "update", "stock", d({"sku": S("new")}), "ADD qty :n",
        "--values", d({":n": N("12345678901234567890123456789012345678")}))
    assert item(cli, db, "new") == {"sku": S("new"),
                                    "qty": N("12345678901234567890123456789012345678")}


def test_update_condition(cli: str, db: Path) -> None:
    key = d({"sku": S("a")})
    vals = d({":m": N(2), ":n": N(2)})
    run(cli, "db", db, "update", "stock", key, "SET qty = qty - :m", "--condition",
        "qty >= :n", "--values", vals)
    assert item(cli, db, "a")["qty"] == N(3)
    r = run(cli, "db", db, "update", "stock", key, "SET qty = qty - :m", "--condition",
            "qty >= :n AND qty > :m", "--values", d({":m": N(2), ":n": N(4)}), check=None)
    err(r, 3, "update 'stock'", "qty >= :n AND qty > :m", "conditional request failed")
    assert r.stdout == b""
    assert item(cli, db, "a")["qty"] == N(3)   # nothing written
    r = run(cli, "db", db, "update", "stock", d({"sku": S("zz")}), "SET qty = :n",
            "--condition", "attribute_exists(sku)", "--values", d({":n": N(1)}), check=None)
    err(r, 3, "attribute_exists(sku)")
    assert item(cli, db, "zz") is None


def test_update_errors(cli: str, db: Path) -> None:
    key = d({"sku": S("a")})
    err(run(cli, "db", db, "update", "stock", key, "SET qty = :v", "--return", "ALL",
            check=None), 2, "--return", "'ALL'")
    err(run(cli, "db", db, "update", "stock", key, check=None), 2, "missing UPDATE_EXPR")
    err(run(cli, "db", db, "update", "stock", "{nope", "SET a = :v", check=None), 2,
        "KEY is not valid DynamoDB JSON")
    err(run(cli, "db", db, "update", "stock", key, "SET a = :v", "--values", "[1]",
            check=None), 2, "--values")
    err(run(cli, "db", db, "update", "stock", key, "SET a = :v", "--filter", "x",
            check=None), 2, "unknown option '--filter'")
    # The database refuses: status 3 with its message, nothing written.
    err(run(cli, "db", db, "update", "stock", key, "SET sku = :v", "--values",
            d({":v": S("b")}), check=None), 3, "part of the key")
    err(run(cli, "db", db, "update", "stock", key, "SET = :v", "--values",
            d({":v": S("b")}), check=None), 3)
    err(run(cli, "db", db, "update", "stock", key, "SET a = :v", check=None), 3, ":v")
    err(run(cli, "db", db, "update", "nosuch", key, "SET a = :v", "--values",
            d({":v": N(1)}), check=None), 3, "nosuch")
    err(run(cli, "db", db.with_name("missing.keel"), "update", "stock", key, "SET a = :v",
            "--values", d({":v": N(1)}), check=None), 3, "missing.keel")
    assert not db.with_name("missing.keel").exists()
    assert item(cli, db, "a") == {"sku": S("a"), "qty": N(5)}


# ---- transact -----------------------------------------------------------------------------


def test_transact_applies_all_actions(cli: str, db: Path) -> None:
    run(cli, "db", db, "create-table", "orders", "id:S")
    actions = [
        {"Update": {"TableName": "stock", "Key": {"sku": S("a")},
                    "UpdateExpression": "SET qty = qty - :m", "ConditionExpression": "qty >= :m",
                    "ExpressionAttributeValues": {":m": N(2)}}},
        {"Put": {"TableName": "orders", "Item": {"id": S("o1"), "sku": S("a")},
                 "ConditionExpression": "attribute_not_exists(id)"}},
    ]
    r = run(cli, "db", db, "transact", d(actions))
    assert r.stdout == b"" and r.stderr == b""
    assert item(cli, db, "a")["qty"] == N(3)
    out = run(cli, "db", db, "get", "orders", d({"id": S("o1")})).stdout
    assert json.loads(out) == {"id": S("o1"), "sku": S("a")}
    # From standard input, in the request's own shape; Delete and ConditionCheck.
    body = {"TransactItems": [
        {"ConditionCheck": {"TableName": "stock", "Key": {"sku": S("a")},
                            "ConditionExpression": "qty = :q",
                            "ExpressionAttributeValues": {":q": N(3)}}},
        {"Delete": {"TableName": "orders", "Key": {"id": S("o1")}}}]}
    run(cli, "db", db, "transact", "-", input=d(body).encode())
    assert run(cli, "db", db, "count", "orders").stdout == b"0\n"


def test_transact_canceled_prints_reasons_and_writes_nothing(cli: str, db: Path) -> None:
    actions = [
        {"Put": {"TableName": "stock", "Item": {"sku": S("b"), "qty": N(1)}}},
        {"Update": {"TableName": "stock", "Key": {"sku": S("a")},
                    "UpdateExpression": "SET qty = qty - :m", "ConditionExpression": "qty >= :m",
                    "ExpressionAttributeValues": {":m": N(50)}}},
    ]
    r = run(cli, "db", db, "transact", d(actions), check=None)
    err(r, 3, "TransactionCanceledException", "[None, ConditionalCheckFailed]")
    reasons = json.loads(r.stdout)
    assert reasons == {"CancellationReasons": [
        {"Code": "None"},
        {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}]}
    assert item(cli, db, "b") is None
    assert item(cli, db, "a")["qty"] == N(5)
    # The same with the current item (ReturnValuesOnConditionCheckFailure).
    actions[1]["Update"]["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    r = run(cli, "db", db, "transact", "-", input=d(actions).encode(), check=None)
    assert json.loads(r.stdout)["CancellationReasons"][1]["Item"] == {"sku": S("a"),
                                                                      "qty": N(5)}


def test_transact_errors(cli: str, db: Path) -> None:
    put = {"Put": {"TableName": "stock", "Item": {"sku": S("a")}}}
    err(run(cli, "db", db, "transact", "nope", check=None), 2, "not a JSON list")
    err(run(cli, "db", db, "transact", "[{", check=None), 2, "SerializationException")
    err(run(cli, "db", db, "transact", check=None), 2, "missing ACTIONS")
    err(run(cli, "db", db, "transact", "[]", check=None), 3, "ValidationException")
    err(run(cli, "db", db, "transact", d([put, put]), check=None), 3,
        "multiple operations on one item")
    err(run(cli, "db", db, "transact", d([{"Put": {"TableName": "nosuch",
                                                    "Item": {"sku": S("a")}}}]), check=None),
        3, "ResourceNotFoundException")
    err(run(cli, "db", db, "transact", d([{"Update": {
        "TableName": "stock", "Key": {"sku": S("a")}, "UpdateExpression": "SET q = :v"}}]),
        check=None), 3, "ValidationException")
    err(run(cli, "db", db.with_name("missing.keel"), "transact", d([put]), check=None), 3)
    assert not db.with_name("missing.keel").exists()
    assert item(cli, db, "a") == {"sku": S("a"), "qty": N(5)}


# ---- stats --------------------------------------------------------------------------------


def test_stats(cli: str, tmp_path: Path) -> None:
    path = tmp_path / "s.keel"
    with keeldb.Database(path) as kdb:
        t = kdb.create_table(
            "events", partition_key=("device", "S"), sort_key=("ts", "N"),
            global_indexes=[{"name": "by_status", "partition_key": ("status", "S"),
                             "sort_key": ("ts", "N"), "projection": ["temp"]}],
            local_indexes=[{"name": "by_temp", "sort_key": ("temp", "N"),
                            "projection": "KEYS_ONLY"}])
        for i in range(10):
            t.put_item({"device": "d", "ts": i, "temp": i * 2,
                        **({"status": "ok"} if i % 2 else {})})
        t.enable_ttl("expires")
    js = json.loads(run(cli, "db", path, "stats", "events", "--json").stdout)
    assert js["TableName"] == "events" and js["ItemCount"] == 10
    assert js["TableSizeBytes"] > 0 and js["TimeToLiveAttribute"] == "expires"
    lsi, gsi = js["Indexes"]
    assert lsi["IndexName"] == "by_temp" and lsi["Kind"] == "LOCAL"
    assert lsi["Projection"] == {"ProjectionType": "KEYS_ONLY"} and lsi["ItemCount"] == 10
    assert gsi["IndexName"] == "by_status" and gsi["Kind"] == "GLOBAL"
    assert gsi["KeySchema"] == [
        {"AttributeName": "status", "AttributeType": "S", "KeyType": "HASH"},
        {"AttributeName": "ts", "AttributeType": "N", "KeyType": "RANGE"}]
    assert gsi["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["temp"]}
    assert gsi["ItemCount"] == 5 and gsi["IndexSizeBytes"] > 0   # sparse
    text = run(cli, "db", path, "stats", "events").stdout.decode()
    assert "items:          10\n" in text and "ttl attribute:  expires\n" in text
    assert "by_status (global): status, ts; projection INCLUDE temp; 5 entries" in text
    assert "by_temp (local): device, temp; projection KEYS_ONLY; 10 entries" in text


def test_stats_plain_table_and_errors(cli: str, db: Path) -> None:
    js = json.loads(run(cli, "db", db, "stats", "stock", "--json").stdout)
    assert js["ItemCount"] == 1 and js["TimeToLiveAttribute"] is None and js["Indexes"] == []
    assert "ttl attribute:  none" in run(cli, "db", db, "stats", "stock").stdout.decode()
    err(run(cli, "db", db, "stats", "nosuch", check=None), 3, "stats 'nosuch'")
    err(run(cli, "db", db, "stats", check=None), 2, "missing TABLE")
    err(run(cli, "db", db, "stats", "stock", "--sync", check=None), 2, "unknown option")


# ---- help ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["update", "transact", "stats"])
def test_help(cli: str, db: Path, command: str) -> None:
    overview = run(cli, "help", "db").stdout.decode()
    assert f"\n  {command} " in overview
    text = run(cli, "help", "db", command).stdout.decode()
    assert text.startswith(f"Usage: keel db FILE {command} ")
    assert run(cli, "db", db, command, "--help").stdout.decode() == text
    assert run(cli, "db", command, "--help").stdout.decode() == text
