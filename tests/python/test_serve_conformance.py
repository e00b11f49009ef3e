"""keel serve against DynamoDB's documented behaviour, through boto3 on loopback.

Each test pins one behaviour that an independent DynamoDB conformance run found keel
getting wrong (the fixes are in src/server and src/db): request validation (billing mode
contradictions, legacy and expression parameters mixed in a write, duplicate names),
response shapes (DeleteTable's description, UPDATED/ALL_NEW of an update that creates
nothing), values holding NUL characters, and the messages clients match on. One server
per module; every test uses its own keys.
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import uuid

import pytest

boto3 = pytest.importorskip("boto3")
import botocore  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

from keeldb.serve import serve  # noqa: E402


@pytest.fixture(scope="module")
def url(cli: str, tmp_path_factory: pytest.TempPathFactory):
    os.environ.setdefault("KEEL_BIN", cli)
    with serve(tmp_path_factory.mktemp("conf") / "db.keel") as s:
        yield s.endpoint_url


def _cfg():
    # no client-side validation: the server's answers are what is tested
    return botocore.client.Config(parameter_validation=False, retries={"max_attempts": 0})


@pytest.fixture(scope="module")
def client(url: str):
    return boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="k", aws_secret_access_key="s", config=_cfg())


@pytest.fixture(scope="module")
def table(url: str, client):
    """A table with a string hash key p and a string range key c (resource API)."""
    client.create_table(TableName="conf", BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "p", "KeyType": "HASH"},
                                   {"AttributeName": "c", "KeyType": "RANGE"}],
                        AttributeDefinitions=[{"AttributeName": "p", "AttributeType": "S"},
                                              {"AttributeName": "c", "AttributeType": "S"}])
    res = boto3.resource("dynamodb", endpoint_url=url, region_name="us-east-1",
                         aws_access_key_id="k", aws_secret_access_key="s", config=_cfg())
    return res.Table("conf")


def _key() -> dict:
    return {"p": uuid.uuid4().hex, "c": "x"}


def _err(e: pytest.ExceptionInfo) -> tuple[str, str]:
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


KS = [{"AttributeName": "p", "KeyType": "HASH"}]
AD = [{"AttributeName": "p", "AttributeType": "S"}]


def _create(client, name: str, hash_key: str, range_key: str | None, types: dict,
            gsi: tuple[str, str], **more) -> None:
    """An on-demand table keyed (hash_key[, range_key]), its attribute definitions `types`
    ({name: "S" | "N" | "B"}), one global index gsi = (index name, its hash key) projecting
    everything, and any other CreateTable members in `more`."""
    keys = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        keys.append({"AttributeName": range_key, "KeyType": "RANGE"})
    client.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=keys,
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t in types.items()],
        GlobalSecondaryIndexes=[{"IndexName": gsi[0], "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": gsi[1], "KeyType": "HASH"}]}],
        **more)


# ---- CreateTable / DeleteTable ------------------------------------------------------------

def test_billing_mode_contradictions_refused(client) -> None:
    with pytest.raises(ClientError) as e:
        client.create_table(TableName="bm1", KeySchema=KS, AttributeDefinitions=AD,
                            BillingMode="PAY_PER_REQUEST",
                            ProvisionedThroughput={"ReadCapacityUnits": 1,
                                                   "WriteCapacityUnits": 1})
    assert _err(e)[0] == "ValidationException" and "PAY_PER_REQUEST" in _err(e)[1]
    with pytest.raises(ClientError) as e:
        client.create_table(TableName="bm2", KeySchema=KS, AttributeDefinitions=AD,
                            BillingMode="PROVISIONED")
    assert _err(e)[0] == "ValidationException" and "PROVISIONED" in _err(e)[1]
    names = client.list_tables()["TableNames"]
    assert "bm1" not in names and "bm2" not in names
    # the consistent forms (and leaving both out) are accepted
    client.create_table(TableName="bm3", KeySchema=KS, AttributeDefinitions=AD,
                        BillingMode="PROVISIONED",
                        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
    client.create_table(TableName="bm4", KeySchema=KS, AttributeDefinitions=AD)
    client.delete_table(TableName="bm3")
    client.delete_table(TableName="bm4")


def test_duplicate_attribute_definition_names_the_attribute(client) -> None:
    with pytest.raises(ClientError) as e:
        client.create_table(TableName="dup", BillingMode="PAY_PER_REQUEST", KeySchema=KS,
                            AttributeDefinitions=[{"AttributeName": "p", "AttributeType": "S"},
                                                  {"AttributeName": "p", "AttributeType": "N"}])
    code, msg = _err(e)
    assert code == "ValidationException" and "Duplicate" in msg and msg.endswith(": p")


def test_delete_table_description_is_the_short_one(client) -> None:
    _create(client, "gone", "p", "c", {"p": "S", "c": "S", "x": "S"}, ("by_x", "x"))
    d = client.delete_table(TableName="gone")["TableDescription"]
    assert d["TableName"] == "gone" and d["TableStatus"] == "DELETING"
    assert d["TableArn"].startswith("arn:") and d["TableId"]
    assert d["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert d["ProvisionedThroughput"]["ReadCapacityUnits"] == 0
    for absent in ("KeySchema", "AttributeDefinitions", "CreationDateTime",
                   "GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        assert absent not in d


# ---- request validation --------------------------------------------------------------------

def test_write_mixing_legacy_and_expressions_is_refused(table) -> None:
    k = _key()
    table.put_item(Item=dict(k, a=2))
    with pytest.raises(ClientError) as e:   # the condition must not be evaluated either
        table.update_item(Key=k, AttributeUpdates={"a": {"Value": 1, "Action": "PUT"}},
                          ConditionExpression="a = :v", ExpressionAttributeValues={":v": 2})
    code, msg = _err(e)
    assert code == "ValidationException"
    assert "{AttributeUpdates}" in msg and "{ConditionExpression}" in msg
    with pytest.raises(ClientError) as e:
        table.update_item(Key=k, UpdateExpression="SET a = :v",
                          ExpressionAttributeValues={":v": 3},
                          Expected={"a": {"Value": 2}})
    assert "{Expected}" in _err(e)[1] and "{UpdateExpression}" in _err(e)[1]
    assert table.get_item(Key=k)["Item"]["a"] == 2
    # a read may combine KeyConditions with a ProjectionExpression
    got = table.query(KeyConditions={"p": {"AttributeValueList": [k["p"]],
                                           "ComparisonOperator": "EQ"}},
                      ProjectionExpression="a")["Items"]
    assert got == [{"a": 2}]


def test_attributes_to_get_duplicate_and_select_messages(table) -> None:
    k = _key()
    with pytest.raises(ClientError) as e:
        table.get_item(Key=k, AttributesToGet=["a", "b", "a"])
    assert _err(e) == ("ValidationException", "One or more parameter values were invalid: "
                       "Duplicate value in attribute name: a")
    with pytest.raises(ClientError) as e:
        table.scan(Select="COUNT", AttributesToGet=["a"])
    assert "AttributesToGet" in _err(e)[1]
    with pytest.raises(ClientError) as e:
        table.scan(Select="ALL_ATTRIBUTES", ProjectionExpression="a")
    assert "ProjectionExpression" in _err(e)[1]


# ---- values --------------------------------------------------------------------------------

def test_nul_characters_in_string_values_and_keys(table) -> None:
    k = {"p": "a\x00b" + uuid.uuid4().hex, "c": "\x00"}
    item = dict(k, s="x\x00y", l=["\x00"], m={"k": "v\x00"}, ss={"\x00", "a"})
    table.put_item(Item=item)
    assert table.get_item(Key=k, ConsistentRead=True)["Item"] == item
    # a prefix up to the NUL is another key
    assert "Item" not in table.get_item(Key={"p": "a", "c": "\x00"})
    got = table.query(KeyConditionExpression="p = :p AND begins_with(c, :c)",
                      ExpressionAttributeValues={":p": k["p"], ":c": "\x00"})["Items"]
    assert got == [item]


def _raw(url: str, op: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "X-Amz-Target": "DynamoDB_20120810." + op,
        "Content-Type": "application/x-amz-json-1.0"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_attribute_value_of_the_wrong_json_type_is_a_serialization_error(url, table) -> None:
    for op, body in (("PutItem", {"TableName": "conf", "Item": {"p": {"S": "a"}, "c": {"S": "b"},
                                                                 "n": {"N": 12}}}),
                     ("UpdateItem", {"TableName": "conf", "Key": {"p": {"S": "a"}, "c": {"S": "b"}},
                                     "UpdateExpression": "SET v = :v",
                                     "ExpressionAttributeValues": {":v": {"S": 1}}})):
        status, err = _raw(url, op, body)
        assert status == 400 and err["__type"].endswith("#SerializationException"), err
        assert err["message"] == "NUMBER_VALUE cannot be converted to String"
    # an object where a string belongs, as DynamoDB's deserializer says it
    status, err = _raw(url, "PutItem", {"TableName": "conf", "Item": {"p": {"S": {"S": "x"}},
                                                                       "c": {"S": "b"}}})
    assert status == 400 and err["__type"].endswith("#SerializationException"), err
    assert err["message"] == "Start of structure or map found where not expected"


def test_nul_refused_in_names(client, table) -> None:
    with pytest.raises(ClientError) as e:
        client.describe_table(TableName="co\x00nf")
    assert _err(e)[0] == "ValidationException"


# ---- updates that create nothing -----------------------------------------------------------

def test_update_that_only_removes_creates_no_item(table) -> None:
    for kw in ({"UpdateExpression": "REMOVE a, b"},
               {"AttributeUpdates": {"a": {"Action": "DELETE"}}},
               {"AttributeUpdates": {"a": {"Action": "DELETE", "Value": {1, 2}}}},
               {"UpdateExpression": "DELETE s :v", "ExpressionAttributeValues": {":v": {"x"}}}):
        k = _key()
        r = table.update_item(Key=k, ReturnValues="ALL_NEW", **kw)
        assert "Attributes" not in r, kw
        assert "Item" not in table.get_item(Key=k, ConsistentRead=True), kw
    # one SET among the removals does create it, and so does an empty AttributeUpdates
    k = _key()
    r = table.update_item(Key=k, UpdateExpression="REMOVE a SET b = :v",
                          ExpressionAttributeValues={":v": 1}, ReturnValues="ALL_NEW")
    assert r["Attributes"] == dict(k, b=1)
    k = _key()
    assert table.update_item(Key=k, AttributeUpdates={}, ReturnValues="ALL_NEW")[
        "Attributes"] == k
    # an existing item still loses the attribute
    table.update_item(Key=k, UpdateExpression="SET a = :v", ExpressionAttributeValues={":v": 1})
    table.update_item(Key=k, UpdateExpression="REMOVE a")
    assert table.get_item(Key=k)["Item"] == k


def test_update_that_only_removes_still_reports_type_errors(table) -> None:
    with pytest.raises(ClientError) as e:
        table.update_item(Key=_key(), UpdateExpression="DELETE s :v",
                          ExpressionAttributeValues={":v": "not a set"})
    assert _err(e)[0] == "ValidationException"



# ---- secondary indexes ---------------------------------------------------------------------

def test_index_key_of_another_type_is_refused(client, url) -> None:
    _create(client, "typed", "p", None, {"p": "S", "x": "S"}, ("by_x", "x"))
    t = boto3.resource("dynamodb", endpoint_url=url, region_name="us-east-1",
                       aws_access_key_id="k", aws_secret_access_key="s",
                       config=_cfg()).Table("typed")
    with pytest.raises(ClientError) as e:
        t.put_item(Item={"p": "a", "x": 3})
    assert _err(e) == ("ValidationException", "One or more parameter values were invalid: "
                       "Type mismatch for Index Key x Expected: S Actual: N IndexName: by_x")
    assert "Item" not in t.get_item(Key={"p": "a"})
    t.put_item(Item={"p": "b", "x": "ok"})
    with pytest.raises(ClientError) as e:
        t.update_item(Key={"p": "b"}, AttributeUpdates={"x": {"Value": 3, "Action": "PUT"}})
    assert "mismatch" in _err(e)[1]
    assert t.get_item(Key={"p": "b"})["Item"] == {"p": "b", "x": "ok"}
    with pytest.raises(ClientError) as e:     # one bad item refuses the whole batch
        with t.batch_writer() as b:
            b.put_item(Item={"p": "c", "x": "fine"})
            b.put_item(Item={"p": "d", "x": {"m": 1}})
    assert "Actual: M" in _err(e)[1]
    assert "Item" not in t.get_item(Key={"p": "c"})
    # without the attribute the item is stored and simply not indexed
    t.put_item(Item={"p": "e"})
    got = t.scan(IndexName="by_x")["Items"]
    assert got == [{"p": "b", "x": "ok"}]


# ---- Query and Scan ------------------------------------------------------------------------

def test_query_filter_may_not_name_the_keys(table) -> None:
    k = _key()
    table.put_item(Item=dict(k, a=1))
    for kw in ({"FilterExpression": "c = :c"}, {"FilterExpression": "a = :c OR p = :c"}):
        with pytest.raises(ClientError) as e:
            table.query(KeyConditionExpression="p = :p",
                        ExpressionAttributeValues={":p": k["p"], ":c": "x"}, **kw)
        assert _err(e)[0] == "ValidationException"
        assert "non-primary key attributes" in _err(e)[1]
    with pytest.raises(ClientError) as e:     # QueryFilter is rewritten as a filter
        table.query(KeyConditions={"p": {"AttributeValueList": [k["p"]],
                                         "ComparisonOperator": "EQ"}},
                    QueryFilter={"c": {"AttributeValueList": ["x"], "ComparisonOperator": "EQ"}})
    assert "Primary key attribute: c" in _err(e)[1]
    # a scan may filter on keys; a query may filter on other attributes
    assert table.scan(FilterExpression="p = :p", ExpressionAttributeValues={":p": k["p"]})[
        "Items"] == [dict(k, a=1)]
    assert table.query(KeyConditionExpression="p = :p", FilterExpression="a = :a",
                       ExpressionAttributeValues={":p": k["p"], ":a": 1})["Count"] == 1


def test_key_condition_on_a_nested_path_says_so(table) -> None:
    for kce in ("p = :p AND c.d = :c", "p = :p AND begins_with(c[0], :c)"):
        with pytest.raises(ClientError) as e:
            table.query(KeyConditionExpression=kce,
                        ExpressionAttributeValues={":p": "x", ":c": "y"})
        assert _err(e)[0] == "ValidationException" and "nested" in _err(e)[1]


def test_parallel_scan_start_key_must_be_in_its_segment(table) -> None:
    with table.batch_writer() as b:
        for i in range(40):
            b.put_item(Item={"p": f"seg{i}", "c": "x"})
    # every segment's LastEvaluatedKey resumes that segment; in another one it is refused
    page = table.scan(TotalSegments=4, Segment=1, Limit=1)
    lek = page["LastEvaluatedKey"]
    table.scan(TotalSegments=4, Segment=1, ExclusiveStartKey=lek)
    for seg in (0, 2, 3):
        with pytest.raises(ClientError) as e:
            table.scan(TotalSegments=4, Segment=seg, ExclusiveStartKey=lek)
        assert _err(e) == ("ValidationException", "The provided Exclusive start key does not "
                           "map to the provided segment")


# ---- expressions and AttributeUpdates ------------------------------------------------------

def test_function_name_must_start_with_a_letter(table) -> None:
    with pytest.raises(ClientError) as e:
        table.update_item(Key=_key(), UpdateExpression="SET a = _f(b)")
    assert _err(e)[1].startswith("Invalid UpdateExpression: Syntax error; token: \"_f\"")
    with pytest.raises(ClientError) as e:
        table.update_item(Key=_key(), UpdateExpression="SET a = f1(b)")
    assert "Invalid function name; function: f1" in _err(e)[1]


def test_condition_functions_take_a_value_first(table) -> None:
    k = _key()
    table.put_item(Item=dict(k, a="he"))
    cond = lambda ce, v: table.put_item(Item=dict(k, a="he"), ConditionExpression=ce,  # noqa: E731
                                        ExpressionAttributeValues=v)
    cond("begins_with(:s, a)", {":s": "hello"})
    cond("attribute_type(:v, :t)", {":v": 1, ":t": "N"})
    with pytest.raises(ClientError) as e:
        cond("begins_with(:s, a)", {":s": "dog"})
    assert _err(e)[0] == "ConditionalCheckFailedException"
    with pytest.raises(ClientError) as e:
        cond("begins_with(:n, a)", {":n": 1})
    assert "begins_with, operand type: N" in _err(e)[1]
    with pytest.raises(ClientError) as e:       # attribute_exists still wants a path
        cond("attribute_exists(:v)", {":v": 1})
    assert "requires a document path" in _err(e)[1]


def test_attribute_updates_add_and_delete(table) -> None:
    k = _key()
    au = lambda a, v: table.update_item(Key=k, AttributeUpdates={  # noqa: E731
        "a": {"Action": a, "Value": v}})
    au("ADD", [1, 2])                      # ADD of a list appends (absent: an empty list)
    au("ADD", ["x"])
    assert table.get_item(Key=k)["Item"]["a"] == [1, 2, "x"]
    for action, value, word in (("ADD", "s", "ADD action is not supported for the type S"),
                                ("ADD", {"m": 1}, "for the type M"),
                                ("DELETE", [1], "DELETE action with value is not supported "
                                                "for the type L")):
        with pytest.raises(ClientError) as e:
            au(action, value)
        assert _err(e)[0] == "ValidationException" and word in _err(e)[1]
    for value in ({1}, 3):                 # fits ADD, but not the list stored
        with pytest.raises(ClientError) as e:
            au("ADD", value)
        assert _err(e)[1] == "Type mismatch for attribute to update"
    table.put_item(Item=dict(k, a={1, 2}))
    with pytest.raises(ClientError) as e:
        au("DELETE", {"x"})
    assert _err(e)[1] == "Type mismatch for attribute to update"
    au("DELETE", {2})
    assert table.get_item(Key=k)["Item"]["a"] == {1}


# ---- limits --------------------------------------------------------------------------------

def test_attribute_name_limits(client, table) -> None:
    k = _key()
    long_name = "n" * 65536                # one byte over an item's attribute name limit
    for call in (lambda: table.get_item(Key=k, ProjectionExpression="#n",
                                        ExpressionAttributeNames={"#n": long_name}),
                 lambda: table.get_item(Key=k, AttributesToGet=[long_name]),
                 lambda: table.put_item(Item=k, ConditionExpression="attribute_exists(#n)",
                                        ExpressionAttributeNames={"#n": long_name})):
        with pytest.raises(ClientError) as e:
            call()
        assert _err(e)[0] == "ValidationException" and "65535" in _err(e)[1]
    # a key attribute name over 255 bytes is named as such, before the schema's coherence
    too_long = "k" * 256
    for ks, ad in (([{"AttributeName": too_long, "KeyType": "HASH"}],
                    [{"AttributeName": "other", "AttributeType": "S"}]),
                   ([{"AttributeName": "p", "KeyType": "HASH"}],
                    [{"AttributeName": too_long, "AttributeType": "S"}])):
        with pytest.raises(ClientError) as e:
            client.create_table(TableName="longkey", BillingMode="PAY_PER_REQUEST",
                                KeySchema=ks, AttributeDefinitions=ad)
        assert "length less than or equal to 255" in _err(e)[1]


def test_get_item_projection_error_names_no_transaction(table) -> None:
    with pytest.raises(ClientError) as e:
        table.get_item(Key=_key(), ProjectionExpression="x" * 4097)
    code, msg = _err(e)
    assert code == "ValidationException" and "4097" in msg and "transaction" not in msg


# ---- messages a second conformance hunt found (DynamoDB's words, as recorded against AWS) --

def test_expression_errors_name_their_expression(client, table) -> None:
    k = _key()
    cases = (
        (lambda: table.update_item(Key=k, UpdateExpression="SET a = "),
         'Invalid UpdateExpression: Syntax error; token: "<EOF>", near: "="'),
        (lambda: table.update_item(Key=k, UpdateExpression="SET a = :v"),
         "Invalid UpdateExpression: An expression attribute value used in expression is not "
         "defined; attribute value: :v"),
        (lambda: table.update_item(Key=k, UpdateExpression="SET name = :v",
                                   ExpressionAttributeValues={":v": 1}),
         "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: name"),
        (lambda: client.update_item(TableName="conf", Key={"p": {"S": "a"}, "c": {"S": "b"}},
                                    UpdateExpression=""),
         "Invalid UpdateExpression: The expression can not be empty;"),
        (lambda: table.put_item(Item=k, ConditionExpression="a = = :v",
                                ExpressionAttributeValues={":v": 1}),
         'Invalid ConditionExpression: Syntax error; token: "=", near: "= = :v"'),
        (lambda: table.put_item(Item=k, ConditionExpression="foo(a)"),
         "Invalid ConditionExpression: Invalid function name; function: foo"),
        (lambda: table.delete_item(Key=k, ConditionExpression="a BETWEEN :h AND :l",
                                   ExpressionAttributeValues={":h": 5, ":l": 1}),
         "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater "
         "than or equal to lower bound"),
        (lambda: table.scan(FilterExpression="#n = :v", ExpressionAttributeValues={":v": 1}),
         "Invalid FilterExpression: An expression attribute name used in the document path is "
         "not defined; attribute name: #n"),
        (lambda: table.query(KeyConditionExpression="p = ", ExpressionAttributeValues={":p": "x"}),
         'Invalid KeyConditionExpression: Syntax error; token: "<EOF>", near: "="'),
        (lambda: table.get_item(Key=k, ProjectionExpression="a,,b"),
         'Invalid ProjectionExpression: Syntax error; token: ",", near: ",,b"'),
        (lambda: table.scan(ProjectionExpression="status"),
         "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: "
         "status"),
    )
    for call, want in cases:
        with pytest.raises(ClientError) as e:
            call()
        code, msg = _err(e)
        assert code == "ValidationException" and msg.startswith(want), (want, msg)
    # messages DynamoDB gives without naming the expression stay so
    with pytest.raises(ClientError) as e:
        table.query(KeyConditionExpression="p = :p OR c = :c",
                    ExpressionAttributeValues={":p": "x", ":c": "y"})
    assert _err(e)[1] == "Invalid operator used in KeyConditionExpression: OR"
    with pytest.raises(ClientError) as e:
        table.get_item(Key=k, ProjectionExpression="a", ExpressionAttributeNames={"#a": "a"})
    assert _err(e)[1] == ("Value provided in ExpressionAttributeNames unused in expressions: "
                          "keys: {#a}")


def test_add_and_delete_operand_types_in_dynamodbs_words(table) -> None:
    k = _key()
    for ue, v, want in (("ADD a :v", "s", "operator: ADD, operand type: STRING, "
                                          "typeSet: ALLOWED_FOR_ADD_OPERAND"),
                        ("ADD a :v", {"m": 1}, "operator: ADD, operand type: MAP"),
                        ("ADD a :v", [1], "operator: ADD, operand type: LIST"),
                        ("DELETE a :v", 1, "operator: DELETE, operand type: NUMBER, "
                                           "typeSet: ALLOWED_FOR_DELETE_OPERAND"),
                        ("DELETE a :v", True, "operator: DELETE, operand type: BOOLEAN")):
        with pytest.raises(ClientError) as e:
            table.update_item(Key=k, UpdateExpression=ue, ExpressionAttributeValues={":v": v})
        assert _err(e)[1].startswith("Invalid UpdateExpression: Incorrect operand type for "
                                     "operator or function; " + want), _err(e)


def test_key_parameter_not_matching_the_schema(client, table) -> None:
    """A Key (GetItem, DeleteItem, UpdateItem, BatchGetItem, a transaction's) that lacks an
    attribute or has one of the wrong type is "The provided key element does not match the
    schema"; an Item's key of the wrong type stays "Type mismatch for key"."""
    bad_keys = ({"p": {"S": "a"}}, {"p": {"N": "1"}, "c": {"S": "x"}},
                {"p": {"S": "a"}, "c": {"B": b"x"}})
    for key in bad_keys:
        for call in (lambda: client.get_item(TableName="conf", Key=key),
                     lambda: client.delete_item(TableName="conf", Key=key),
                     lambda: client.update_item(TableName="conf", Key=key,
                                                UpdateExpression="REMOVE a"),
                     lambda: client.batch_get_item(RequestItems={"conf": {"Keys": [key]}}),
                     lambda: client.transact_get_items(TransactItems=[
                         {"Get": {"TableName": "conf", "Key": key}}])):
            with pytest.raises(ClientError) as e:
                call()
            code, msg = _err(e)
            assert code == "ValidationException", msg
            assert "The provided key element does not match the schema" in msg, (key, msg)
    with pytest.raises(ClientError) as e:
        client.put_item(TableName="conf", Item={"p": {"N": "1"}, "c": {"S": "x"}})
    assert _err(e)[1] == ("One or more parameter values were invalid: Type mismatch for key p "
                          "expected: S actual: N")


def test_empty_key_values_name_the_attribute(client, url) -> None:
    _create(client, "emptykeys", "pk", "sk", {"pk": "S", "sk": "B", "g": "S"}, ("by_g", "g"))
    base = "One or more parameter values are not valid. "
    empty = "The AttributeValue for a key attribute cannot contain an empty "
    for call, want in (
            (lambda: client.put_item(TableName="emptykeys",
                                     Item={"pk": {"S": ""}, "sk": {"B": b"1"}}),
             base + empty + "string value. Key: pk"),
            (lambda: client.get_item(TableName="emptykeys",
                                     Key={"pk": {"S": "a"}, "sk": {"B": b""}}),
             base + empty + "binary value. Key: sk"),
            (lambda: client.query(TableName="emptykeys", KeyConditionExpression="pk = :p",
                                  ExpressionAttributeValues={":p": {"S": ""}}),
             base + empty + "string value. Key: pk"),
            (lambda: client.query(TableName="emptykeys",
                                  KeyConditionExpression="pk = :p AND sk > :s",
                                  ExpressionAttributeValues={":p": {"S": "a"}, ":s": {"B": b""}}),
             base + empty + "binary value. Key: sk"),
            (lambda: client.query(TableName="emptykeys", IndexName="by_g",
                                  KeyConditionExpression="g = :g",
                                  ExpressionAttributeValues={":g": {"S": ""}}),
             base + empty + "string value. Key: g"),
            (lambda: client.put_item(TableName="emptykeys",
                                     Item={"pk": {"S": "a"}, "sk": {"B": b"1"}, "g": {"S": ""}}),
             base + "A value specified for a secondary index key is not supported. " + empty +
             "string value. IndexName: by_g, IndexKey: g")):
        with pytest.raises(ClientError) as e:
            call()
        assert _err(e) == ("ValidationException", want)
    assert "Item" not in client.get_item(TableName="emptykeys",
                                         Key={"pk": {"S": "a"}, "sk": {"B": b"1"}})


def test_updating_a_key_attribute_message(table) -> None:
    with pytest.raises(ClientError) as e:
        table.update_item(Key=_key(), UpdateExpression="SET c = :v",
                          ExpressionAttributeValues={":v": "y"})
    assert _err(e) == ("ValidationException", "One or more parameter values were invalid: "
                       "Cannot update attribute c. This attribute is part of the key")


def test_names_or_values_without_an_expression(client, table) -> None:
    k = _key()
    for call, which in ((lambda: table.put_item(Item=k, ExpressionAttributeValues={":v": 1}),
                         "Values"),
                        (lambda: table.delete_item(Key=k, ExpressionAttributeNames={"#a": "a"}),
                         "Names"),
                        (lambda: table.update_item(Key=k, ExpressionAttributeValues={":v": 1}),
                         "Values")):
        with pytest.raises(ClientError) as e:
            call()
        assert _err(e) == ("ValidationException", f"ExpressionAttribute{which} can only be "
                           "specified when using expressions")
    assert "Item" not in table.get_item(Key=k)
    # legacy parameters bring their own placeholders: still accepted
    table.put_item(Item=dict(k, a=1), Expected={"a": {"Exists": False}})
    table.update_item(Key=k, AttributeUpdates={"a": {"Value": 2, "Action": "PUT"}})
    assert table.get_item(Key=k)["Item"]["a"] == 2


def test_return_item_collection_metrics_is_checked(client, table) -> None:
    k = _key()
    item = {"p": {"S": k["p"]}, "c": {"S": "x"}}
    for call in (lambda: client.put_item(TableName="conf", Item=item,
                                         ReturnItemCollectionMetrics="ALL"),
                 lambda: client.batch_write_item(RequestItems={"conf": [
                     {"PutRequest": {"Item": item}}]}, ReturnItemCollectionMetrics="ALL"),
                 lambda: client.transact_write_items(TransactItems=[
                     {"Put": {"TableName": "conf", "Item": item}}],
                     ReturnItemCollectionMetrics="ALL")):
        with pytest.raises(ClientError) as e:
            call()
        assert _err(e) == ("ValidationException", "1 validation error detected: Value 'ALL' at "
                           "'returnItemCollectionMetrics' failed to satisfy constraint: Member "
                           "must satisfy enum value set: [SIZE, NONE]")
    assert "Item" not in client.get_item(TableName="conf", Key=item)
    client.put_item(TableName="conf", Item=item, ReturnItemCollectionMetrics="SIZE")


def test_consumed_capacity_of_an_index_read_names_the_index(client) -> None:
    _create(client, "capidx", "p", "c", {"p": "S", "c": "S", "g": "S", "l": "S"}, ("by_g", "g"),
        LocalSecondaryIndexes=[{"IndexName": "by_l", "Projection": {"ProjectionType": "ALL"},
                                "KeySchema": [{"AttributeName": "p", "KeyType": "HASH"},
                                              {"AttributeName": "l", "KeyType": "RANGE"}]}])
    client.put_item(TableName="capidx", Item={"p": {"S": "a"}, "c": {"S": "1"},
                                              "g": {"S": "G"}, "l": {"S": "L"}})
    for kw, member, name in (
            ({"IndexName": "by_g", "KeyConditionExpression": "g = :v"},
             "GlobalSecondaryIndexes", "by_g"),
            ({"IndexName": "by_l", "KeyConditionExpression": "p = :v"},
             "LocalSecondaryIndexes", "by_l")):
        v = "G" if name == "by_g" else "a"
        cc = client.query(TableName="capidx", ExpressionAttributeValues={":v": {"S": v}},
                          ReturnConsumedCapacity="INDEXES", **kw)["ConsumedCapacity"]
        assert cc["TableName"] == "capidx" and cc["CapacityUnits"] == 0.5
        assert cc[member] == {name: {"CapacityUnits": 0.5, "ReadCapacityUnits": 0.5}}
        assert cc["Table"]["CapacityUnits"] == 0
        # TOTAL names no part
        cc = client.query(TableName="capidx", ExpressionAttributeValues={":v": {"S": v}},
                          ReturnConsumedCapacity="TOTAL", **kw)["ConsumedCapacity"]
        assert cc["CapacityUnits"] == 0.5 and member not in cc and "Table" not in cc
    cc = client.scan(TableName="capidx", IndexName="by_g",
                     ReturnConsumedCapacity="INDEXES")["ConsumedCapacity"]
    assert "by_g" in cc["GlobalSecondaryIndexes"]
    # a read of the table itself is the table's
    cc = client.scan(TableName="capidx", ReturnConsumedCapacity="INDEXES")["ConsumedCapacity"]
    assert cc["Table"]["CapacityUnits"] == 0.5 and "GlobalSecondaryIndexes" not in cc


def test_index_name_length_and_empty_update_table(client) -> None:
    for where, kw in (("globalSecondaryIndexes.1.member", {"GlobalSecondaryIndexes": [
                          {"IndexName": "gi", "Projection": {"ProjectionType": "ALL"},
                           "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}]}]}),
                      ("localSecondaryIndexes.1.member", {"LocalSecondaryIndexes": [
                          {"IndexName": "li", "Projection": {"ProjectionType": "ALL"},
                           "KeySchema": [{"AttributeName": "p", "KeyType": "HASH"},
                                         {"AttributeName": "g", "KeyType": "RANGE"}]}]})):
        with pytest.raises(ClientError) as e:
            client.create_table(
                TableName="shortidx", BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": "p", "KeyType": "HASH"},
                           {"AttributeName": "c", "KeyType": "RANGE"}],
                AttributeDefinitions=[{"AttributeName": "p", "AttributeType": "S"},
                                      {"AttributeName": "c", "AttributeType": "S"},
                                      {"AttributeName": "g", "AttributeType": "S"}], **kw)
        assert _err(e) == ("ValidationException", "1 validation error detected: Value '"
                           f"{kw[next(iter(kw))][0]['IndexName']}' at '{where}.indexName' failed "
                           "to satisfy constraint: Member must have length greater than or "
                           "equal to 3")
    assert "shortidx" not in client.list_tables()["TableNames"]
    client.create_table(TableName="noupdate", BillingMode="PAY_PER_REQUEST", KeySchema=KS,
                        AttributeDefinitions=AD)
    with pytest.raises(ClientError) as e:
        client.update_table(TableName="noupdate")
    assert _err(e)[0] == "ValidationException"
    assert _err(e)[1].startswith("At least one of ProvisionedThroughput, BillingMode, ")
    client.update_table(TableName="noupdate", BillingMode="PAY_PER_REQUEST")
    client.delete_table(TableName="noupdate")


def _nested(levels: int, kind: str) -> dict:
    v: dict = {"S": "x"}
    for _ in range(levels):
        v = {"M": {"a": v}} if kind == "M" else {"L": [v]}
    return v


def test_items_nested_32_levels_pass_the_request_depth_limit(client, table) -> None:
    """DynamoDB allows 32 levels of nested maps or lists; the request's JSON nesting limit
    (once 64) refused such an item as a SerializationException before the item check."""
    for kind in ("M", "L"):
        k = {"p": {"S": uuid.uuid4().hex}, "c": {"S": kind}}
        item = dict(k, d=_nested(32, kind))
        client.put_item(TableName="conf", Item=item)
        assert client.get_item(TableName="conf", Key=k)["Item"] == item
        k2 = {"p": {"S": uuid.uuid4().hex}, "c": {"S": kind}}
        client.batch_write_item(RequestItems={"conf": [{"PutRequest": {"Item": dict(k2, **{
            "d": _nested(32, kind)})}}]})
        k3 = {"p": {"S": uuid.uuid4().hex}, "c": {"S": kind}}
        client.transact_write_items(TransactItems=[{"Put": {"TableName": "conf", "Item": dict(
            k3, d=_nested(32, kind))}}])
        got = client.batch_get_item(RequestItems={"conf": {"Keys": [k2, k3]}})
        assert len(got["Responses"]["conf"]) == 2
        with pytest.raises(ClientError) as e:
            client.put_item(TableName="conf", Item=dict(k, d=_nested(33, kind)))
        assert _err(e) == ("ValidationException", "Nesting Levels have exceeded supported limits")


def test_all_attributes_of_a_global_index_that_projects_fewer(client) -> None:
    client.create_table(
        TableName="keysonly", BillingMode="PAY_PER_REQUEST", KeySchema=KS,
        AttributeDefinitions=AD + [{"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[
            {"IndexName": "g_keys", "Projection": {"ProjectionType": "KEYS_ONLY"},
             "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}]},
            {"IndexName": "g_incl", "Projection": {"ProjectionType": "INCLUDE",
                                                   "NonKeyAttributes": ["a"]},
             "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}]},
            {"IndexName": "g_all", "Projection": {"ProjectionType": "ALL"},
             "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}]}])
    client.put_item(TableName="keysonly", Item={"p": {"S": "1"}, "g": {"S": "G"},
                                                "a": {"S": "x"}, "b": {"S": "y"}})
    q = {"KeyConditionExpression": "g = :g", "ExpressionAttributeValues": {":g": {"S": "G"}}}
    for index in ("g_keys", "g_incl"):
        for call in (lambda: client.query(TableName="keysonly", IndexName=index,
                                          Select="ALL_ATTRIBUTES", **q),
                     lambda: client.scan(TableName="keysonly", IndexName=index,
                                         Select="ALL_ATTRIBUTES")):
            with pytest.raises(ClientError) as e:
                call()
            assert _err(e) == ("ValidationException", "One or more parameter values were "
                               f"invalid: Select type ALL_ATTRIBUTES is not supported for global "
                               f"secondary index {index} because its projection type is not ALL")
        # the default (the index's projection) still answers
        got = client.query(TableName="keysonly", IndexName=index, **q)["Items"]
        assert got and "b" not in got[0]
    got = client.query(TableName="keysonly", IndexName="g_all", Select="ALL_ATTRIBUTES", **q)
    assert got["Items"][0]["b"] == {"S": "y"}
