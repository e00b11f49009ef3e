"""keel serve against DynamoDB's documented behaviour, through boto3 on loopback (part 2).

More behaviours an independent conformance run would check, each pinned by a test that
failed before its fix (src/server, src/db): where a Query's ExclusiveStartKey may start,
Scan's Segment and TotalSegments, the values a BETWEEN message shows, legacy parameters
mixed with expressions, validation errors inside batches and transactions, CreateTable's
AttributeDefinitions messages, UpdateExpression syntax messages, the order of enum values.
test_serve_conformance.py holds the first part. One server per module; every test uses
its own table or keys.
"""
from __future__ import annotations

import os

import pytest

boto3 = pytest.importorskip("boto3")
import botocore  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

from keeldb.serve import serve  # noqa: E402


@pytest.fixture(scope="module")
def client(cli: str, tmp_path_factory: pytest.TempPathFactory):
    os.environ.setdefault("KEEL_BIN", cli)
    with serve(tmp_path_factory.mktemp("conf2") / "db.keel") as s:
        yield boto3.client("dynamodb", endpoint_url=s.endpoint_url, region_name="us-east-1",
                           aws_access_key_id="k", aws_secret_access_key="s",
                           config=botocore.client.Config(parameter_validation=False,
                                                         retries={"max_attempts": 0}))


def _err(e: pytest.ExceptionInfo) -> tuple[str, str]:
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def _table(client, name: str) -> None:
    client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "p", "KeyType": "HASH"},
                                   {"AttributeName": "c", "KeyType": "RANGE"}],
                        AttributeDefinitions=[{"AttributeName": "p", "AttributeType": "S"},
                                              {"AttributeName": "c", "AttributeType": "N"}])


def test_query_start_key_outside_the_key_condition(client) -> None:
    _table(client, "startkeys")
    for p in ("a", "b"):
        for i in range(6):
            client.put_item(TableName="startkeys", Item={"p": {"S": p}, "c": {"N": str(i)}})

    def values(kce: str) -> dict:
        v = {":p": {"S": "a"}, ":x": {"N": "2"}, ":y": {"N": "4"}}
        return {k: x for k, x in v.items() if k in kce}

    def q(kce: str, start: dict, **kw):
        return client.query(TableName="startkeys", KeyConditionExpression=kce,
                            ExpressionAttributeValues=values(kce), ExclusiveStartKey=start,
                            **kw)

    def start(p: str, c: int) -> dict:
        return {"p": {"S": p}, "c": {"N": str(c)}}

    with pytest.raises(ClientError) as e:           # another partition
        q("p = :p AND c > :x", start("b", 3))
    assert _err(e) == ("ValidationException", "The provided starting key is outside query "
                       "boundaries based on provided conditions")
    for kce, c in (("p = :p AND c > :x", 2), ("p = :p AND c > :x", 0),
                   ("p = :p AND c < :x", 2), ("p = :p AND c <= :x", 3),
                   ("p = :p AND c BETWEEN :x AND :y", 5), ("p = :p AND c = :x", 3)):
        with pytest.raises(ClientError) as e:
            q(kce, start("a", c))
        assert _err(e) == ("ValidationException", "The provided starting key does not match "
                           "the range key predicate"), (kce, c)
    # every LastEvaluatedKey resumes its query, in both directions
    for kce in ("p = :p", "p = :p AND c > :x", "p = :p AND c >= :x", "p = :p AND c < :y",
                "p = :p AND c <= :y", "p = :p AND c BETWEEN :x AND :y", "p = :p AND c = :x"):
        for forward in (True, False):
            got, lek = [], None
            while True:
                kw = {"ExclusiveStartKey": lek} if lek else {}
                page = client.query(TableName="startkeys", KeyConditionExpression=kce,
                                    ExpressionAttributeValues=values(kce),
                                    ScanIndexForward=forward, Limit=1, **kw)
                got += [int(it["c"]["N"]) for it in page["Items"]]
                lek = page.get("LastEvaluatedKey")
                if not lek:
                    break
            whole = client.query(TableName="startkeys", KeyConditionExpression=kce,
                                 ExpressionAttributeValues=values(kce),
                                 ScanIndexForward=forward)["Items"]
            assert got == [int(it["c"]["N"]) for it in whole] and got, (kce, forward)


