"""keel serve's ExecuteTransaction, ClientRequestToken, ExecuteStatement paging and SearchVectors.

Each through the `keel` binary on loopback with boto3's client (and resource, through its
meta.client, which is how boto3's resource reaches these operations), through the
in-process keeldb.dynamodb client (the same C handler without HTTP), and, where the AWS CLI
is installed and knows the operation, through `aws dynamodb`. Bad input is sent raw where
botocore would refuse it before sending (a bare number in SearchVector, a string as
Dimensions): the server must answer 400 with a DynamoDB error body.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

boto3 = pytest.importorskip("boto3")
import botocore  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

from keeldb import dynamodb as kdynamo  # noqa: E402
from keeldb.serve import serve  # noqa: E402

from test_serve import _post  # noqa: E402

HAS_SEARCH = "SearchVectors" in botocore.session.get_session().get_service_model(
    "dynamodb").operation_names


@pytest.fixture(scope="module", autouse=True)
def keel_bin(cli: str) -> None:
    os.environ.setdefault("KEEL_BIN", cli)


@pytest.fixture(params=["http", "in-process"])
def client(request, tmp_path: Path):
    if request.param == "http":
        with serve(tmp_path / "db.keel") as s:
            c = boto3.client("dynamodb", endpoint_url=s.endpoint_url, region_name="us-west-2",
                             aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
            c.url = s.endpoint_url
            yield c
    else:
        c = kdynamo.client(tmp_path / "db.keel")
        c.url = None
        yield c
        c.close()


def _table(c, name: str = "acct", sk: bool = False, **kw) -> None:
    ks = [{"AttributeName": "pk", "KeyType": "HASH"}]
    ad = [{"AttributeName": "pk", "AttributeType": "S"}]
    if sk:
        ks.append({"AttributeName": "sk", "KeyType": "RANGE"})
        ad.append({"AttributeName": "sk", "AttributeType": "N"})
    c.create_table(TableName=name, KeySchema=ks, AttributeDefinitions=ad,
                   BillingMode="PAY_PER_REQUEST", **kw)


def _code(e: pytest.ExceptionInfo) -> str:
    return e.value.response["Error"]["Code"]


# ---- ExecuteTransaction ------------------------------------------------------------------


def test_execute_transaction(client) -> None:
    c = client
    _table(c)
    c.execute_transaction(TransactStatements=[
        {"Statement": "INSERT INTO \"acct\" VALUE {'pk': 'a', 'bal': 10}"},
        {"Statement": "INSERT INTO \"acct\" VALUE {'pk': ?, 'bal': ?}",
         "Parameters": [{"S": "b"}, {"N": "5"}]},
        {"Statement": "INSERT INTO \"acct\" VALUE {'pk': 'z'}"}])
    # a transfer: both or neither
    c.execute_transaction(TransactStatements=[
        {"Statement": "UPDATE \"acct\" SET bal = bal - 3 WHERE pk = 'a' AND bal >= 3"},
        {"Statement": "UPDATE \"acct\" SET bal = bal + 3 WHERE pk = 'b'"}])
    got = c.execute_transaction(TransactStatements=[
        {"Statement": "SELECT bal FROM \"acct\" WHERE pk = 'a'"},
        {"Statement": "SELECT * FROM \"acct\" WHERE pk = ?", "Parameters": [{"S": "b"}]},
        {"Statement": "SELECT * FROM \"acct\" WHERE pk = 'nobody'"}])
    assert got["Responses"] == [{"Item": {"bal": {"N": "7"}}},
                                {"Item": {"pk": {"S": "b"}, "bal": {"N": "8"}}}, {}]
    # canceled: a reason per statement, in order; nothing written
    with pytest.raises(ClientError) as e:
        c.execute_transaction(TransactStatements=[
            {"Statement": "UPDATE \"acct\" SET bal = bal - 100 WHERE pk = 'a' AND bal >= 100",
             "ReturnValuesOnConditionCheckFailure": "ALL_OLD"},
            {"Statement": "UPDATE \"acct\" SET bal = bal + 100 WHERE pk = 'b'"},
            {"Statement": "INSERT INTO \"acct\" VALUE {'pk': 'z'}"}])
    assert _code(e) == "TransactionCanceledException"
    reasons = e.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["ConditionalCheckFailed", "None", "DuplicateItem"]
    assert reasons[0]["Item"] == {"pk": {"S": "a"}, "bal": {"N": "7"}}
    got = c.execute_transaction(TransactStatements=[
        {"Statement": "SELECT bal FROM \"acct\" WHERE pk = 'a'"},
        {"Statement": "SELECT bal FROM \"acct\" WHERE pk = 'b'"}])["Responses"]
    assert [r["Item"]["bal"]["N"] for r in got] == ["7", "8"]
    # UPDATE of an absent item fails its condition; DELETE of one succeeds
    with pytest.raises(ClientError) as e:
        c.execute_transaction(TransactStatements=[
            {"Statement": "UPDATE \"acct\" SET bal = 1 WHERE pk = 'ghost'"}])
    assert _code(e) == "TransactionCanceledException"
    c.execute_transaction(TransactStatements=[
        {"Statement": "DELETE FROM \"acct\" WHERE pk = 'ghost'"},
        {"Statement": "DELETE FROM \"acct\" WHERE pk = 'b' AND bal = 8"}])
    assert "Item" not in c.get_item(TableName="acct", Key={"pk": {"S": "b"}})


def test_execute_transaction_refusals(client) -> None:
    c = client
    _table(c)
    c.put_item(TableName="acct", Item={"pk": {"S": "a"}, "bal": {"N": "1"}})
    bad = [
        ([{"Statement": "SELECT * FROM \"acct\" WHERE pk = 'a'"},
          {"Statement": "DELETE FROM \"acct\" WHERE pk = 'a'"}], "all be reads or all be writes"),
        ([{"Statement": "SELECT * FROM \"acct\""}], "whole primary key"),
        ([{"Statement": "SELECT * FROM \"acct\" WHERE pk = 'a' AND bal = 1"}], "whole primary key"),
        ([{"Statement": "UPDATE \"acct\" SET bal = 2 WHERE pk = 'a' RETURNING ALL NEW *"}],
         "RETURNING"),
        ([{"Statement": "UPDATE \"acct\" SET bal = 2 WHERE pk = 'a'"},
          {"Statement": "DELETE FROM \"acct\" WHERE pk = 'a'"}], "multiple operations on one item"),
        ([{"Statement": "SELEC * FROM \"acct\""}], "statement 1 of 1"),
        ([{"Statement": "DELETE FROM \"nope\" WHERE pk = 'a'"}], None),
        ([{"Statement": "INSERT INTO \"acct\" VALUE {'pk': 'x'}"}] * 101, "less than or equal to 100"),
    ]
    for stmts, text in bad:
        with pytest.raises(ClientError) as e:
            c.execute_transaction(TransactStatements=stmts)
        assert _code(e) in ("ValidationException", "ResourceNotFoundException"), stmts
        if text:
            assert text in e.value.response["Error"]["Message"], (stmts, e.value.response)
    assert c.get_item(TableName="acct", Key={"pk": {"S": "a"}})["Item"]["bal"] == {"N": "1"}


def test_execute_transaction_raw_errors(tmp_path: Path) -> None:
    with serve(tmp_path / "raw.keel") as s:
        for body in [b'{"TransactStatements": "x"}', b'{"TransactStatements": [1]}',
                     b'{"TransactStatements": [{"Statement": 5}]}', b'{}',
                     b'{"TransactStatements": []}',
                     b'{"TransactStatements": [{"Statement": "SELECT * FROM \\"t\\""}],'
                     b' "ClientRequestToken": "' + b"x" * 37 + b'"}']:
            st, _, data = _post(s.endpoint_url, "DynamoDB_20120810.ExecuteTransaction", body)
            err = json.loads(data)
            assert st == 400 and "#" in err["__type"] and err["message"], body


def test_aws_cli_execute_transaction(tmp_path: Path) -> None:
    aws = shutil.which("aws") or str(Path(sys.executable).parent / "aws")
    if not os.access(aws, os.X_OK):
        pytest.skip("the AWS CLI is not installed")
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="secret",
               AWS_DEFAULT_REGION="eu-west-1", AWS_PAGER="")
    with serve(tmp_path / "cli.keel") as s:
        def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
            return subprocess.run([aws, "dynamodb", *args, "--endpoint-url", s.endpoint_url,
                                   "--output", "json"], env=env, capture_output=True, text=True,
                                  check=check, timeout=60)
        run("create-table", "--table-name", "cli",
            "--attribute-definitions", "AttributeName=pk,AttributeType=S",
            "--key-schema", "AttributeName=pk,KeyType=HASH", "--billing-mode", "PAY_PER_REQUEST")
        stmts = [{"Statement": "INSERT INTO \"cli\" VALUE {'pk': 'x', 'n': 1}"},
                 {"Statement": "INSERT INTO \"cli\" VALUE {'pk': 'y', 'n': 2}"}]
        run("execute-transaction", "--transact-statements", json.dumps(stmts),
            "--client-request-token", "cli-token-1")
        out = json.loads(run("execute-transaction", "--transact-statements", json.dumps(
            [{"Statement": "SELECT n FROM \"cli\" WHERE pk = 'y'"}])).stdout)
        assert out["Responses"] == [{"Item": {"n": {"N": "2"}}}]
        bad = run("execute-transaction", "--transact-statements", json.dumps(stmts), check=False)
        assert bad.returncode != 0 and "TransactionCanceledException" in bad.stderr


# ---- ClientRequestToken ------------------------------------------------------------------


def test_client_request_token(client) -> None:
    c = client
    _table(c)
    bump = [{"Update": {"TableName": "acct", "Key": {"pk": {"S": "n"}},
                        "UpdateExpression": "ADD v :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}}]
    for _ in range(3):
        c.transact_write_items(TransactItems=bump, ClientRequestToken="tok-A")
    assert c.get_item(TableName="acct", Key={"pk": {"S": "n"}})["Item"]["v"] == {"N": "1"}
    c.transact_write_items(TransactItems=bump, ClientRequestToken="tok-B")
    c.transact_write_items(TransactItems=bump)      # no token: applied every time
    c.transact_write_items(TransactItems=bump)
    assert c.get_item(TableName="acct", Key={"pk": {"S": "n"}})["Item"]["v"] == {"N": "4"}
    other = [{"Put": {"TableName": "acct", "Item": {"pk": {"S": "m"}}}}]
    with pytest.raises(ClientError) as e:
        c.transact_write_items(TransactItems=other, ClientRequestToken="tok-A")
    assert _code(e) == "IdempotentParameterMismatchException"
    assert "Item" not in c.get_item(TableName="acct", Key={"pk": {"S": "m"}})
    # a canceled transaction does not keep its token: the retry runs
    cond = [{"Put": {"TableName": "acct", "Item": {"pk": {"S": "c"}},
                     "ConditionExpression": "attribute_exists(pk)"}}]
    with pytest.raises(ClientError):
        c.transact_write_items(TransactItems=cond, ClientRequestToken="tok-C")
    c.put_item(TableName="acct", Item={"pk": {"S": "c"}, "x": {"N": "0"}})
    c.transact_write_items(TransactItems=cond, ClientRequestToken="tok-C")
    assert c.get_item(TableName="acct", Key={"pk": {"S": "c"}})["Item"] == {"pk": {"S": "c"}}
    # ExecuteTransaction: the same rules
    ins = [{"Statement": "INSERT INTO \"acct\" VALUE {'pk': 'e'}"}]
    c.execute_transaction(TransactStatements=ins, ClientRequestToken="tok-E")
    c.execute_transaction(TransactStatements=ins, ClientRequestToken="tok-E")  # not a duplicate
    with pytest.raises(ClientError) as e:
        c.execute_transaction(TransactStatements=ins, ClientRequestToken="tok-A")
    assert _code(e) == "IdempotentParameterMismatchException"
    with pytest.raises(ClientError) as e:
        c.execute_transaction(TransactStatements=ins, ClientRequestToken="x" * 37)
    assert _code(e) == "ValidationException"


def test_token_per_database(tmp_path: Path) -> None:
    """Tokens belong to one open database: another file (or a reopen) does not see them."""
    bump = [{"Put": {"TableName": "acct", "Item": {"pk": {"S": "n"}}}}]
    for name in ["one.keel", "two.keel"]:
        c = kdynamo.client(tmp_path / name)
        _table(c)
        c.transact_write_items(TransactItems=bump, ClientRequestToken="same")
        assert c.get_item(TableName="acct", Key={"pk": {"S": "n"}})["Item"]
        c.close()


# ---- ExecuteStatement pages ----------------------------------------------------------------


def _pages(c, stmt: str, **kw):
    items, pages, token, keys = [], 0, None, []
    while True:
        args = dict(Statement=stmt, **kw)
        if token:
            args["NextToken"] = token
        r = c.execute_statement(**args)
        pages += 1
        items += r["Items"]
        if "LastEvaluatedKey" in r:
            keys.append(r["LastEvaluatedKey"])
        token = r.get("NextToken")
        if not token:
            return items, pages, keys


def test_execute_statement_pages(client) -> None:
    c = client
    _table(c, "evs", sk=True)
    for p in "abc":
        for i in range(20):
            c.put_item(TableName="evs", Item={"pk": {"S": p}, "sk": {"N": str(i)},
                                             "x": {"N": str(i % 3)}})
    cases = [('SELECT * FROM "evs"', 7),
             ("SELECT * FROM \"evs\" WHERE pk IN ('a', 'c')", 6),
             ("SELECT sk FROM \"evs\" WHERE pk = 'b' AND x = 1", 4),
             ("SELECT * FROM \"evs\" WHERE pk = 'a' AND sk IN (1, 2, 3, 4, 5)", 2),
             ("SELECT * FROM \"evs\" WHERE pk = 'c' AND sk > 4 ORDER BY sk DESC", 5)]
    for stmt, limit in cases:
        whole = c.execute_statement(Statement=stmt)
        assert "NextToken" not in whole
        items, pages, keys = _pages(c, stmt, Limit=limit)
        assert items == whole["Items"], stmt
        assert pages >= 2 and len(keys) >= pages - 1, stmt
    r = c.execute_statement(Statement="SELECT * FROM \"evs\" WHERE pk = 'a'", Limit=3)
    assert r["LastEvaluatedKey"] == {"pk": {"S": "a"}, "sk": {"N": "2"}}
    r2 = c.execute_statement(Statement="SELECT * FROM \"evs\" WHERE pk = 'a'", Limit=3,
                             NextToken=r["NextToken"])
    assert [i["sk"]["N"] for i in r2["Items"]] == ["3", "4", "5"]
    # tampered, truncated, foreign, or for another statement or parameters: refused
    raw = bytearray(base64.b64decode(r["NextToken"]))
    raw[-1] ^= 1
    for tok, stmt, params in [(base64.b64encode(bytes(raw)).decode(), None, None),
                              ("AAAA", None, None), (r["NextToken"][:-4], None, None),
                              (r["NextToken"], "SELECT * FROM \"evs\" WHERE pk = 'b'", None),
                              (r["NextToken"], "SELECT * FROM \"evs\" WHERE pk = ?", [{"S": "a"}]),
                              (r["NextToken"], "DELETE FROM \"evs\" WHERE pk = 'a' AND sk = 1",
                               None)]:
        args = dict(Statement=stmt or "SELECT * FROM \"evs\" WHERE pk = 'a'", NextToken=tok)
        if params:
            args["Parameters"] = params
        with pytest.raises(ClientError) as e:
            c.execute_statement(**args)
        assert _code(e) == "ValidationException"
        assert "NextToken" in e.value.response["Error"]["Message"]


def test_execute_statement_one_mb_pages(client) -> None:
    c = client
    _table(c, "big")
    blob = "x" * 200_000
    for i in range(12):     # 2.4 MB
        c.put_item(TableName="big", Item={"pk": {"S": f"k{i:02d}"}, "b": {"S": blob}})
    items, pages, _ = _pages(c, 'SELECT * FROM "big"')
    assert pages == 3 and sorted(i["pk"]["S"] for i in items) == [f"k{i:02d}" for i in range(12)]


# ---- SearchVectors -----------------------------------------------------------------------


def _vec(*xs: float) -> dict:
    return {"L": [{"N": repr(float(x))} for x in xs]}


VIX = [{"IndexName": "emb", "VectorAttribute": {"AttributeName": "v"}, "Dimensions": 3,
        "DistanceFunction": "EUCLIDEAN", "Projection": {"ProjectionType": "ALL"},
        "SearchSchema": [{"AttributeName": "cat", "SearchSchemaElementType": "INLINE_FILTER"},
                         {"AttributeName": "shop", "SearchSchemaElementType": "HASH"}]}]


def _vector_table(c) -> None:
    _table(c, "docs", VectorIndexes=VIX)
    for i in range(20):
        c.put_item(TableName="docs", Item={"pk": {"S": f"d{i:02d}"}, "v": _vec(i, 0, 0.5),
                                           "cat": {"S": "ab"[i % 2]}, "shop": {"S": "s"}})
    # a vector of the wrong length is refused, as DynamoDB refuses it (was: stored, not indexed)
    with pytest.raises(Exception) as e:     # botocore's ClientError, or the stand-in's
        c.put_item(TableName="docs", Item={"pk": {"S": "short"}, "v": _vec(1, 2)})
    assert _code(e) == "ValidationException"
    assert "Expected: 3, Actual: 2" in e.value.response["Error"]["Message"]


def _search(c, **kw):
    if c.url is not None and not HAS_SEARCH:
        pytest.skip("this botocore does not know SearchVectors")
    args = dict(TableName="docs", IndexName="emb", TopK=3,
                SearchVector=[{"N": "3.2"}, {"N": "0"}, {"N": "0.5"}])
    args.update(kw)
    return c.search_vectors(**args)


def test_vector_indexes_described(client) -> None:
    c = client
    _vector_table(c)
    d = c.describe_table(TableName="docs")["Table"]["VectorIndexes"]
    assert len(d) == 1
    x = d[0]
    assert (x["IndexName"], x["Dimensions"], x["DistanceFunction"], x["IndexStatus"],
            x["ItemCount"], x["IndexSizeBytes"]) == ("emb", 3, "EUCLIDEAN", "ACTIVE", 20, 240)
    assert x["VectorAttribute"] == {"AttributeName": "v"}
    assert x["SearchSchema"] == VIX[0]["SearchSchema"]     # HASH and INLINE_FILTER kept
    assert x["IndexArn"].endswith(":table/docs/index/emb")
    c.update_table(TableName="docs", VectorIndexUpdates=[{"Create": {
        "IndexName": "cos", "VectorAttribute": {"AttributeName": "v"}, "Dimensions": 3,
        "DistanceFunction": "COSINE", "Projection": {"ProjectionType": "KEYS_ONLY"}}}])
    d = {x["IndexName"]: x for x in c.describe_table(TableName="docs")["Table"]["VectorIndexes"]}
    assert d["cos"]["ItemCount"] == 20 and d["cos"]["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    c.update_table(TableName="docs", VectorIndexUpdates=[{"Delete": {"IndexName": "cos"}}])
    assert [x["IndexName"] for x in c.describe_table(TableName="docs")["Table"]["VectorIndexes"]] \
        == ["emb"]
    with pytest.raises(ClientError) as e:
        c.update_table(TableName="docs", VectorIndexUpdates=[{"Delete": {"IndexName": "cos"}}])
    assert _code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        c.update_table(TableName="docs", VectorIndexUpdates=[{"Delete": {"IndexName": "emb"}},
                                                             {"Delete": {"IndexName": "emb"}}])
    assert _code(e) == "LimitExceededException"
    # a bad definition refuses CreateTable whole: no table is left behind
    bad = dict(VIX[0], Dimensions=5000)
    with pytest.raises(ClientError) as e:
        _table(c, "nope", VectorIndexes=[bad])
    assert _code(e) == "ValidationException"
    key = dict(VIX[0], VectorAttribute={"AttributeName": "pk"})
    with pytest.raises(ClientError) as e:
        _table(c, "nope", VectorIndexes=[key])
    assert _code(e) == "ValidationException"
    assert "nope" not in c.list_tables()["TableNames"]


def test_search_vectors(client) -> None:
    c = client
    _vector_table(c)
    r = _search(c)
    assert [h["Item"]["pk"]["S"] for h in r["SearchResults"]] == ["d03", "d04", "d02"]
    assert r["SearchResults"][0]["Score"] == pytest.approx(0.2, abs=1e-5)
    # the vector reads back as DynamoDB normalizes numbers ("3.0" is "3")
    assert r["SearchResults"][0]["Item"]["v"] == {"L": [{"N": "3"}, {"N": "0"}, {"N": "0.5"}]}
    r = _search(c, SearchConditionExpression="#c = :c AND shop = :s",
                ExpressionAttributeNames={"#c": "cat"},
                ExpressionAttributeValues={":c": {"S": "a"}, ":s": {"S": "s"}},
                ProjectionExpression="pk")
    assert r["SearchResults"][0]["Item"] == {"pk": {"S": "d04"}}
    assert [h["Item"]["pk"]["S"] for h in r["SearchResults"]] == ["d04", "d02", "d06"]
    # Query and Scan cannot read a vector index
    with pytest.raises(ClientError) as e:
        c.scan(TableName="docs", IndexName="emb")
    assert "index type" in e.value.response["Error"]["Message"]
    # a write moves the item in the index; a delete takes it out
    c.put_item(TableName="docs", Item={"pk": {"S": "d19"}, "v": _vec(3.2, 0, 0.5)})
    c.delete_item(TableName="docs", Key={"pk": {"S": "d03"}})
    assert [h["Item"]["pk"]["S"] for h in _search(c)["SearchResults"]][:2] == ["d19", "d04"]


def test_search_vectors_refusals(client) -> None:
    c = client
    _vector_table(c)
    bad = [
        (dict(SearchConditionExpression="pk = :c", ExpressionAttributeValues={":c": {"S": "a"}}),
         "not in the SearchSchema"),
        (dict(SearchConditionExpression="cat <> :c", ExpressionAttributeValues={":c": {"S": "a"}}),
         "attribute = :value"),
        (dict(SearchConditionExpression="cat = :c OR shop = :c",
              ExpressionAttributeValues={":c": {"S": "a"}}), "attribute = :value"),
        (dict(SearchConditionExpression="begins_with(cat, :c)",
              ExpressionAttributeValues={":c": {"S": "a"}}), "attribute = :value"),
        (dict(TopK=101), "less than or equal to 100"),
        (dict(SearchVector=[{"N": "1"}, {"N": "2"}]), "dimensions"),
        (dict(SearchVector=[{"N": "1e39"}, {"N": "0"}, {"N": "0"}]), "float32"),
        (dict(SearchVector=[{"S": "1"}, {"N": "0"}, {"N": "0"}]), "not a number"),
        (dict(IndexName="nope"), "not found"),
        (dict(TableName="nope"), None),
    ]
    for kw, text in bad:
        with pytest.raises(ClientError) as e:
            _search(c, **kw)
        assert _code(e) in ("ValidationException", "ResourceNotFoundException"), kw
        if text:
            assert text in e.value.response["Error"]["Message"], (kw, e.value.response)


def test_search_vectors_raw(tmp_path: Path) -> None:
    """Raw requests: botocore would refuse these before sending them."""
    with serve(tmp_path / "raw.keel") as s:
        c = boto3.client("dynamodb", endpoint_url=s.endpoint_url, region_name="us-west-2",
                         aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
        c.url = s.endpoint_url
        _vector_table(c)

        def post(op: str, body: dict):
            st, _, data = _post(s.endpoint_url, "DynamoDB_20120810." + op,
                                json.dumps(body).encode())
            return st, json.loads(data)

        base = {"TableName": "docs", "IndexName": "emb", "TopK": 2}
        st, out = post("SearchVectors", dict(base, SearchVector=[{"N": "3"}, {"N": "0"},
                                                                 {"N": "0.5"}]))
        assert st == 200 and out["SearchResults"][0]["Item"]["pk"] == {"S": "d03"}
        st, out = post("SearchVectors", dict(base, SearchVector=[3, 0, 0.5]))
        assert st == 400 and out["__type"] == "com.amazon.coral.service#SerializationException"
        st, out = post("SearchVectors", dict(base, SearchVector="x"))
        assert st == 400 and out["__type"].endswith("#SerializationException")
        st, out = post("SearchVectors", {"TableName": "docs", "IndexName": "emb",
                                         "SearchVector": [{"N": "1"}] * 3})
        assert st == 400 and "topK" in out["message"]
        st, out = post("SearchVectors", dict(base, TopK=0, SearchVector=[{"N": "1"}] * 3))
        assert st == 400 and "greater than or equal to 1" in out["message"]
        vix = dict(VIX[0], Dimensions="3")
        st, out = post("CreateTable", {"TableName": "tt2", "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"}], "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"}], "VectorIndexes": [vix]})
        assert st == 400 and out["__type"].endswith("#SerializationException"), out
        vix = dict(VIX[0], Dimensions=3.7, IndexName="trunc")   # truncated, as DynamoDB does
        st, out = post("CreateTable", {"TableName": "tt3", "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"}], "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"}], "VectorIndexes": [vix]})
        assert st == 200 and out["TableDescription"]["VectorIndexes"][0]["Dimensions"] == 3


def test_search_vectors_resource_and_cli(tmp_path: Path) -> None:
    if not HAS_SEARCH:
        pytest.skip("this botocore does not know SearchVectors")
    with serve(tmp_path / "res.keel") as s:
        res = boto3.resource("dynamodb", endpoint_url=s.endpoint_url, region_name="us-west-2",
                             aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
        t = res.create_table(TableName="docs", KeySchema=[{"AttributeName": "pk",
                                                           "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                             BillingMode="PAY_PER_REQUEST", VectorIndexes=VIX)
        with t.batch_writer() as w:
            for i in range(20):
                w.put_item(Item={"pk": f"d{i:02d}", "v": [Decimal(i), Decimal(0), Decimal("0.5")],
                                 "cat": "ab"[i % 2]})
        t.reload()
        assert t.item_count == 20
        # the resource's client takes and gives Python values for AttributeValues
        r = res.meta.client.search_vectors(
            TableName="docs", IndexName="emb", TopK=2,
            SearchVector=[Decimal("7.4"), Decimal(0), Decimal("0.5")],
            SearchConditionExpression="cat = :c", ExpressionAttributeValues={":c": "b"})
        assert [h["Item"]["pk"] for h in r["SearchResults"]] == ["d07", "d09"]
        assert r["SearchResults"][0]["Item"]["v"] == [7, 0, Decimal("0.5")]
        aws = shutil.which("aws") or str(Path(sys.executable).parent / "aws")
        if not os.access(aws, os.X_OK):
            return
        env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="secret",
                   AWS_DEFAULT_REGION="eu-west-1", AWS_PAGER="")
        out = subprocess.run([aws, "dynamodb", "search-vectors", "--table-name", "docs",
                              "--index-name", "emb", "--top-k", "2", "--search-vector",
                              '[{"N": "9"}, {"N": "0"}, {"N": "0.5"}]', "--endpoint-url",
                              s.endpoint_url, "--output", "json"], env=env, capture_output=True,
                             text=True, timeout=60)
        if out.returncode != 0 and "Invalid choice" in out.stderr:
            return      # an AWS CLI whose botocore does not know the operation
        assert out.returncode == 0, out.stderr
        assert [h["Item"]["pk"]["S"] for h in json.loads(out.stdout)["SearchResults"]] == \
            ["d09", "d08"]


def test_stand_in_client_without_botocore(tmp_path: Path) -> None:
    """keeldb.dynamodb's client without botocore reaches the new operations by name too."""
    import keeldb
    db = keeldb.Database(str(tmp_path / "plain.keel"))
    c = kdynamo.KeelDynamoClient(db, True)
    c.url = None
    _vector_table(c)
    r = c.search_vectors(TableName="docs", IndexName="emb", TopK=1,
                         SearchVector=[{"N": "5"}, {"N": "0"}, {"N": "0.5"}])
    assert r["SearchResults"][0]["Item"]["pk"] == {"S": "d05"}
    c.execute_transaction(TransactStatements=[
        {"Statement": "UPDATE \"docs\" SET cat = 'z' WHERE pk = 'd05'"}], ClientRequestToken="t")
    with pytest.raises(kdynamo.ClientError) as e:
        c.execute_transaction(TransactStatements=[
            {"Statement": "UPDATE \"docs\" SET cat = 'y' WHERE pk = 'd05'"}], ClientRequestToken="t")
    assert e.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    c.close()


