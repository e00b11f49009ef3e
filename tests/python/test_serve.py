"""keel serve and keeldb.dynamodb with real DynamoDB clients (boto3, PynamoDB, the AWS CLI).

Every server here is the `keel` binary on loopback (keeldb.serve starts it on a free port);
the in-process client and resource of keeldb.dynamodb go through the same C handler
without HTTP. Covered: tables, items, conditions and ReturnValues, Query/Scan with
boto3.dynamodb.conditions and paginators, batches, transactions, errors (__type, status,
message) and the protocol (x-amz-crc32, 413, malformed JSON, SigV4 with --auth), 8 client
threads mixing reads, conditional writes and transactions, and kill -9 during writes with
--sync data (every acknowledged write is there after a restart).
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import zlib
from decimal import Decimal
from pathlib import Path

import pytest

boto3 = pytest.importorskip("boto3")
from boto3.dynamodb.conditions import Attr, Key  # noqa: E402
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


def _client(url: str, **kw):
    return boto3.client("dynamodb", endpoint_url=url, region_name="us-west-2",
                        aws_access_key_id=kw.get("key", "AKIDEXAMPLE"),
                        aws_secret_access_key=kw.get("secret", "secret"))


def _resource(url: str):
    return boto3.resource("dynamodb", endpoint_url=url, region_name="us-west-2",
                          aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")


def _make_events(c) -> None:
    c.create_table(TableName="events",
                   KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                              {"AttributeName": "sk", "KeyType": "RANGE"}],
                   AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                         {"AttributeName": "sk", "AttributeType": "N"}],
                   BillingMode="PAY_PER_REQUEST")


# ---- boto3 low-level client ------------------------------------------------------------


def check_client(c) -> None:
    """The same checks for the HTTP client and the in-process one."""
    d = c.create_table(TableName="users",
                       KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                       AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                       BillingMode="PAY_PER_REQUEST")["TableDescription"]
    assert d["TableStatus"] == "ACTIVE"
    assert d["TableArn"].endswith(":123456789012:table/users")
    c.get_waiter("table_exists").wait(TableName="users")
    assert c.list_tables()["TableNames"] == ["users"]
    c.put_item(TableName="users", Item={"id": {"S": "u1"}, "n": {"N": "1.50"},
                                        "b": {"B": b"\x00\x01"}, "tags": {"SS": ["a", "b"]}})
    item = c.get_item(TableName="users", Key={"id": {"S": "u1"}})["Item"]
    assert item["n"] == {"N": "1.5"} and item["b"] == {"B": b"\x00\x01"}
    assert "Item" not in c.get_item(TableName="users", Key={"id": {"S": "nobody"}})
    got = c.get_item(TableName="users", Key={"id": {"S": "u1"}}, ProjectionExpression="#n",
                     ExpressionAttributeNames={"#n": "n"}, ReturnConsumedCapacity="TOTAL")
    assert got["Item"] == {"n": {"N": "1.5"}} and got["ConsumedCapacity"]["CapacityUnits"] == 0.5
    with pytest.raises(ClientError) as e:
        c.put_item(TableName="users", Item={"id": {"S": "u1"}},
                   ConditionExpression="attribute_not_exists(id)",
                   ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert e.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert e.value.response["Item"]["n"] == {"N": "1.5"}
    assert isinstance(e.value, c.exceptions.ConditionalCheckFailedException)
    r = c.update_item(TableName="users", Key={"id": {"S": "u1"}},
                      UpdateExpression="SET n = n + :d ADD visits :one",
                      ExpressionAttributeValues={":d": {"N": "0.25"}, ":one": {"N": "1"}},
                      ReturnValues="UPDATED_NEW")
    assert r["Attributes"] == {"n": {"N": "1.75"}, "visits": {"N": "1"}}
    old = c.delete_item(TableName="users", Key={"id": {"S": "u1"}}, ReturnValues="ALL_OLD")
    assert old["Attributes"]["visits"] == {"N": "1"}
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_item(TableName="missing", Key={"id": {"S": "x"}})
    with pytest.raises(ClientError) as e:
        c.get_item(TableName="users", Key={"id": {"N": "1"}})
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "Type mismatch for key id" in e.value.response["Error"]["Message"]
    with pytest.raises(c.exceptions.ResourceInUseException):
        c.create_table(TableName="users", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                       AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                       BillingMode="PAY_PER_REQUEST")
    # batches and transactions
    _make_events(c)
    for start in range(0, 60, 25):
        c.batch_write_item(RequestItems={"events": [
            {"PutRequest": {"Item": {"pk": {"S": "p"}, "sk": {"N": str(i)}, "v": {"N": str(i)}}}}
            for i in range(start, min(start + 25, 60))]})
    got = c.batch_get_item(RequestItems={"events": {"Keys": [
        {"pk": {"S": "p"}, "sk": {"N": str(i)}} for i in (1, 2, 99)]}})
    assert len(got["Responses"]["events"]) == 2 and got["UnprocessedKeys"] == {}
    pages = list(c.get_paginator("query").paginate(
        TableName="events", KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p"}}, PaginationConfig={"PageSize": 25}))
    assert sum(p["Count"] for p in pages) == 60 and len(pages) == 3
    c.transact_write_items(TransactItems=[
        {"Put": {"TableName": "events", "Item": {"pk": {"S": "q"}, "sk": {"N": "1"}},
                 "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Update": {"TableName": "events", "Key": {"pk": {"S": "p"}, "sk": {"N": "1"}},
                    "UpdateExpression": "SET v = :z",
                    "ExpressionAttributeValues": {":z": {"N": "0"}}}}])
    with pytest.raises(c.exceptions.TransactionCanceledException) as e:
        c.transact_write_items(TransactItems=[
            {"ConditionCheck": {"TableName": "events", "Key": {"pk": {"S": "p"}, "sk": {"N": "1"}},
                                "ConditionExpression": "v = :one",
                                "ExpressionAttributeValues": {":one": {"N": "1"}}}},
            {"Delete": {"TableName": "events", "Key": {"pk": {"S": "q"}, "sk": {"N": "1"}}}}])
    reasons = e.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["ConditionalCheckFailed", "None"]
    tg = c.transact_get_items(TransactItems=[
        {"Get": {"TableName": "events", "Key": {"pk": {"S": "q"}, "sk": {"N": "1"}}}},
        {"Get": {"TableName": "events", "Key": {"pk": {"S": "zz"}, "sk": {"N": "1"}}}}])
    assert tg["Responses"][0]["Item"]["pk"] == {"S": "q"} and tg["Responses"][1] == {}
    seg = sum(c.scan(TableName="events", Segment=s, TotalSegments=4)["Count"] for s in range(4))
    assert seg == 61
    assert c.scan(TableName="events", Select="COUNT", FilterExpression="v < :t",
                  ExpressionAttributeValues={":t": {"N": "10"}})["Count"] == 10


def test_partiql(server) -> None:
    c = _client(server.endpoint_url)
    _make_events(c)
    c.execute_statement(Statement='INSERT INTO "events" VALUE {\'pk\': ?, \'sk\': 1, \'v\': 5}',
                        Parameters=[{"S": "a"}])
    with pytest.raises(c.exceptions.DuplicateItemException):
        c.execute_statement(Statement='INSERT INTO "events" VALUE {\'pk\': \'a\', \'sk\': 1}')
    got = c.execute_statement(Statement='SELECT v FROM "events" WHERE pk = ? AND sk = 1',
                              Parameters=[{"S": "a"}])
    assert got["Items"] == [{"v": {"N": "5"}}]
    r = c.batch_execute_statement(Statements=[
        {"Statement": 'UPDATE "events" SET v = v + 1 WHERE pk = \'a\' AND sk = 1'},
        {"Statement": 'INSERT INTO "events" VALUE {\'pk\': \'a\', \'sk\': 1}'}])
    assert "Error" not in r["Responses"][0]
    assert r["Responses"][1]["Error"]["Code"] == "DuplicateItem"
    with pytest.raises(ClientError) as e:
        c.execute_statement(Statement="SELEC nothing")
    assert e.value.response["Error"]["Code"] == "ValidationException"


def test_boto3_client(server) -> None:
    c = _client(server.endpoint_url)
    check_client(c)
    raw = c.list_tables()["ResponseMetadata"]["HTTPHeaders"]
    assert raw["content-type"] == "application/x-amz-json-1.0"
    assert "x-amz-crc32" in raw and raw["x-amzn-requestid"]


def test_in_process_client(tmp_path: Path) -> None:
    c = kdynamo.client(tmp_path / "inproc.keel")
    check_client(c)
    c.close()   # closes the database it opened: the file can be opened again at once
    with keeldb.Database(str(tmp_path / "inproc.keel")) as db:
        assert db.count("events") == 61


def test_in_process_client_without_botocore(tmp_path: Path) -> None:
    db = keeldb.Database(str(tmp_path / "plain.keel"))
    c = kdynamo.KeelDynamoClient(db, True)
    c.create_table(TableName="ttt", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                   AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "B"}])
    c.put_item(TableName="ttt", Item={"k": {"B": b"\xff"}, "v": {"BS": [b"a", b"b"]}})
    assert c.get_item(TableName="ttt", Key={"k": {"B": b"\xff"}})["Item"]["v"] == {"BS": [b"a", b"b"]}
    with pytest.raises(kdynamo.ClientError) as e:
        c.describe_table(TableName="nope")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    c.close()


# ---- boto3 resource, conditions ------------------------------------------------------------


def check_resource(r) -> None:
    t = r.create_table(TableName="orders",
                       KeySchema=[{"AttributeName": "customer", "KeyType": "HASH"},
                                  {"AttributeName": "order", "KeyType": "RANGE"}],
                       AttributeDefinitions=[{"AttributeName": "customer", "AttributeType": "S"},
                                             {"AttributeName": "order", "AttributeType": "N"}],
                       BillingMode="PAY_PER_REQUEST")
    t.wait_until_exists()
    with t.batch_writer() as b:
        for i in range(40):
            b.put_item(Item={"customer": "c1" if i % 4 else "c2", "order": i,
                             "total": Decimal(i) / 4, "status": "open" if i % 3 else "shipped",
                             "lines": [{"sku": f"s{i}", "qty": i % 5}]})
    t.reload()
    assert t.item_count == 40
    got = t.get_item(Key={"customer": "c1", "order": 5})["Item"]
    assert got["total"] == Decimal("1.25") and got["lines"][0]["sku"] == "s5"
    q = t.query(KeyConditionExpression=Key("customer").eq("c1") & Key("order").between(10, 20),
                FilterExpression=Attr("status").eq("open") & Attr("total").gt(3),
                ScanIndexForward=False)
    assert [i["order"] for i in q["Items"]] == [19, 17, 14, 13]
    s = t.scan(FilterExpression=Attr("lines[0].qty").gte(4) | Attr("customer").begins_with("c2"))
    assert s["Count"] == len([i for i in range(40) if i % 5 >= 4 or i % 4 == 0])
    t.put_item(Item={"customer": "c3", "order": 1, "version": 1})
    t.update_item(Key={"customer": "c3", "order": 1}, UpdateExpression="SET version = :n",
                  ConditionExpression=Attr("version").eq(1),
                  ExpressionAttributeValues={":n": 2})
    with pytest.raises(ClientError) as e:
        t.update_item(Key={"customer": "c3", "order": 1}, UpdateExpression="SET version = :n",
                      ConditionExpression=Attr("version").eq(1),
                      ExpressionAttributeValues={":n": 3})
    assert e.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    t.delete_item(Key={"customer": "c3", "order": 1})
    assert "Item" not in t.get_item(Key={"customer": "c3", "order": 1})


def test_boto3_resource(server) -> None:
    check_resource(_resource(server.endpoint_url))


def test_in_process_resource(tmp_path: Path) -> None:
    check_resource(kdynamo.resource(tmp_path / "res.keel"))


# ---- PynamoDB ------------------------------------------------------------------------------


def test_pynamodb(server, monkeypatch) -> None:
    pynamodb = pytest.importorskip("pynamodb")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    from pynamodb.attributes import NumberAttribute, UnicodeAttribute
    from pynamodb.connection import Connection
    from pynamodb.exceptions import PutError, TransactWriteError
    from pynamodb.models import Model
    from pynamodb.transactions import TransactWrite

    class Thread(Model):
        class Meta:
            table_name = "threads"
            host = server.endpoint_url
            region = "us-east-1"
            aws_access_key_id = "AKIDEXAMPLE"
            aws_secret_access_key = "secret"
            billing_mode = "PAY_PER_REQUEST"

        forum = UnicodeAttribute(hash_key=True)
        subject = UnicodeAttribute(range_key=True)
        views = NumberAttribute(default=0)

    assert pynamodb.__version__
    Thread.create_table(wait=True)
    for i in range(10):
        Thread("keel", f"topic {i:02d}", views=i).save()
    assert Thread.get("keel", "topic 03").views == 3
    assert [t.subject for t in Thread.query("keel", Thread.subject.startswith("topic 0"),
                                            limit=3)] == ["topic 00", "topic 01", "topic 02"]
    assert sum(1 for _ in Thread.scan(Thread.views >= 5)) == 5
    with pytest.raises(PutError):
        Thread("keel", "topic 01").save(condition=Thread.forum.does_not_exist())
    t = Thread.get("keel", "topic 04")
    t.update(actions=[Thread.views.add(10)])
    assert Thread.get("keel", "topic 04").views == 14
    conn = Connection(host=server.endpoint_url, region="us-east-1")
    with TransactWrite(connection=conn) as tx:
        tx.save(Thread("keel", "topic 99", views=1), condition=Thread.forum.does_not_exist())
        tx.update(Thread("keel", "topic 00"), actions=[Thread.views.set(7)])
    assert Thread.get("keel", "topic 00").views == 7
    with pytest.raises(TransactWriteError):
        with TransactWrite(connection=conn) as tx:
            tx.save(Thread("keel", "topic 99"), condition=Thread.forum.does_not_exist())
    assert Thread.count() == 11


# ---- the AWS CLI ---------------------------------------------------------------------------


def test_aws_cli(server) -> None:
    aws = shutil.which("aws") or str(Path(sys.executable).parent / "aws")
    if not os.access(aws, os.X_OK):
        pytest.skip("the AWS CLI is not installed")
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="secret",
               AWS_DEFAULT_REGION="eu-west-1", AWS_PAGER="")

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([aws, "dynamodb", *args, "--endpoint-url", server.endpoint_url,
                               "--output", "json"], env=env, capture_output=True, text=True,
                              check=check, timeout=60)

    out = json.loads(run("create-table", "--table-name", "cli",
                         "--attribute-definitions", "AttributeName=id,AttributeType=S",
                         "--key-schema", "AttributeName=id,KeyType=HASH",
                         "--billing-mode", "PAY_PER_REQUEST").stdout)
    assert out["TableDescription"]["TableArn"] == "arn:aws:dynamodb:eu-west-1:123456789012:table/cli"
    run("put-item", "--table-name", "cli", "--item", '{"id": {"S": "x"}, "n": {"N": "42"}}')
    out = json.loads(run("scan", "--table-name", "cli").stdout)
    assert out["Items"] == [{"id": {"S": "x"}, "n": {"N": "42"}}] and out["Count"] == 1
    bad = run("describe-table", "--table-name", "nope", check=False)
    assert bad.returncode != 0 and "ResourceNotFoundException" in bad.stderr


# ---- the protocol --------------------------------------------------------------------------


def _post(url: str, target: str, body: bytes, headers: dict | None = None):
    host, port = url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    h = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target}
    h.update(headers or {})
    conn.request("POST", "/", body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, dict(r.getheaders()), data


def test_protocol_errors(server) -> None:
    st, h, body = _post(server.endpoint_url, "DynamoDB_20120810.ListTables", b"{}")
    assert st == 200 and int(h["x-amz-crc32"]) == zlib.crc32(body)
    assert json.loads(body) == {"TableNames": []}
    st, _, body = _post(server.endpoint_url, "DynamoDB_20120810.PutItem", b"{not json")
    assert st == 400 and json.loads(body)["__type"] == "com.amazon.coral.service#SerializationException"
    st, _, body = _post(server.endpoint_url, "DynamoDB_20120810.Frobnicate", b"{}")
    assert st == 400 and json.loads(body)["__type"].endswith("#UnknownOperationException")
    st, _, body = _post(server.endpoint_url, "Nope", b"{}")
    assert st == 400
    st, _, body = _post(server.endpoint_url, "DynamoDB_20120810.DescribeTable",
                        b'{"TableName": "absent"}')
    err = json.loads(body)
    assert st == 400 and err["__type"] == "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
    st, _, body = _post(server.endpoint_url, "DynamoDB_20120810.PutItem",
                        b"[" * 1000 + b"]" * 1000)
    assert st == 400
    # a declared body over 16 MB is refused before it is sent
    host, port = server.endpoint_url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: DynamoDB_20120810.PutItem\r\n"
                     b"Content-Type: application/x-amz-json-1.0\r\n"
                     b"Content-Length: 16777217\r\n\r\n")
        head = sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 413")
    # the server is still there
    assert _client(server.endpoint_url).list_tables()["TableNames"] == []


def test_auth(tmp_path: Path) -> None:
    with serve(tmp_path / "auth.keel", auth="AKIDKEEL:s3cret") as s:
        ok = _client(s.endpoint_url, key="AKIDKEEL", secret="s3cret")
        assert ok.list_tables()["TableNames"] == []
        with pytest.raises(ClientError) as e:
            _client(s.endpoint_url, key="AKIDKEEL", secret="wrong").list_tables()
        assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
        with pytest.raises(ClientError) as e:
            _client(s.endpoint_url, key="OTHER", secret="s3cret").list_tables()
        assert e.value.response["Error"]["Code"] == "UnrecognizedClientException"
        st, _, body = _post(s.endpoint_url, "DynamoDB_20120810.ListTables", b"{}")
        assert st == 400 and b"MissingAuthenticationToken" in body


def test_slow_clients_cannot_hold_every_connection(tmp_path: Path, cli: str) -> None:
    # Slowloris: clients that open connections and send headers a byte at a time. Before
    # --idle-timeout and --max-connections-per-ip, 8 such connections held a server started
    # with --max-connections 8 for 120 s: every other client timed out.
    from keeldb.serve import Server
    args = [cli, "serve", str(tmp_path / "slow.keel"), "--port", "0",
            "--max-connections", "8", "--max-connections-per-ip", "3", "--idle-timeout", "1"]
    s = Server(args)
    try:
        slow = []
        for _ in range(6):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=5)
            c.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
            slow.append(c)
        # Past the per-client limit the server drops the connection at once.
        dropped = 0
        for c in slow:
            try:
                c.settimeout(0.5)
                dropped += c.recv(1) == b""
            except socket.timeout:
                pass
            except ConnectionError:
                dropped += 1
        assert dropped >= 3
        # The idle timeout closes the half-sent requests.
        time.sleep(2.5)
        for c in slow:
            try:
                c.settimeout(1)
                assert c.recv(1) == b""
            except ConnectionError:
                pass
            c.close()
        st, _, body = _post(s.endpoint_url, "DynamoDB_20120810.ListTables", b"{}")
        assert st == 200 and b"TableNames" in body
    finally:
        s.close()
    for bad in (["--idle-timeout", "0"], ["--port", ""], ["--max-connections-per-ip", "-1"]):
        r = subprocess.run([cli, "serve", str(tmp_path / "x.keel")] + bad, capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 2 and "bad " + bad[0] in r.stderr


# ---- concurrency and durability ------------------------------------------------------------


def test_threads_mixed(server) -> None:
    c0 = _client(server.endpoint_url)
    _make_events(c0)
    c0.put_item(TableName="events", Item={"pk": {"S": "counter"}, "sk": {"N": "0"},
                                          "n": {"N": "0"}})
    n_threads, rounds = 8, 40
    errors: list = []
    won = [0] * n_threads

    def work(t: int) -> None:
        try:
            c = _client(server.endpoint_url)
            for i in range(rounds):
                # a conditional read-modify-write on the shared counter
                cur = c.get_item(TableName="events", Key={"pk": {"S": "counter"},
                                                          "sk": {"N": "0"}},
                                 ConsistentRead=True)["Item"]["n"]["N"]
                try:
                    c.put_item(TableName="events",
                               Item={"pk": {"S": "counter"}, "sk": {"N": "0"},
                                     "n": {"N": str(int(cur) + 1)}},
                               ConditionExpression="n = :old",
                               ExpressionAttributeValues={":old": {"N": cur}})
                    won[t] += 1
                except c.exceptions.ConditionalCheckFailedException:
                    pass
                # a transaction that moves one unit between two items of this thread
                c.transact_write_items(TransactItems=[
                    {"Update": {"TableName": "events",
                                "Key": {"pk": {"S": f"t{t}"}, "sk": {"N": "1"}},
                                "UpdateExpression": "ADD v :one",
                                "ExpressionAttributeValues": {":one": {"N": "1"}}}},
                    {"Update": {"TableName": "events",
                                "Key": {"pk": {"S": f"t{t}"}, "sk": {"N": "2"}},
                                "UpdateExpression": "ADD v :m",
                                "ExpressionAttributeValues": {":m": {"N": "-1"}}}}])
                items = c.query(TableName="events", KeyConditionExpression="pk = :p",
                                ExpressionAttributeValues={":p": {"S": f"t{t}"}},
                                ConsistentRead=True)["Items"]
                total = sum(int(x["v"]["N"]) for x in items)
                if total != 0:
                    errors.append(f"torn transaction seen by thread {t}: {items}")
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    final = c0.get_item(TableName="events", Key={"pk": {"S": "counter"}, "sk": {"N": "0"}})
    assert int(final["Item"]["n"]["N"]) == sum(won)   # no lost update
    assert sum(won) >= rounds
    for t in range(n_threads):
        got = c0.get_item(TableName="events", Key={"pk": {"S": f"t{t}"}, "sk": {"N": "1"}})
        assert got["Item"]["v"]["N"] == str(rounds)


def test_kill9_durability(tmp_path: Path) -> None:
    path = tmp_path / "durable.keel"
    s = serve(path, sync="data")
    c = _client(s.endpoint_url)
    _make_events(c)
    acked: list = []
    stop = threading.Event()

    def writer(w: int) -> None:
        cw = _client(s.endpoint_url)
        i = 0
        while not stop.is_set():
            try:
                cw.put_item(TableName="events", Item={"pk": {"S": f"w{w}"}, "sk": {"N": str(i)},
                                                      "v": {"S": "x" * 100}})
            except Exception:  # noqa: BLE001 - the server was killed mid-request
                return
            acked.append((w, i))
            i += 1

    ws = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for w in ws:
        w.start()
    deadline = time.time() + 20
    while len(acked) < 300 and time.time() < deadline:
        time.sleep(0.02)
    os.kill(s.pid, signal.SIGKILL)
    stop.set()
    for w in ws:
        w.join()
    s.close()
    assert len(acked) >= 100
    with serve(path) as s2:
        c2 = _client(s2.endpoint_url)
        have = set()
        for page in c2.get_paginator("scan").paginate(TableName="events"):
            for it in page["Items"]:
                have.add((int(it["pk"]["S"][1:]), int(it["sk"]["N"])))
        missing = [a for a in acked if a not in have]
        assert missing == []


def test_sigterm_and_module(tmp_path: Path) -> None:
    s = serve(tmp_path / "t.keel")
    _client(s.endpoint_url).list_tables()
    assert s.close() == 0
    out = subprocess.run([sys.executable, "-m", "keeldb.serve", "--help"], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0 and "--sync" in out.stdout


# ---- the same requests against moto's server -----------------------------------------------


def test_same_as_moto(server, tmp_path: Path) -> None:
    """One sequence of requests against keel serve and moto_server (when installed): the
    responses match where both are DynamoDB-correct (ConsumedCapacity, request ids and table
    metadata that moto fills differently are left out)."""
    moto = shutil.which("moto_server")
    if not moto:
        pytest.skip("moto_server is not installed (pip install 'moto[server]')")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    proc = subprocess.Popen([moto, "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                _client(url).list_tables()
                break
            except Exception:  # noqa: BLE001
                time.sleep(0.1)

        def norm(v):
            """Sets have no order in DynamoDB: sort them."""
            if isinstance(v, dict):
                return {k: sorted(x) if k in ("SS", "NS", "BS") and isinstance(x, list)
                        else norm(x) for k, x in v.items()}
            if isinstance(v, list):
                return [norm(x) for x in v]
            return v

        def run(c) -> list:
            out: list = []

            def call(name: str, **kw) -> None:
                try:
                    r = getattr(c, name)(**kw)
                    r.pop("ResponseMetadata", None)
                    r.pop("ConsumedCapacity", None)
                    if "TableDescription" in r or "Table" in r:
                        d = r.get("TableDescription") or r["Table"]
                        r = {k: d[k] for k in ("TableName", "KeySchema", "AttributeDefinitions")}
                    if kw.get("Select") == "COUNT":
                        r.pop("Items", None)    # moto 5.2 returns Items with COUNT; DynamoDB does not
                    if "Items" in r:
                        r["Items"] = sorted(r["Items"], key=lambda i: json.dumps(i, sort_keys=True))
                    out.append((name, norm(r)))
                except ClientError as e:
                    out.append((name, "error", e.response["Error"]["Code"]))

            _make_events(c)
            for i in range(12):
                call("put_item", TableName="events",
                     Item={"pk": {"S": "p" if i < 10 else "q"}, "sk": {"N": str(i)},
                           "v": {"N": f"{i}.5"}, "tags": {"SS": ["a", f"t{i % 3}"]}})
            call("get_item", TableName="events", Key={"pk": {"S": "p"}, "sk": {"N": "3"}})
            call("get_item", TableName="events", Key={"pk": {"S": "p"}, "sk": {"N": "99"}})
            call("get_item", TableName="events", Key={"pk": {"S": "p"}, "sk": {"N": "3"}},
                 ProjectionExpression="v, tags")
            call("query", TableName="events", KeyConditionExpression="pk = :p AND sk > :s",
                 FilterExpression="contains(tags, :t)",
                 ExpressionAttributeValues={":p": {"S": "p"}, ":s": {"N": "2"},
                                            ":t": {"S": "t1"}})
            call("query", TableName="events", KeyConditionExpression="pk = :p",
                 ExpressionAttributeValues={":p": {"S": "p"}}, Limit=4, ScanIndexForward=False)
            call("scan", TableName="events", Select="COUNT")
            call("put_item", TableName="events", Item={"pk": {"S": "p"}, "sk": {"N": "1"}},
                 ConditionExpression="attribute_not_exists(pk)")
            call("update_item", TableName="events", Key={"pk": {"S": "p"}, "sk": {"N": "1"}},
                 UpdateExpression="SET v = v + :d REMOVE tags", ReturnValues="ALL_NEW",
                 ExpressionAttributeValues={":d": {"N": "0.25"}})
            call("delete_item", TableName="events", Key={"pk": {"S": "q"}, "sk": {"N": "10"}},
                 ReturnValues="ALL_OLD")
            call("batch_get_item", RequestItems={"events": {"Keys": [
                {"pk": {"S": "p"}, "sk": {"N": "0"}}, {"pk": {"S": "q"}, "sk": {"N": "11"}}]}})
            call("describe_table", TableName="events")
            call("describe_table", TableName="missing")
            # (a key of the wrong type: DynamoDB and keel answer ValidationException, moto 5.2
            # an empty response; not compared)
            call("list_tables")
            return out

        keel_out = run(_client(server.endpoint_url))
        moto_out = run(_client(url))
        for k, m in zip(keel_out, moto_out):
            if k[0] == "batch_get_item" and k[1] != "error":
                for r in (k[1], m[1]):
                    r["Responses"]["events"].sort(key=lambda i: i["sk"]["N"])
            assert k == m
    finally:
        proc.terminate()
        proc.wait(30)
