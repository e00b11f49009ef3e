"""Secondary indexes and TTL through keel serve and keeldb.dynamodb, with boto3 and PynamoDB.

The same checks run over HTTP (`keel serve` on loopback) and in-process: a table created
with a global and a local index, both queried (projections, order, LastEvaluatedKey with
the table's and the index's keys), DynamoDB's errors for a missing index and a consistent
read of a global one, UpdateTable adding a global index over existing items (the engine
backfills it before answering) and deleting it, and TTL: UpdateTimeToLive's refusals,
DescribeTimeToLive, and an expired item gone from GetItem, Query and the index. Over HTTP
the item's TTL is in the past; in-process the database's injectable clock moves instead.
PynamoDB's GlobalSecondaryIndex creates and queries an index of its own.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

boto3 = pytest.importorskip("boto3")
from botocore.exceptions import ClientError  # noqa: E402

import keeldb  # noqa: E402
from keeldb import dynamodb as kdynamo  # noqa: E402
from keeldb.serve import serve  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def keel_bin(cli: str) -> None:
    os.environ.setdefault("KEEL_BIN", cli)


@pytest.fixture()
def server(tmp_path: Path):
    with serve(tmp_path / "db.keel") as s:
        yield s


def _client(url: str):
    return boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")


def _code(e: pytest.ExceptionInfo) -> tuple[str, str]:
    err = e.value.response["Error"]
    return err["Code"], err["Message"]


def check_indexes(c) -> None:
    with pytest.raises(ClientError) as e:
        c.create_table(TableName="orders",
                       KeySchema=[{"AttributeName": "customer", "KeyType": "HASH"}],
                       AttributeDefinitions=[{"AttributeName": "customer", "AttributeType": "S"}],
                       GlobalSecondaryIndexes=[{
                           "IndexName": "by_status",
                           "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}],
                           "Projection": {"ProjectionType": "ALL"}}],
                       BillingMode="PAY_PER_REQUEST")
    assert _code(e)[0] == "ValidationException"
    assert "Some index key attributes are not defined" in _code(e)[1]

    d = c.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "customer", "KeyType": "HASH"},
                   {"AttributeName": "order", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "customer", "AttributeType": "S"},
                              {"AttributeName": "order", "AttributeType": "N"},
                              {"AttributeName": "status", "AttributeType": "S"},
                              {"AttributeName": "total", "AttributeType": "N"}],
        GlobalSecondaryIndexes=[{
            "IndexName": "by_status",
            "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"},
                          {"AttributeName": "order", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["total"]}}],
        LocalSecondaryIndexes=[{
            "IndexName": "by_total",
            "KeySchema": [{"AttributeName": "customer", "KeyType": "HASH"},
                          {"AttributeName": "total", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"}}],
        BillingMode="PAY_PER_REQUEST")["TableDescription"]
    assert [g["IndexName"] for g in d["GlobalSecondaryIndexes"]] == ["by_status"]
    assert [x["IndexName"] for x in d["LocalSecondaryIndexes"]] == ["by_total"]
    c.get_waiter("table_exists").wait(TableName="orders")

    for i in range(8):
        c.put_item(TableName="orders", Item={
            "customer": {"S": f"c{i % 2}"}, "order": {"N": str(i)},
            "status": {"S": "open" if i < 5 else "shipped"}, "total": {"N": str(100 - i)},
            "note": {"S": f"n{i}"}})
    c.put_item(TableName="orders", Item={"customer": {"S": "c0"}, "order": {"N": "50"}})

    t = c.describe_table(TableName="orders")["Table"]
    g = t["GlobalSecondaryIndexes"][0]
    assert g["IndexStatus"] == "ACTIVE" and g["ItemCount"] == 8 and g["IndexSizeBytes"] > 0
    assert g["IndexArn"].endswith(":table/orders/index/by_status")
    assert g["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["total"]}
    assert t["LocalSecondaryIndexes"][0]["ItemCount"] == 8
    assert {a["AttributeName"] for a in t["AttributeDefinitions"]} == {
        "customer", "order", "status", "total"}

    # the GSI, page by page: the projection, and resuming from LastEvaluatedKey
    pages, start = [], {}
    while True:
        r = c.query(TableName="orders", IndexName="by_status",
                    KeyConditionExpression="#s = :s", ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={":s": {"S": "open"}}, Limit=2, **start)
        pages.append(r["Items"])
        if "LastEvaluatedKey" not in r:
            break
        assert set(r["LastEvaluatedKey"]) == {"customer", "order", "status"}
        start = {"ExclusiveStartKey": r["LastEvaluatedKey"]}
    items = [i for p in pages for i in p]
    assert [i["order"]["N"] for i in items] == ["0", "1", "2", "3", "4"]
    assert "note" not in items[0] and items[0]["total"] == {"N": "100"}
    paginator = c.get_paginator("query")
    assert sum(p["Count"] for p in paginator.paginate(
        TableName="orders", IndexName="by_status", KeyConditionExpression="#s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "shipped"}}, PaginationConfig={"PageSize": 1})) == 3

    # the LSI: KEYS_ONLY, in index order, consistent reads allowed
    r = c.query(TableName="orders", IndexName="by_total", ConsistentRead=True,
                KeyConditionExpression="customer = :c AND #t < :t",
                ExpressionAttributeNames={"#t": "total"},
                ExpressionAttributeValues={":c": {"S": "c0"}, ":t": {"N": "99"}})
    assert [i["total"]["N"] for i in r["Items"]] == ["94", "96", "98"]
    assert set(r["Items"][0]) == {"customer", "order", "total"}

    with pytest.raises(ClientError) as e:
        c.query(TableName="orders", IndexName="by_status", ConsistentRead=True,
                KeyConditionExpression="#s = :s", ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":s": {"S": "open"}})
    assert _code(e) == ("ValidationException",
                        "Consistent reads are not supported on global secondary indexes")
    with pytest.raises(ClientError) as e:
        c.scan(TableName="orders", IndexName="nope")
    assert _code(e) == ("ValidationException", "The table does not have the specified index: nope")
    assert c.scan(TableName="orders", IndexName="by_status")["Count"] == 8

    # UpdateTable: a global index over the existing items, then gone again
    d = c.update_table(
        TableName="orders",
        AttributeDefinitions=[{"AttributeName": "note", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[{"Create": {
            "IndexName": "by_note", "KeySchema": [{"AttributeName": "note", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"}}}])["TableDescription"]
    assert [g["IndexName"] for g in d["GlobalSecondaryIndexes"]] == ["by_status", "by_note"]
    r = c.query(TableName="orders", IndexName="by_note", KeyConditionExpression="note = :n",
                ExpressionAttributeValues={":n": {"S": "n6"}})
    assert r["Items"] == [{"customer": {"S": "c0"}, "order": {"N": "6"}, "note": {"S": "n6"}}]
    c.update_table(TableName="orders",
                   GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by_note"}}])
    assert len(c.describe_table(TableName="orders")["Table"]["GlobalSecondaryIndexes"]) == 1
    with pytest.raises(ClientError) as e:
        c.update_table(TableName="orders",
                       GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by_note"}}])
    assert _code(e)[0] == "ResourceNotFoundException"


def check_ttl(c, expire) -> None:
    """`expire()` makes the item whose `exp` is `soon` expired (moves time past it)."""
    c.create_table(TableName="sessions",
                   KeySchema=[{"AttributeName": "user", "KeyType": "HASH"},
                              {"AttributeName": "id", "KeyType": "RANGE"}],
                   AttributeDefinitions=[{"AttributeName": "user", "AttributeType": "S"},
                                         {"AttributeName": "id", "AttributeType": "S"},
                                         {"AttributeName": "kind", "AttributeType": "S"}],
                   GlobalSecondaryIndexes=[{
                       "IndexName": "by_kind",
                       "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}],
                       "Projection": {"ProjectionType": "ALL"}}],
                   BillingMode="PAY_PER_REQUEST")
    assert c.describe_time_to_live(TableName="sessions")["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "DISABLED"}
    spec = {"Enabled": True, "AttributeName": "exp"}
    assert c.update_time_to_live(TableName="sessions", TimeToLiveSpecification=spec)[
        "TimeToLiveSpecification"] == spec
    assert c.describe_time_to_live(TableName="sessions")["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "exp"}
    with pytest.raises(ClientError) as e:
        c.update_time_to_live(TableName="sessions", TimeToLiveSpecification=spec)
    assert _code(e) == ("ValidationException", "TimeToLive is already enabled")
    with pytest.raises(ClientError) as e:
        c.update_time_to_live(TableName="sessions",
                              TimeToLiveSpecification={"Enabled": False, "AttributeName": "x"})
    assert _code(e)[1] == ("TimeToLive is active on a different AttributeName: "
                           "current AttributeName is exp")

    soon, later = expire(None)
    c.put_item(TableName="sessions", Item={"user": {"S": "u"}, "id": {"S": "old"},
                                           "kind": {"S": "web"}, "exp": {"N": str(soon)}})
    c.put_item(TableName="sessions", Item={"user": {"S": "u"}, "id": {"S": "new"},
                                           "kind": {"S": "web"}, "exp": {"N": str(later)}})
    expire(soon)
    key = {"user": {"S": "u"}, "id": {"S": "old"}}
    assert "Item" not in c.get_item(TableName="sessions", Key=key)
    r = c.query(TableName="sessions", KeyConditionExpression="#u = :u",
                ExpressionAttributeNames={"#u": "user"}, ExpressionAttributeValues={":u": {"S": "u"}})
    assert [i["id"]["S"] for i in r["Items"]] == ["new"]
    r = c.query(TableName="sessions", IndexName="by_kind", KeyConditionExpression="kind = :k",
                ExpressionAttributeValues={":k": {"S": "web"}})
    assert [i["id"]["S"] for i in r["Items"]] == ["new"]
    c.update_time_to_live(TableName="sessions",
                          TimeToLiveSpecification={"Enabled": False, "AttributeName": "exp"})
    assert c.describe_time_to_live(TableName="sessions")["TimeToLiveDescription"][
        "TimeToLiveStatus"] == "DISABLED"


def _past(soon):
    """Over HTTP the clock is the server's: the expiring item is written already expired."""
    now = int(time.time())
    return (now - 60, now + 3600) if soon is None else None


