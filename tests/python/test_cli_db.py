"""Tests for `keel db FILE COMMAND` (tools/keel/db_cmds.c), run as a subprocess.

The binary is found as in test_cli.py: $KEEL_CLI, else the `keel` beside the running Python,
else `keel` on PATH, else the newest build*/tools/keel (conftest.py's `cli` fixture).

Items, keys and values are DynamoDB JSON; output is one item per line. Exit status
contract: 0 success, 1 the item of get/del is absent, 2 usage error (also an argument that
is not valid DynamoDB JSON), 3 any other error with "keel: <what>: <status>: <detail>" on
stderr.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

COMMANDS = ["tables", "create-table", "delete-table", "describe", "put", "get", "del",
            "query", "scan", "count", "stat", "verify", "compact", "search"]

# The `cli` fixture (the keel binary under test) comes from conftest.py.


class Keel:
    def __init__(self, exe: str) -> None:
        self.exe = exe

    def __call__(self, *args: str | os.PathLike[str], input: bytes | None = None,
                 check: int | None = None) -> subprocess.CompletedProcess[bytes]:
        argv = [self.exe] + [os.fspath(a) for a in args]
        r = subprocess.run(argv, input=input if input is not None else b"",
                           capture_output=True, timeout=120)
        if check is not None:
            assert r.returncode == check, (
                f"{argv!r} exited {r.returncode}, expected {check}\n"
                f"stdout: {r.stdout[:2000]!r}\nstderr: {r.stderr.decode(errors='replace')}")
        return r

    def ok(self, *args: str | os.PathLike[str], input: bytes | None = None) -> bytes:
        return self(*args, input=input, check=0).stdout

    def db(self, path: Path, *args: str, input: bytes | None = None,
           check: int | None = 0) -> subprocess.CompletedProcess[bytes]:
        return self("db", path, *args, input=input, check=check)

    def items(self, path: Path, *args: str) -> list[dict[str, Any]]:
        out = self.db(path, *args).stdout.decode()
        return [json.loads(line) for line in out.splitlines()]

    def json(self, path: Path, *args: str) -> Any:
        out = self.db(path, *args, "--json").stdout
        assert out.endswith(b"\n") and out.count(b"\n") == 1, out
        return json.loads(out)


@pytest.fixture
def keel(cli: str) -> Keel:
    return Keel(cli)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "app.keel"


def dumps(obj: Any) -> str:
    return json.dumps(obj)


def assert_error(r: subprocess.CompletedProcess[bytes], code: int, *needles: str) -> str:
    err = r.stderr.decode(errors="replace")
    assert r.returncode == code, f"exit {r.returncode}, expected {code}; stderr: {err}"
    assert err.startswith("keel: "), err
    for n in needles:
        assert n.lower() in err.lower(), f"{n!r} not in {err!r}"
    return err


def ev(device: str, ts: int | str, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"device": {"S": device}, "ts": {"N": str(ts)}}
    item.update(extra)
    return item


@pytest.fixture
def events(keel: Keel, db: Path) -> Path:
    """A database with table events (device S, ts N) holding devices a (ts 1..9) and b (1..3)."""
    keel.db(db, "create-table", "events", "device:S", "ts:N")
    lines = [dumps(ev("a", t, temp={"N": str(20 + t)})) for t in range(1, 10)]
    lines += [dumps(ev("b", t, temp={"N": str(30 + t)})) for t in range(1, 4)]
    keel.db(db, "put", "events", "-", input=("\n".join(lines) + "\n").encode())
    return db


# ---- help and usage ------------------------------------------------------------------------


def test_help(keel: Keel, db: Path) -> None:
    out = keel.ok("help", "db").decode()
    assert out.startswith("Usage: keel db FILE COMMAND")
    for c in COMMANDS:
        assert f"\n  {c}" in out, c
    assert keel.ok("db", "--help").decode() == out
    assert "keel db FILE COMMAND" in keel.ok("--help").decode()
    for c in COMMANDS:
        h = keel.ok("help", "db", c).decode()
        assert h.startswith(f"Usage: keel db FILE {c}"), h
        assert "--help" in h
        assert keel.ok("db", db, c, "--help").decode() == h      # FILE given
        assert keel.ok("db", c, "--help").decode() == h          # FILE left out
    assert not db.exists()


@pytest.mark.parametrize("args, needle", [
    ([], "missing FILE and COMMAND"),
    (["{db}"], "missing COMMAND"),
    (["{db}", "frob"], "unknown command 'frob'"),
    (["get", "{db}"], "FILE comes first"),
    (["--json", "{db}", "tables"], "unknown option"),
    (["{db}", "tables", "--bogus"], "unknown option '--bogus'"),
    (["{db}", "tables", "extra"], "too many arguments"),
    (["{db}", "tables", "--json=yes"], "takes no value"),
    (["{db}", "get", "events"], "missing KEY"),
    (["{db}", "create-table", "t1"], "missing PK:TYPE"),
    (["{db}", "create-table", "t1", "pk"], "NAME:TYPE"),
    (["{db}", "create-table", "t1", "pk:X"], "must be S, N or B"),
    (["{db}", "scan", "events", "--limit", "0"], "--limit"),
    (["{db}", "scan", "events", "--limit", "-3"], "--limit"),
    (["{db}", "scan", "events", "--limit"], "needs a value"),
    (["{db}", "scan", "events", "--segment", "1"], "go together"),
    (["{db}", "scan", "events", "--segment", "2", "--total-segments", "2"], "not below"),
    (["{db}", "scan", "events", "--total-segments", "0", "--segment", "0"], "--total-segments"),
    (["{db}", "query", "events", "pk = :v", "--segment", "0"], "unknown option"),
    (["{db}", "scan", "events", "--reverse"], "unknown option"),
    (["{db}", "get", "events", "{"], "not valid DynamoDB JSON"),
    (["{db}", "put", "events", "[]"], "An item must be a JSON object"),
    (["{db}", "put", "events", '{"a": {"SS": []}}'], "An string set  may not be empty"),
    (["{db}", "put", "events", '{"a": {}}'], "Supplied AttributeValue is empty"),
    (["{db}", "put", "events", '{"a": {"N": 1}}'], "N must be a JSON string"),
    (["{db}", "put", "events", '{"a": {"B": "Zh=="}}'], "Invalid base64"),
    (["{db}", "put", "events", '{"a": {"S": "x"}, "a": {"S": "y"}}'], "duplicate"),
    (["{db}", "scan", "events", "--values", "{}"], "ExpressionAttributeValues must not be empty"),
    (["{db}", "scan", "events", "--values", '{"v": {"S": "x"}}'], "invalid key"),
    (["{db}", "scan", "events", "--names", '{"#n": 5}'], "ExpressionAttributeNames"),
    (["{db}", "scan", "events", "--start-key", "x"], "--start-key"),
    (["", "tables"], "FILE is empty"),
])
def test_usage_errors(keel: Keel, db: Path, args: list[str], needle: str) -> None:
    r = keel("db", *[str(db) if a == "{db}" else a for a in args])
    err = assert_error(r, 2, needle)
    assert "Usage: keel db FILE" in err
    assert r.stdout == b""
    assert not db.exists()          # a usage error never touches (or creates) the file


def test_store_file_hint(keel: Keel, tmp_path: Path) -> None:
    r = keel(tmp_path / "s.keel", "db")
    assert_error(r, 2, "for databases: keel db FILE COMMAND")


# ---- tables ------------------------------------------------------------------------------


def test_create_describe_delete_table(keel: Keel, db: Path) -> None:
    keel.db(db, "create-table", "events", "device:S", "ts:N")
    keel.db(db, "create-table", "users", "id:b")                 # lower case type, no sort key
    keel.db(db, "create-table", "a_b.c-1", "we:ird:S")          # name up to the last ':'
    assert keel.db(db, "tables").stdout == b"a_b.c-1\nevents\nusers\n"
    assert keel.json(db, "tables") == {"TableNames": ["a_b.c-1", "events", "users"]}

    d = keel.json(db, "describe", "events")["Table"]
    assert d["TableName"] == "events"
    assert d["KeySchema"] == [{"AttributeName": "device", "KeyType": "HASH"},
                              {"AttributeName": "ts", "KeyType": "RANGE"}]
    assert d["AttributeDefinitions"] == [{"AttributeName": "device", "AttributeType": "S"},
                                         {"AttributeName": "ts", "AttributeType": "N"}]
    assert d["ItemCount"] == 0 and d["TableStatus"] == "ACTIVE"
    assert isinstance(d["CreationDateTime"], int) and d["CreationDateTime"] > 1_600_000_000
    u = keel.json(db, "describe", "users")["Table"]
    assert u["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert u["AttributeDefinitions"] == [{"AttributeName": "id", "AttributeType": "B"}]
    w = keel.json(db, "describe", "a_b.c-1")["Table"]
    assert w["KeySchema"][0]["AttributeName"] == "we:ird"

    human = keel.db(db, "describe", "events").stdout.decode()
    assert "partition key:  device (S)" in human and "sort key:       ts (N)" in human
    assert "sort key:       none" in keel.db(db, "describe", "users").stdout.decode()

    keel.db(db, "delete-table", "users")
    assert keel.json(db, "tables") == {"TableNames": ["a_b.c-1", "events"]}
    assert_error(keel.db(db, "describe", "users", check=None), 3, "no such table")


def test_table_errors(keel: Keel, db: Path, tmp_path: Path) -> None:
    keel.db(db, "create-table", "events", "device:S")
    assert_error(keel.db(db, "create-table", "events", "x:S", check=None), 3, "exists")
    assert_error(keel.db(db, "create-table", "ab", "x:S", check=None), 3, "3 to 255")
    assert_error(keel.db(db, "create-table", "bad name", "x:S", check=None), 3)
    assert_error(keel.db(db, "delete-table", "nosuch", check=None), 3, "no such table")
    for cmd in (["count", "nosuch"], ["scan", "nosuch"], ["get", "nosuch", "{}"],
                ["put", "nosuch", '{"device": {"S": "a"}}']):
        assert_error(keel.db(db, *cmd, check=None), 3, "no such table")
    # Commands other than create-table never create the file.
    missing = tmp_path / "missing.keel"
    for cmd in (["tables"], ["delete-table", "events"], ["put", "events", "{}"], ["stat"],
                ["verify"], ["compact"], ["count", "events"]):
        assert_error(keel.db(missing, *cmd, check=None), 3, "missing.keel")
        assert not missing.exists()


# ---- items ----------------------------------------------------------------------------------

EVERY_TYPE = {
    "device": {"S": "caf\u00e9 \u20ac \U0001F600"},
    "ts": {"N": "5"},
    "n": {"N": "-12.5"},
    "big": {"N": "12345678901234567890123456789012345678"},
    "tiny": {"N": "0.000000000000000000000000000000000000000000000000000000000001"},
    "b": {"B": "AAEC/w=="},
    "e": {"B": ""},
    "t": {"BOOL": True},
    "f": {"BOOL": False},
    "z": {"NULL": True},
    "s": {"S": ""},
    "l": {"L": [{"S": "x"}, {"N": "1"}, {"L": []}, {"M": {"k": {"NULL": True}}}]},
    "m": {"M": {"inner": {"M": {"deep": {"SS": ["q"]}}}, "e": {"M": {}}}},
    "ss": {"SS": ["b", "a", ""]},
    "ns": {"NS": ["3", "-1", "0.5"]},
    "bs": {"BS": ["AA==", "AQ==", ""]},
    "quote": {"S": "a \"quoted\" \\ back\tslash\nnewline \u0000 nul"},
}


def test_put_get_every_type(keel: Keel, db: Path) -> None:
    keel.db(db, "create-table", "events", "device:S", "ts:N")
    keel.db(db, "put", "events", dumps(EVERY_TYPE))
    key = dumps({"device": EVERY_TYPE["device"], "ts": {"N": "5"}})
    out = keel.db(db, "get", "events", key).stdout
    assert out.endswith(b"\n") and out.count(b"\n") == 1
    got = json.loads(out)
    assert got == EVERY_TYPE
    assert list(got) == list(EVERY_TYPE)                 # attribute order is kept
    # The output feeds back in unchanged.
    keel.db(db, "put", "events", out.decode())
    assert keel.db(db, "get", "events", key).stdout == out


@pytest.mark.parametrize("given, shown", [
    ("007", "7"), ("+3", "3"), ("1.10", "1.1"), ("1e3", "1000"), ("1e-3", "0.001"),
    ("-0", "0"), (".5", "0.5"), ("1E+2", "100"),
    ("1e125", "1" + "0" * 125),
    ("-9.9999999999999999999999999999999999999E+125", "-" + "9" * 38 + "0" * 88),
    ("1e-130", "0." + "0" * 129 + "1"),
    ("123456789.123456789012345678901234567", "123456789.123456789012345678901234567"),
])
def test_numbers_are_exact_and_normalized(keel: Keel, db: Path, given: str, shown: str) -> None:
    keel.db(db, "create-table", "nums", "k:S")
    keel.db(db, "put", "nums", dumps({"k": {"S": "x"}, "n": {"N": given}}))
    got = json.loads(keel.db(db, "get", "nums", '{"k": {"S": "x"}}').stdout)
    assert got["n"] == {"N": shown}


def test_number_keys_are_one_key(keel: Keel, db: Path) -> None:
    keel.db(db, "create-table", "nums", "k:N")
    keel.db(db, "put", "nums", '{"k": {"N": "1000"}, "v": {"S": "first"}}')
    keel.db(db, "put", "nums", '{"k": {"N": "1e3"}, "v": {"S": "second"}}')
    assert keel.db(db, "count", "nums").stdout == b"1\n"
    got = json.loads(keel.db(db, "get", "nums", '{"k": {"N": "1000.000"}}').stdout)
    assert got == {"k": {"N": "1000"}, "v": {"S": "second"}}


@pytest.mark.parametrize("item, needle", [
    ('{"k": {"S": "x"}, "n": {"N": "1e126"}}', "Number overflow"),
    ('{"k": {"S": "x"}, "n": {"N": "1e-131"}}', "Number underflow"),
    ('{"k": {"S": "x"}, "n": {"N": "123456789012345678901234567890123456789"}}',
     "more than 38 significant digits"),
    ('{"k": {"S": "x"}, "n": {"N": "abc"}}', "cannot be converted to a numeric value"),
    ('{"k": {"S": "x"}, "s": {"SS": ["a", "a"]}}', "Input collection [a, a] contains duplicates"),
    ('{"k": {"S": "x"}, "s": {"NS": ["1", "1.0"]}}', "Input collection contains duplicates"),
    ('{"k": {"S": "x"}, "z": {"NULL": false}}', "Null attribute value types must have the value"),
    ('{"k": {"S": "x"}, "a": {"S": "x", "N": "1"}}', "more than one datatypes"),
])
def test_invalid_values_are_usage_errors(keel: Keel, db: Path, item: str, needle: str) -> None:
    keel.db(db, "create-table", "t01", "k:S")
    before = db.read_bytes()
    assert_error(keel.db(db, "put", "t01", item, check=None), 2, needle)
    assert db.read_bytes() == before


@pytest.mark.parametrize("item, needle", [
    ('{"device": {"N": "1"}, "ts": {"N": "1"}}', "Type mismatch"),   # wrong key type
    ('{"ts": {"N": "1"}}', "device"),                                 # missing partition key
    ('{"device": {"S": "a"}}', "ts"),                                 # missing sort key
    ('{"device": {"S": ""}, "ts": {"N": "1"}}', "empty string"),      # empty key string
])
def test_items_the_database_refuses(keel: Keel, events: Path, item: str, needle: str) -> None:
    before = events.read_bytes()
    assert_error(keel.db(events, "put", "events", item, check=None), 3, "validation", needle)
    assert events.read_bytes() == before


def test_oversized_item(keel: Keel, events: Path) -> None:
    before = events.read_bytes()
    big = dumps(ev("a", 1, blob={"S": "x" * (400 * 1024)}))    # too long for an argument
    r = keel.db(events, "put", "events", "-", input=big.encode(), check=None)
    assert_error(r, 3, "line 1", "validation")
    assert events.read_bytes() == before
    fits = dumps(ev("a", 1, blob={"S": "x" * (399 * 1024)}))
    keel.db(events, "put", "events", "-", input=fits.encode())


def test_get_and_del(keel: Keel, events: Path) -> None:
    key = dumps({"device": {"S": "a"}, "ts": {"N": "3"}})
    assert json.loads(keel.db(events, "get", "events", key).stdout)["temp"] == {"N": "23"}
    # Keys compare numerically: 3.0 is 3.
    assert keel.db(events, "get", "events", '{"device": {"S": "a"}, "ts": {"N": "3.0"}}').stdout
    keel.db(events, "del", "events", key)
    r = keel.db(events, "get", "events", key, check=None)
    assert_error(r, 1, "no item with key")
    assert r.stdout == b""
    assert_error(keel.db(events, "del", "events", key, check=None), 1, "no item")
    assert keel.db(events, "count", "events").stdout == b"11\n"
    # A key must be exactly the key attributes.
    assert_error(keel.db(events, "get", "events", '{"device": {"S": "a"}}', check=None), 3)
    assert_error(keel.db(events, "get", "events",
                         dumps(ev("a", 4, temp={"N": "1"})), check=None), 3)


def test_put_from_stdin_and_dump_restore(keel: Keel, events: Path, tmp_path: Path) -> None:
    dump = keel.db(events, "scan", "events").stdout
    assert dump.count(b"\n") == 12
    other = tmp_path / "copy.keel"
    keel.db(other, "create-table", "events", "device:S", "ts:N")
    # CRLF line ends, blank lines and surrounding blanks are fine.
    text = b"\r\n\n".join(b"  " + line + b"\t" for line in dump.splitlines()) + b"\r\n"
    keel.db(other, "put", "events", "-", input=text)
    assert sorted(keel.db(other, "scan", "events").stdout.splitlines()) == \
        sorted(dump.splitlines())


def test_put_from_stdin_stops_at_a_bad_line(keel: Keel, events: Path) -> None:
    lines = [dumps(ev("c", 1)), dumps(ev("c", 2)), "", '{"device": {"S": "c"}', dumps(ev("c", 4))]
    r = keel.db(events, "put", "events", "-", input="\n".join(lines).encode(), check=None)
    assert_error(r, 3, "line 4", "2 items stored before it")
    got = keel.items(events, "query", "events", "device = :d", "--values", '{":d": {"S": "c"}}')
    assert [i["ts"]["N"] for i in got] == ["1", "2"]
    # A line the database refuses (a wrong key type) is reported the same way.
    r = keel.db(events, "put", "events", "-", input=b'{"device": {"N": "1"}, "ts": {"N": "1"}}\n',
                check=None)
    assert_error(r, 3, "line 1", "validation")


# ---- queries --------------------------------------------------------------------------------


def q(keel: Keel, db: Path, cond: str, values: dict[str, Any], *extra: str) -> list[str]:
    items = keel.items(db, "query", "events", cond, "--values", dumps(values), *extra)
    return [f"{i['device']['S']}{i['ts']['N']}" for i in items]


def test_query_operators(keel: Keel, events: Path) -> None:
    a = {":d": {"S": "a"}}
    assert q(keel, events, "device = :d", a) == [f"a{t}" for t in range(1, 10)]
    assert q(keel, events, "device = :d", {":d": {"S": "b"}}) == ["b1", "b2", "b3"]
    assert q(keel, events, "device = :d", {":d": {"S": "zz"}}) == []
    assert q(keel, events, "device = :d AND ts = :t", {**a, ":t": {"N": "4"}}) == ["a4"]
    assert q(keel, events, "device = :d AND ts < :t", {**a, ":t": {"N": "3"}}) == ["a1", "a2"]
    assert q(keel, events, "device = :d AND ts <= :t", {**a, ":t": {"N": "2"}}) == ["a1", "a2"]
    assert q(keel, events, "device = :d AND ts > :t", {**a, ":t": {"N": "7"}}) == ["a8", "a9"]
    assert q(keel, events, "device = :d AND ts >= :t", {**a, ":t": {"N": "8"}}) == ["a8", "a9"]
    assert q(keel, events, "device = :d AND ts BETWEEN :lo AND :hi",
             {**a, ":lo": {"N": "3"}, ":hi": {"N": "5"}}) == ["a3", "a4", "a5"]
    assert q(keel, events, "device = :d", a, "--reverse") == [f"a{t}" for t in range(9, 0, -1)]
    assert q(keel, events, "#d = :d AND #t > :t", {**a, ":t": {"N": "8"}},
             "--names", '{"#d": "device", "#t": "ts"}') == ["a9"]


def test_query_begins_with_on_string_sort_keys(keel: Keel, db: Path) -> None:
    keel.db(db, "create-table", "docs", "owner:S", "path:S")
    paths = ["a/x", "a/y", "ab", "b/1", "a", "A/z", "\u00e9t\u00e9"]
    keel.db(db, "put", "docs", "-", input="\n".join(
        dumps({"owner": {"S": "me"}, "path": {"S": p}}) for p in paths).encode())
    # OWNER and PATH are DynamoDB reserved words: they need placeholders.
    r = keel.db(db, "query", "docs", "owner = :o", "--values", '{":o": {"S": "me"}}', check=None)
    assert_error(r, 3, "reserved keyword")
    names = '{"#o": "owner", "#p": "path"}'
    items = keel.items(db, "query", "docs", "#o = :o AND begins_with(#p, :p)",
                       "--values", '{":o": {"S": "me"}, ":p": {"S": "a/"}}', "--names", names)
    assert [i["path"]["S"] for i in items] == ["a/x", "a/y"]
    # Sort keys in UTF-8 byte order.
    items = keel.items(db, "query", "docs", "#o = :o", "--values", '{":o": {"S": "me"}}',
                       "--names", '{"#o": "owner"}')
    assert [i["path"]["S"] for i in items] == sorted(paths, key=lambda s: s.encode())


def test_query_numeric_order(keel: Keel, db: Path) -> None:
    keel.db(db, "create-table", "nums", "k:S", "n:N")
    ns = ["10", "9", "-1", "0.5", "1e3", "-100", "0", "2.25"]
    keel.db(db, "put", "nums", "-", input="\n".join(
        dumps({"k": {"S": "x"}, "n": {"N": n}}) for n in ns).encode())
    items = keel.items(db, "query", "nums", "k = :k", "--values", '{":k": {"S": "x"}}')
    assert [i["n"]["N"] for i in items] == ["-100", "-1", "0", "0.5", "2.25", "9", "10", "1000"]


def test_query_filter_projection_json(keel: Keel, events: Path) -> None:
    out = keel.json(events, "query", "events", "device = :d", "--values",
                    '{":d": {"S": "a"}, ":t": {"N": "26"}}', "--filter", "#t > :t",
                    "--projection", "ts, #t", "--names", '{"#t": "temp"}')
    assert out["Items"] == [{"ts": {"N": str(t)}, "temp": {"N": str(20 + t)}}
                            for t in range(7, 10)]
    assert out["Count"] == 3 and out["ScannedCount"] == 9
    assert "LastEvaluatedKey" not in out


def test_query_pagination(keel: Keel, events: Path) -> None:
    seen: list[str] = []
    start: dict[str, Any] | None = None
    pages = 0
    while True:
        extra = ["--limit", "4"] + (["--start-key", dumps(start)] if start else [])
        out = keel.json(events, "query", "events", "device = :d", "--values",
                        '{":d": {"S": "a"}}', *extra)
        seen += [i["ts"]["N"] for i in out["Items"]]
        pages += 1
        start = out.get("LastEvaluatedKey")
        if start is None:
            break
        assert set(start) == {"device", "ts"}
        assert pages < 10
    assert seen == [str(t) for t in range(1, 10)]
    # Without --json, the resume key goes to stderr and the exit status stays 0.
    r = keel.db(events, "query", "events", "device = :d", "--values", '{":d": {"S": "a"}}',
                "--limit", "2")
    assert r.stdout.count(b"\n") == 2
    err = r.stderr.decode()
    assert "resume with --start-key" in err
    key = err.split("--start-key '", 1)[1].rsplit("'", 1)[0]
    assert json.loads(key) == {"device": {"S": "a"}, "ts": {"N": "2"}}
    # When the limit is not reached, nothing is said.
    r = keel.db(events, "query", "events", "device = :d", "--values", '{":d": {"S": "b"}}',
                "--limit", "10")
    assert r.stderr == b""


@pytest.mark.parametrize("cond, values, code, needle", [
    ("device = = :d", {":d": {"S": "a"}}, 3, "position"),
    ("device = :d", None, 3, ":d"),                                     # no such value
    ("device = :d", {":d": {"S": "a"}, ":x": {"S": "y"}}, 3, ":x"),     # unused value
    ("temp = :d", {":d": {"S": "a"}}, 3, "validation"),                 # not a key
    ("device = :d", {":d": {"N": "1"}}, 3, "validation"),               # wrong type
    ("device < :d", {":d": {"S": "a"}}, 3, "validation"),               # pk needs =
])
def test_query_errors(keel: Keel, events: Path, cond: str, values: dict[str, Any] | None,
                      code: int, needle: str) -> None:
    extra = ["--values", dumps(values)] if values else []
    r = keel.db(events, "query", "events", cond, *extra, check=None)
    assert_error(r, code, needle)
    assert r.stdout == b""


# ---- scans ----------------------------------------------------------------------------------


def test_scan(keel: Keel, events: Path) -> None:
    items = keel.items(events, "scan", "events")
    assert len(items) == 12
    names = sorted(f"{i['device']['S']}{i['ts']['N']}" for i in items)
    assert names == sorted([f"a{t}" for t in range(1, 10)] + ["b1", "b2", "b3"])
    out = keel.json(events, "scan", "events", "--filter", "#t >= :t", "--values",
                    '{":t": {"N": "31"}}', "--projection", "device", "--names",
                    '{"#t": "temp"}')
    assert sorted(dumps(i) for i in out["Items"]) == [dumps({"device": {"S": "b"}})] * 3
    assert out["Count"] == 3 and out["ScannedCount"] == 12


def test_scan_segments_cover_every_item_once(keel: Keel, events: Path) -> None:
    for total in (1, 2, 3, 7):
        got: list[str] = []
        for seg in range(total):
            got += keel.db(events, "scan", "events", "--segment", str(seg),
                           "--total-segments", str(total)).stdout.decode().splitlines()
        assert sorted(got) == sorted(keel.db(events, "scan", "events").stdout.decode()
                                     .splitlines()), total


def test_scan_pagination(keel: Keel, events: Path) -> None:
    seen: list[str] = []
    start = None
    for _ in range(20):
        extra = ["--limit", "5"] + (["--start-key", dumps(start)] if start else [])
        out = keel.json(events, "scan", "events", *extra)
        assert len(out["Items"]) <= 5
        seen += [dumps(i) for i in out["Items"]]
        start = out.get("LastEvaluatedKey")
        if start is None:
            break
    assert sorted(seen) == sorted(dumps(i) for i in keel.items(events, "scan", "events"))


def test_scan_empty_table_json(keel: Keel, db: Path) -> None:
    keel.db(db, "create-table", "empty", "k:S")
    assert keel.json(db, "scan", "empty") == {"Items": [], "Count": 0, "ScannedCount": 0}
    assert keel.db(db, "scan", "empty").stdout == b""
    assert keel.json(db, "count", "empty") == {"Count": 0}


def test_scan_into_closed_pipe(keel: Keel, events: Path, cli: str) -> None:
    lines = [dumps(ev("p", t, pad={"S": "x" * 500})) for t in range(3000)]
    keel.db(events, "put", "events", "-", input="\n".join(lines).encode())
    p = subprocess.Popen(f"'{cli}' db '{events}' scan events | head -1", shell=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0 and out.count(b"\n") == 1 and err == b""


def test_short_scan_draws_no_bar(keel: Keel, events: Path, cli: str) -> None:
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen([cli, "db", str(events), "scan", "events"], stdout=subprocess.PIPE,
                             stderr=slave, stdin=subprocess.DEVNULL)
        os.close(slave)
        slave = -1
        out, _ = p.communicate(timeout=60)
        os.set_blocking(master, False)
        try:
            tty = os.read(master, 4096)
        except OSError:
            tty = b""
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    assert p.returncode == 0 and out.count(b"\n") == 12
    assert b"scanning" not in tty


def test_long_scan_draws_a_bar(keel: Keel, db: Path, cli: str, tmp_path: Path) -> None:
    keel.db(db, "create-table", "big", "pk:S", "sk:N")
    lines = (dumps({"pk": {"S": f"p{p}"}, "sk": {"N": str(s)}, "pad": {"S": "x" * 64}})
             for p in range(100) for s in range(1500))
    keel.db(db, "put", "big", "-", input="\n".join(lines).encode())
    out_path = tmp_path / "out.jsonl"
    master, slave = pty.openpty()
    try:
        with open(out_path, "wb") as out:
            t0 = time.monotonic()
            p = subprocess.Popen([cli, "db", str(db), "scan", "big"], stdout=out, stderr=slave,
                                 stdin=subprocess.DEVNULL)
            os.close(slave)
            slave = -1
            chunks = []
            while True:
                try:
                    b = os.read(master, 4096)
                except OSError:
                    break
                if not b:
                    break
                chunks.append(b)
            assert p.wait(timeout=120) == 0
            took = time.monotonic() - t0
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    tty = b"".join(chunks)
    assert out_path.read_bytes().count(b"\n") == 150_000     # the bar never reaches stdout
    # The bar waits half a second: a machine that scans faster shows none.
    if took > 1.0:
        assert b"scanning [" in tty and b"~150000 items" in tty, tty[:300]
    if tty:
        assert tty.endswith(b"\r\x1b[K"), tty[-50:]            # the line is cleared at the end


# ---- the file -------------------------------------------------------------------------------


def test_stat_verify(keel: Keel, events: Path) -> None:
    st = keel.json(events, "stat")
    assert st["path"] == str(events)
    assert st["file_size"] == events.stat().st_size
    assert st["tables"] == [{"name": "events", "items": 12, "bytes": st["tables"][0]["bytes"]}]
    assert st["tables"][0]["bytes"] > 0
    human = keel.db(events, "stat").stdout.decode()
    assert "tables:            1" in human and "events" in human
    out = keel.db(events, "verify").stdout.decode()
    assert "all intact" in out


def test_verify_finds_damage(keel: Keel, events: Path) -> None:
    data = bytearray(events.read_bytes())
    i = data.index(b"temp", len(data) // 2)     # inside an item that is not the last
    data[i] ^= 0x20
    events.write_bytes(bytes(data))
    r = keel.db(events, "verify", check=None)
    assert r.returncode == 3, r


def test_compact_reclaims(keel: Keel, events: Path, cli: str) -> None:
    for t in range(1, 10):
        keel.db(events, "del", "events", dumps({"device": {"S": "a"}, "ts": {"N": str(t)}}))
    before = events.stat().st_size
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen([cli, "db", str(events), "compact"], stdout=subprocess.PIPE,
                             stderr=slave, stdin=subprocess.DEVNULL)
        os.close(slave)
        slave = -1
        chunks = []
        while True:
            try:
                b = os.read(master, 4096)
            except OSError:
                break
            if not b:
                break
            chunks.append(b)
        out = p.stdout.read() if p.stdout else b""
        assert p.wait(timeout=60) == 0
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    assert b"bytes freed" in out
    assert b"compacting" in b"".join(chunks)
    assert events.stat().st_size < before
    assert keel.db(events, "count", "events").stdout == b"3\n"
    assert len(keel.items(events, "scan", "events")) == 3


def test_reads_leave_the_file_alone(keel: Keel, events: Path) -> None:
    before = events.read_bytes()
    mtime = events.stat().st_mtime_ns
    keel.db(events, "tables")
    keel.db(events, "describe", "events")
    keel.db(events, "count", "events")
    keel.db(events, "get", "events", dumps({"device": {"S": "a"}, "ts": {"N": "1"}}))
    keel.db(events, "scan", "events")
    keel.db(events, "query", "events", "device = :d", "--values", '{":d": {"S": "a"}}')
    keel.db(events, "stat")
    keel.db(events, "verify")
    assert events.read_bytes() == before and events.stat().st_mtime_ns == mtime


def test_not_a_database(keel: Keel, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_bytes(b"hello, not a database\n" * 10)
    store = tmp_path / "store.keel"
    keel.ok(store, "put", "k", "v")                  # a DataStore file
    for f in (text, store):
        before = f.read_bytes()
        for cmd in (["tables"], ["put", "t01", "{}"], ["create-table", "t01", "k:S"],
                    ["compact"]):
            r = keel.db(f, *cmd, check=None)
            assert_error(r, 3, str(f.name))
            assert f.read_bytes() == before
    # And the other way round: a database is not a store.
    dbf = tmp_path / "db.keel"
    keel.db(dbf, "create-table", "t01", "k:S")
    assert_error(keel(dbf, "ls", check=None), 3)


def test_sync_option(keel: Keel, db: Path) -> None:
    keel.db(db, "create-table", "--sync", "t01", "k:S")
    keel.db(db, "put", "--sync", "t01", '{"k": {"S": "a"}}')
    keel.db(db, "del", "--sync", "t01", '{"k": {"S": "a"}}')
    keel.db(db, "delete-table", "--sync", "t01")
    assert keel.json(db, "tables") == {"TableNames": []}


def test_binary_keys(keel: Keel, db: Path) -> None:
    keel.db(db, "create-table", "blobs", "id:B", "part:B")
    for b64 in ["AA==", "AAA=", "/w==", "AQID", "gA=="]:
        keel.db(db, "put", "blobs", dumps({"id": {"B": "a2V5"}, "part": {"B": b64}}))
    items = keel.items(db, "query", "blobs", "id = :i", "--values", '{":i": {"B": "a2V5"}}')
    # B sort keys in unsigned byte order: 00 < 00 00 < 01 02 03 < 80 < ff.
    assert [i["part"]["B"] for i in items] == ["AA==", "AAA=", "AQID", "gA==", "/w=="]


def test_search(keel: Keel, db: Path) -> None:
    np = pytest.importorskip("numpy")
    import keeldb

    with keeldb.Database(str(db)) as d:
        t = d.create_table("tbl", partition_key=("p", "S"), vector_indexes=[
            {"name": "euc", "attribute": "v", "dimensions": 3, "distance": "EUCLIDEAN"}])
        for i in range(5):
            t.put_item({"p": f"i{i}", "g": i, "v": np.array([i, 0, 0], np.float32)})
    hits = keel.items(db, "search", "tbl", "euc", "--vector", "[2.2, 0, 0]", "--k", "2",
                      "--projection", "p")
    assert [h["Item"]["p"]["S"] for h in hits] == ["i2", "i3"]
    assert abs(hits[0]["Score"] - 0.2) < 1e-5
    dyn = dumps({"L": [{"N": "4"}, {"N": "0"}, {"N": "0"}]})
    out = keel.json(db, "search", "tbl", "euc", "--vector", dyn, "--k", "1")
    assert out["Count"] == 1 and out["Items"][0]["p"] == {"S": "i4"} and out["Scores"] == [0]
    q = db.parent / "q.json"
    q.write_text("[0, 0, 0]")
    hits = keel.items(db, "search", "tbl", "euc", "--vector", str(q), "--filter", "g > :g",
                      "--values", dumps({":g": {"N": "2"}}))
    assert [h["Item"]["p"]["S"] for h in hits] == ["i3", "i4"]
    assert_error(keel.db(db, "search", "tbl", "euc", "--vector", "[1, 2]", check=None), 3,
                 "dimensions")
    assert_error(keel.db(db, "search", "tbl", "euc", check=None), 2, "missing --vector")
    assert_error(keel.db(db, "search", "tbl", "euc", "--vector", "[1,0,0]", "--k", "101",
                         check=None), 2, "--k")
    # --ef: approximate (exact anyway under 5,000 items: the same answer)
    hits = keel.items(db, "search", "tbl", "euc", "--vector", "[2.2, 0, 0]", "--k", "2",
                      "--ef", "16", "--projection", "p")
    assert [h["Item"]["p"]["S"] for h in hits] == ["i2", "i3"]
    assert_error(keel.db(db, "search", "tbl", "euc", "--vector", "[1,0,0]", "--ef", "4097",
                         check=None), 2, "--ef")