def test_scan_segment_parameters(client) -> None:
    _table(client, "segments")
    for kw, want in (
            ({"TotalSegments": 2}, "The Segment parameter is required but was not present in "
                                   "the request when parameter TotalSegments is present"),
            ({"Segment": 0}, "The TotalSegments parameter is required but was not present in "
                             "the request when Segment parameter is present"),
            ({"Segment": -1, "TotalSegments": 2}, "1 validation error detected: Value '-1' at "
             "'segment' failed to satisfy constraint: Member must have value greater than or "
             "equal to 0"),
            ({"Segment": 2, "TotalSegments": 2}, "The Segment parameter is zero-based and must "
             "be less than parameter TotalSegments: Segment: 2 is not less than TotalSegments: 2")):
        with pytest.raises(ClientError) as e:
            client.scan(TableName="segments", **kw)
        assert _err(e) == ("ValidationException", want)
    assert client.scan(TableName="segments", Segment=1, TotalSegments=2)["Count"] == 0


def test_between_bounds_messages_show_the_values(client) -> None:
    _table(client, "between")
    for call, want in (
            (lambda: client.put_item(TableName="between",
                                     Item={"p": {"S": "a"}, "c": {"N": "1"}},
                                     ConditionExpression="v BETWEEN :lo AND :hi",
                                     ExpressionAttributeValues={":lo": {"N": "5"},
                                                                ":hi": {"N": "4"}}),
             "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be "
             "greater than or equal to lower bound; lower bound operand: AttributeValue: {N:5}, "
             "upper bound operand: AttributeValue: {N:4}"),
            (lambda: client.scan(TableName="between", FilterExpression="v BETWEEN :lo AND :hi",
                                 ExpressionAttributeValues={":lo": {"N": "1"},
                                                            ":hi": {"S": "a"}}),
             "Invalid FilterExpression: The BETWEEN operator requires same data type for lower "
             "and upper bounds; lower bound operand: AttributeValue: {N:1}, upper bound "
             "operand: AttributeValue: {S:a}"),
            (lambda: client.query(TableName="between",
                                  KeyConditionExpression="p = :p AND c BETWEEN :lo AND :hi",
                                  ExpressionAttributeValues={":p": {"S": "a"},
                                                             ":lo": {"N": "10"},
                                                             ":hi": {"N": "9.5"}}),
             "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be "
             "greater than or equal to lower bound; lower bound operand: AttributeValue: "
             "{N:10}, upper bound operand: AttributeValue: {N:9.5}")):
        with pytest.raises(ClientError) as e:
            call()
        assert _err(e) == ("ValidationException", want)


MIXING = ("Can not use both expression and non-expression parameters in the same request: "
          "Non-expression parameters: {%s} Expression parameters: {%s}")