def test_indexes_http(server) -> None:
    check_indexes(_client(server.endpoint_url))


def test_ttl_http(server) -> None:
    check_ttl(_client(server.endpoint_url), _past)


def test_indexes_in_process(tmp_path: Path) -> None:
    check_indexes(kdynamo.client(tmp_path / "ip.keel"))


def test_ttl_in_process_clock(tmp_path: Path) -> None:
    db = keeldb.Database(str(tmp_path / "ttl.keel"))
    try:
        db.set_clock(1_000_000)

        def move(soon):
            if soon is None:
                return 1_000_100, 1_000_500
            db.set_clock(soon + 1)
            return None

        check_ttl(kdynamo.client(db), move)
    finally:
        db.close()


def test_pynamodb_gsi(server, monkeypatch) -> None:
    pytest.importorskip("pynamodb")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    from pynamodb.attributes import NumberAttribute, UnicodeAttribute
    from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
    from pynamodb.models import Model

    class ByCity(GlobalSecondaryIndex):
        class Meta:
            index_name = "by_city"
            projection = AllProjection()

        city = UnicodeAttribute(hash_key=True)
        age = NumberAttribute(range_key=True)

    class Person(Model):
        class Meta:
            table_name = "people"
            host = server.endpoint_url
            region = "us-east-1"
            billing_mode = "PAY_PER_REQUEST"

        name = UnicodeAttribute(hash_key=True)
        city = UnicodeAttribute()
        age = NumberAttribute()
        by_city = ByCity()

    Person.create_table(wait=True)
    for i, city in enumerate(["Oslo", "Lima", "Oslo", "Oslo"]):
        Person(f"p{i}", city=city, age=30 + i).save()
    assert [p.name for p in Person.by_city.query("Oslo", Person.age > 30)] == ["p2", "p3"]
    assert Person.by_city.count("Lima") == 1