def test_client_request_token_concurrent(tmp_path: Path) -> None:
    """8 threads send one transaction with one token at once: it is applied exactly once;
    each caller sees success or TransactionInProgressException, never a second apply."""
    import threading
    with serve(tmp_path / "conc.keel") as s:
        mk = lambda: boto3.client("dynamodb", endpoint_url=s.endpoint_url,  # noqa: E731
                                  region_name="us-west-2", aws_access_key_id="AKIDEXAMPLE",
                                  aws_secret_access_key="secret")
        _table(mk())
        results: list = []
        for round_ in range(5):
            token = f"conc-{round_}"
            bump = [{"Update": {"TableName": "acct", "Key": {"pk": {"S": "n"}},
                                "UpdateExpression": "ADD v :one",
                                "ExpressionAttributeValues": {":one": {"N": "1"}}}}]
            clients = [mk() for _ in range(8)]
            gate = threading.Barrier(8)

            def run(c) -> None:
                gate.wait()
                try:
                    c.transact_write_items(TransactItems=bump, ClientRequestToken=token)
                    results.append("ok")
                except ClientError as e:
                    results.append(e.response["Error"]["Code"])
            ts = [threading.Thread(target=run, args=(c,)) for c in clients]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        assert set(results) <= {"ok", "TransactionInProgressException"}, results
        got = mk().get_item(TableName="acct", Key={"pk": {"S": "n"}}, ConsistentRead=True)
        assert got["Item"]["v"] == {"N": "5"}