def _cond(value: str) -> dict:
    return {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": value}]}


def test_legacy_and_expression_parameters_mixed(client) -> None:
    """Any legacy member with any expression member is refused, naming all of each side in
    DynamoDB's order (KeyConditions only counts beside a KeyConditionExpression), and
    ConditionalOperator needs two or more legacy conditions."""
    client.create_table(TableName="legacy", BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    client.put_item(TableName="legacy", Item={"pk": {"S": "k1"}, "a": {"S": "x"},
                                              "b": {"S": "y"}})
    t, k = "legacy", {"pk": {"S": "k1"}}
    v = {":v": {"S": "x"}}
    for call, want in (
            (lambda: client.scan(TableName=t, ScanFilter={"a": _cond("x")},
                                 ProjectionExpression="b"),
             MIXING % ("ScanFilter", "ProjectionExpression")),
            (lambda: client.scan(TableName=t, AttributesToGet=["a"], FilterExpression="a = :v",
                                 ExpressionAttributeValues=v),
             MIXING % ("AttributesToGet", "FilterExpression")),
            (lambda: client.scan(TableName=t, AttributesToGet=["a"], ScanFilter={"a": _cond("x")},
                                 ConditionalOperator="AND", FilterExpression="a = :v",
                                 ProjectionExpression="b", ExpressionAttributeValues=v),
             MIXING % ("AttributesToGet, ScanFilter, ConditionalOperator",
                       "ProjectionExpression, FilterExpression")),
            (lambda: client.query(TableName=t, QueryFilter={"a": _cond("x")},
                                  KeyConditionExpression="pk = :p",
                                  ExpressionAttributeValues={":p": {"S": "k1"}}),
             MIXING % ("QueryFilter", "KeyConditionExpression")),
            (lambda: client.query(TableName=t, KeyConditions={"pk": _cond("k1")},
                                  QueryFilter={"a": _cond("x")}, ConditionalOperator="AND",
                                  KeyConditionExpression="pk = :p", FilterExpression="a = :v",
                                  ProjectionExpression="b",
                                  ExpressionAttributeValues={":p": {"S": "k1"}, ":v": {"S": "x"}}),
             MIXING % ("QueryFilter, ConditionalOperator, KeyConditions",
                       "ProjectionExpression, FilterExpression, KeyConditionExpression")),
            (lambda: client.update_item(TableName=t, Key=k, AttributeUpdates={
                "a": {"Value": {"S": "v"}, "Action": "PUT"}}, Expected={"a": _cond("x")},
                ConditionalOperator="AND", UpdateExpression="SET a = :v",
                ConditionExpression="attribute_exists(pk)", ExpressionAttributeValues=v),
             MIXING % ("AttributeUpdates, Expected, ConditionalOperator",
                       "UpdateExpression, ConditionExpression")),
            (lambda: client.put_item(TableName=t, Item={"pk": {"S": "k2"}},
                                     ConditionalOperator="AND",
                                     ConditionExpression="attribute_exists(pk)"),
             MIXING % ("ConditionalOperator", "ConditionExpression")),
            (lambda: client.scan(TableName=t, ConditionalOperator="AND"),
             "ConditionalOperator cannot be used without Filter or Expected"),
            (lambda: client.delete_item(TableName=t, Key=k, ConditionalOperator="OR"),
             "ConditionalOperator cannot be used without Filter or Expected"),
            (lambda: client.put_item(TableName=t, Item={"pk": {"S": "k2"}},
                                     ConditionalOperator="AND", Expected={"a": _cond("x")}),
             "ConditionalOperator can only be used when Filter or Expected has two or more "
             "elements")):
        with pytest.raises(ClientError) as e:
            call()
        assert _err(e) == ("ValidationException", want)
    assert "Item" not in client.get_item(TableName=t, Key={"pk": {"S": "k2"}})
    # accepted: KeyConditions beside a filter or projection expression, two conditions
    assert client.query(TableName=t, KeyConditions={"pk": _cond("k1")},
                        FilterExpression="a = :v", ExpressionAttributeValues=v)["Count"] == 1
    assert client.query(TableName=t, KeyConditions={"pk": _cond("k1")},
                        ProjectionExpression="a")["Items"] == [{"a": {"S": "x"}}]
    assert client.scan(TableName=t, ConditionalOperator="OR",
                       ScanFilter={"a": _cond("x"), "b": _cond("nope")})["Count"] == 1
    client.put_item(TableName=t, Item={"pk": {"S": "k1"}, "a": {"S": "x"}, "b": {"S": "y"}},
                    ConditionalOperator="AND", Expected={"a": _cond("x"), "b": _cond("y")})


def test_validation_errors_inside_batches_and_transactions_are_the_actions_own(client) -> None:
    """DynamoDB answers a bad action of a TransactWriteItems, TransactGetItems or
    BatchWriteItem with that action's message alone (keel's engine names the action, the
    server does not pass that on)."""
    client.create_table(
        TableName="actions", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[{"IndexName": "gsi_index",
                                 "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}}])
    ok = {"Put": {"TableName": "actions", "Item": {"pk": {"S": "fine"}}}}
    empty_key = ("One or more parameter values are not valid. The AttributeValue for a key "
                 "attribute cannot contain an empty string value. Key: pk")
    for call, want in (
            (lambda: client.transact_write_items(TransactItems=[ok, {"Update": {
                "TableName": "actions", "Key": {"pk": {"S": ""}},
                "UpdateExpression": "SET sth = :v",
                "ExpressionAttributeValues": {":v": {"N": "0"}}}}]), empty_key),
            (lambda: client.transact_write_items(TransactItems=[{"Put": {
                "TableName": "actions", "Item": {"pk": {"S": "x"}, "g": {"S": ""}}}}]),
             "One or more parameter values are not valid. A value specified for a secondary "
             "index key is not supported. The AttributeValue for a key attribute cannot "
             "contain an empty string value. IndexName: gsi_index, IndexKey: g"),
            (lambda: client.transact_write_items(TransactItems=[ok, {"Update": {
                "TableName": "actions", "Key": {"pk": {"S": "x"}},
                "UpdateExpression": "SET a = "}}]),
             'Invalid UpdateExpression: Syntax error; token: "<EOF>", near: "="'),
            (lambda: client.transact_get_items(TransactItems=[{"Get": {
                "TableName": "actions", "Key": {"pk": {"S": "x"}},
                "ProjectionExpression": "a,,b"}}]),
             'Invalid ProjectionExpression: Syntax error; token: ",", near: ",,b"'),
            (lambda: client.batch_write_item(RequestItems={"actions": [
                {"PutRequest": {"Item": {"pk": {"S": "y"}}}},
                {"PutRequest": {"Item": {"pk": {"S": ""}}}}]}), empty_key)):
        with pytest.raises(ClientError) as e:
            call()
        code, msg = _err(e)
        assert code == "ValidationException" and msg.startswith(want), (want, msg)
    assert client.scan(TableName="actions")["Count"] == 0


def test_create_table_attribute_definition_messages(client) -> None:
    """The four ways AttributeDefinitions and the key schemas disagree, in DynamoDB's words
    (names listed in byte order)."""
    def create(defs: list, ks: list, gsi: list | None = None):
        kw = {"GlobalSecondaryIndexes": [{"IndexName": "gsi_user-items", "Projection": {
            "ProjectionType": "ALL"}, "KeySchema": [{"AttributeName": n, "KeyType": "HASH"}
                                                   for n in gsi]}]} if gsi else {}
        return client.create_table(
            TableName="attrdefs", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in defs],
            KeySchema=[{"AttributeName": n, "KeyType": "HASH" if i == 0 else "RANGE"}
                       for i, n in enumerate(ks)], **kw)

    pre = "One or more parameter values were invalid: "
    for defs, ks, gsi, want in (
            ([("id", "S"), ("created_at", "N")], ["id"], None,
             pre + "Number of attributes in KeySchema does not exactly match number of "
                   "attributes defined in AttributeDefinitions"),
            ([("id", "S"), ("user", "S"), ("created_at", "N")], ["id"], ["user"],
             pre + "Some AttributeDefinitions are not used. AttributeDefinitions: "
                   "[created_at, id, user], keys used: [id, user]"),
            ([("id", "S")], ["id", "created_at"], None,
             "Invalid KeySchema: Some index key attribute have no definition"),
            ([("id", "S")], ["id"], ["user"],
             pre + "Some index key attributes are not defined in AttributeDefinitions. "
                   "Keys: [user], AttributeDefinitions: [id]"),
            ([("created_at", "N")], ["id"], None,
             pre + "Some index key attributes are not defined in AttributeDefinitions. "
                   "Keys: [id], AttributeDefinitions: [created_at]"),
            ([("id", "S"), ("created_at", "N")], ["id"], ["user"],
             pre + "Some index key attributes are not defined in AttributeDefinitions. "
                   "Keys: [user], AttributeDefinitions: [created_at, id]")):
        with pytest.raises(ClientError) as e:
            create(defs, ks, gsi)
        assert _err(e) == ("ValidationException", want)
    assert "attrdefs" not in client.list_tables()["TableNames"]


def test_update_expression_syntax_messages_are_exactly_dynamodbs(client) -> None:
    client.create_table(TableName="syntax", BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    k = {"pk": {"S": "key"}}
    for kw, want in (
            ({"UpdateExpression": "SET #attr1 = :val1, #attr2 = :val2,",
              "ExpressionAttributeNames": {"#attr1": "attr1", "#attr2": "attr2"},
              "ExpressionAttributeValues": {":val1": {"N": "3"}, ":val2": {"N": "4"}}},
             'Invalid UpdateExpression: Syntax error; token: "<EOF>", near: ","'),
            ({"UpdateExpression": "ADD x :one SET a = :a ADD y :one",
              "ExpressionAttributeValues": {":one": {"N": "1"}, ":a": {"S": "lore ipsum"}}},
             'Invalid UpdateExpression: The "ADD" section can only be used once in an update '
             'expression;')):
        with pytest.raises(ClientError) as e:
            client.update_item(TableName="syntax", Key=k, **kw)
        assert _err(e) == ("ValidationException", want)
    assert "Item" not in client.get_item(TableName="syntax", Key=k)


def test_enum_refusals_list_the_values_in_dynamodbs_order(client) -> None:
    _table(client, "enums")
    k = {"p": {"S": "a"}, "c": {"N": "1"}}
    enum = "1 validation error detected: Value 'X' at '%s' failed to satisfy constraint: " \
           "Member must satisfy enum value set: [%s]"
    for call, want in (
            (lambda: client.get_item(TableName="enums", Key=k, ReturnConsumedCapacity="X"),
             enum % ("returnConsumedCapacity", "INDEXES, TOTAL, NONE")),
            (lambda: client.update_item(TableName="enums", Key=k, ReturnValues="X"),
             enum % ("returnValues", "ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW")),
            (lambda: client.scan(TableName="enums", Select="X"),
             enum % ("select", "SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, "
                               "ALL_PROJECTED_ATTRIBUTES")),
            (lambda: client.scan(TableName="enums", ConditionalOperator="X", ScanFilter={
                "a": {"ComparisonOperator": "NULL"}, "b": {"ComparisonOperator": "NULL"}}),
             enum % ("conditionalOperator", "OR, AND"))):
        with pytest.raises(ClientError) as e:
            call()
        assert _err(e) == ("ValidationException", want)
    # every ReturnValues still does what it says
    client.put_item(TableName="enums", Item=dict(k, v={"N": "1"}))
    for rv, want in (("ALL_NEW", {"p", "c", "v"}), ("UPDATED_OLD", {"v"}), ("ALL_OLD", {"p", "c", "v"}),
                     ("UPDATED_NEW", {"v"})):
        got = client.update_item(TableName="enums", Key=k, UpdateExpression="SET v = v + :one",
                                 ExpressionAttributeValues={":one": {"N": "1"}},
                                 ReturnValues=rv)["Attributes"]
        assert set(got) == want, rv
    assert "Attributes" not in client.update_item(
        TableName="enums", Key=k, UpdateExpression="SET v = v + :one",
        ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="NONE")
    assert client.get_item(TableName="enums", Key=k)["Item"]["v"] == {"N": "6"}
