"""Tests for `keel db FILE sql | export | import` (tools/keel/db_io_cmds.c), as a subprocess.

export writes DynamoDB's export format (one {"Item": {...}} per line, DynamoDB JSON, gzip
optional); import reads it back (gzip detected) into an existing table or one --create
makes, in atomic batches, stopping at a bad line with the lines before it kept. sql runs a
PartiQL statement and prints items one per line. The binary comes from conftest.py's `cli`
fixture; the Keel helper is test_cli_db.py's.
"""

from __future__ import annotations

import gzip
import json
import os
import pty
import subprocess
from pathlib import Path
from typing import Any

import pytest

from test_cli_db import Keel, assert_error, dumps  # noqa: F401  (fixtures below)

EVERY_TYPE: list[dict[str, Any]] = [
    {"pk": {"S": "a"}, "sk": {"N": "1"}, "s": {"S": "héllo \"q\" \u0000 \U0001f600"},
     "n": {"N": "-12.5e-3"}, "big": {"N": "12345678901234567890123456789012345678"},
     "tiny": {"N": "1e-130"}, "b": {"B": "AAEC/w=="}, "t": {"BOOL": True}, "f": {"BOOL": False},
     "z": {"NULL": True}, "l": {"L": [{"S": "x"}, {"N": "2"}, {"L": []}, {"M": {}}]},
     "m": {"M": {"inner": {"M": {"deep": {"SS": ["p", "q"]}}}}},
     "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": ["AA==", "AQ=="]},
     "e": {"S": ""}},
    {"pk": {"S": "a"}, "sk": {"N": "2"}},
    {"pk": {"S": "b"}, "sk": {"N": "-1"}, "x": {"B": ""}},
]


@pytest.fixture
def keel(cli: str) -> Keel:
    return Keel(cli)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "app.keel"


@pytest.fixture
def filled(keel: Keel, db: Path) -> Path:
    keel.db(db, "create-table", "tbl", "pk:S", "sk:N")
    keel.db(db, "put", "tbl", "-", input="\n".join(dumps(i) for i in EVERY_TYPE).encode())
    return db


def scan(keel: Keel, db: Path, table: str) -> list[dict[str, Any]]:
    return sorted(keel.items(db, "scan", table), key=lambda i: json.dumps(i, sort_keys=True))


# ---- export and import ------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_round_trip_every_type(keel: Keel, filled: Path, tmp_path: Path, gz: bool) -> None:
    out = tmp_path / ("t.json.gz" if gz else "t.json")
    r = keel.db(filled, "export", "tbl", str(out), *(["--gzip"] if gz else []))
    assert b"exported 3 items" in r.stderr
    raw = out.read_bytes()
    assert raw.startswith(b"\x1f\x8b") == gz
    text = (gzip.decompress(raw) if gz else raw).decode()
    lines = text.splitlines()
    assert len(lines) == 3 and text.endswith("\n")
    assert "h\u00e9llo" in text and "\\u0000" in text     # UTF-8 as is; NUL escaped
    for line in lines:                      # DynamoDB's export format: {"Item": {...}}
        obj = json.loads(line)
        assert list(obj) == ["Item"]
    keel.db(filled, "import", "tbl2", str(out), "--create", "pk:S,sk:N")
    assert scan(keel, filled, "tbl2") == scan(keel, filled, "tbl")
    # Importing again into the existing table replaces the same items.
    keel.db(filled, "import", "tbl2", str(out))
    assert keel.ok("db", filled, "count", "tbl2") == b"3\n"


def test_export_matches_dynamodb_numbers_and_base64(keel: Keel, filled: Path,
                                                    tmp_path: Path) -> None:
    out = tmp_path / "t.json"
    keel.db(filled, "export", "tbl", str(out))
    items = {json.loads(l)["Item"]["sk"]["N"]: json.loads(l)["Item"]
             for l in out.read_text().splitlines()}
    assert items["1"]["n"] == {"N": "-0.0125"}
    assert items["1"]["tiny"] == {"N": "1E-130"} or items["1"]["tiny"]["N"].startswith("0.")
    assert items["1"]["b"] == {"B": "AAEC/w=="}
    assert items["-1"]["x"] == {"B": ""}


def test_export_to_stdout_and_import_from_stdin(keel: Keel, filled: Path) -> None:
    out = keel.db(filled, "export", "tbl", "-").stdout
    assert out.count(b"\n") == 3
    keel.db(filled, "create-table", "tbl3", "pk:S", "sk:N")
    keel.db(filled, "import", "tbl3", "-", input=gzip.compress(out))
    assert scan(keel, filled, "tbl3") == scan(keel, filled, "tbl")


def test_import_bad_line_keeps_earlier_lines(keel: Keel, filled: Path, tmp_path: Path) -> None:
    keel.db(filled, "create-table", "tbl4", "pk:S", "sk:N")
    good = [json.dumps({"Item": {"pk": {"S": f"k{i}"}, "sk": {"N": str(i)}}}) for i in range(250)]
    bad = json.dumps({"Item": {"pk": {"S": "x"}}})          # no sort key
    src = tmp_path / "in.json"
    src.write_text("\n".join(good[:150] + ["", bad] + good[150:]) + "\n")
    r = keel.db(filled, "import", "tbl4", str(src), check=3)
    err = assert_error(r, 3, "line 152", "Missing the key sk", "150 items imported before it")
    assert "\n" == err[-1]
    assert keel.ok("db", filled, "count", "tbl4") == b"150\n"
    for text, needle in [("not json\n", "not JSON"),
                         ('{"pk": {"S": "a"}, "sk": {"N": "1"}}\n', '{"Item": {...}}'),
                         ('{"Item": {"pk": {"N": "1"}, "sk": {"N": "1"}}}\n', "Type mismatch"),
                         ('{"Item": {"pk": {"S": "a"}, "sk": {"N": "1"}, "e": {"SS": []}}}\n',
                          "empty")]:
        src.write_text(text)
        assert_error(keel.db(filled, "import", "tbl4", str(src), check=3), 3, "line 1", needle)


def test_import_repeated_key_later_wins(keel: Keel, filled: Path, tmp_path: Path) -> None:
    keel.db(filled, "create-table", "tbl5", "pk:S")
    src = tmp_path / "in.json"
    src.write_text("\n".join(json.dumps({"Item": {"pk": {"S": "a"}, "v": {"N": str(i)}}})
                             for i in range(3)) + "\n")
    keel.db(filled, "import", "tbl5", str(src))
    assert keel.items(filled, "scan", "tbl5") == [{"pk": {"S": "a"}, "v": {"N": "2"}}]


def test_import_needs_a_table(keel: Keel, filled: Path, tmp_path: Path, db: Path) -> None:
    src = tmp_path / "in.json"
    src.write_text("")
    assert_error(keel.db(filled, "import", "nope", str(src), check=3), 3, "no table")
    assert_error(keel.db(filled, "import", "tbl", str(src), "--create", "pk:S,sk:N", check=3), 3,
                 "exists")
    assert_error(keel.db(filled, "import", "tbl", str(src), "--create", "pk", check=2), 2,
                 "PK:TYPE")
    fresh = db.parent / "fresh.keel"
    keel.db(fresh, "import", "nums", str(src), "--create", "id:N")     # creates FILE and table
    assert keel.ok("db", fresh, "tables") == b"nums\n"
    assert_error(keel.db(db.parent / "missing.keel", "import", "tbl", str(src), check=3), 3)
    assert_error(keel.db(filled, "import", "tbl", str(tmp_path / "none.json"), check=3), 3,
                 "none.json")
    trunc = tmp_path / "trunc.gz"
    trunc.write_bytes(gzip.compress(b'{"Item": {"pk": {"S": "a"}, "sk": {"N": "9"}}}\n' * 50)[:-12])
    assert_error(keel.db(filled, "import", "tbl", str(trunc), check=3), 3)


def test_export_errors(keel: Keel, filled: Path, tmp_path: Path) -> None:
    assert_error(keel.db(filled, "export", "nope", str(tmp_path / "o"), check=3), 3, "no table")
    assert not (tmp_path / "o").exists()
    assert_error(keel.db(filled, "export", "tbl", str(tmp_path / "no" / "dir" / "o"), check=3), 3)


def test_export_onto_the_database_itself_is_refused(keel: Keel, filled: Path,
                                                    tmp_path: Path) -> None:
    # It used to truncate the database to 0 bytes and die of SIGBUS (exit 135).
    before = filled.read_bytes()
    assert_error(keel.db(filled, "export", "tbl", str(filled), check=3), 3, "own file")
    assert filled.read_bytes() == before
    out = tmp_path / "old.json"
    out.write_text("old\n")
    assert_error(keel.db(filled, "export", "nope", str(out), check=3), 3, "left as it was")
    assert out.read_text() == "old\n"
    keel.db(filled, "export", "tbl", str(out))
    assert len(out.read_text().splitlines()) == len(EVERY_TYPE)
    assert sorted(os.listdir(tmp_path)) == sorted([filled.name, out.name])
    assert len(scan(keel, filled, "tbl")) == len(EVERY_TYPE)


def test_import_draws_a_bar_on_a_terminal(keel: Keel, filled: Path, tmp_path: Path,
                                          cli: str) -> None:
    src = tmp_path / "in.json"
    src.write_text("".join(json.dumps({"Item": {"pk": {"S": f"k{i}"}, "sk": {"N": "1"}}}) + "\n"
                           for i in range(2000)))
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen([cli, "db", str(filled), "import", "tbl", str(src)],
                             stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
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
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    tty = b"".join(chunks)
    assert b"importing [" in tty and b"100%" in tty


# ---- sql ----------------------------------------------------------------------------------------


def test_sql_statements(keel: Keel, filled: Path) -> None:
    rows = keel.items(filled, "sql", "SELECT sk, ss FROM \"tbl\" WHERE pk = 'a' ORDER BY sk DESC")
    assert rows == [{"sk": {"N": "2"}}, {"sk": {"N": "1"}, "ss": {"SS": ["a", "b"]}}]
    assert keel.items(filled, "sql", "SELECT * FROM tbl WHERE pk = ? AND sk = ?", "--params",
                      '[{"S": "b"}, {"N": "-1"}]') == [EVERY_TYPE[2]]
    keel.db(filled, "sql", "INSERT INTO tbl VALUE {'pk': 'c', 'sk': 1, 'v': [1, 'x', <<2, 3>>]}")
    assert keel.items(filled, "get", "tbl", '{"pk": {"S": "c"}, "sk": {"N": "1"}}') == [
        {"pk": {"S": "c"}, "sk": {"N": "1"},
         "v": {"L": [{"N": "1"}, {"S": "x"}, {"NS": ["2", "3"]}]}}]
    assert keel.items(filled, "sql", "UPDATE tbl SET v = 5 REMOVE w WHERE pk = 'c' AND sk = 1 "
                                     "RETURNING MODIFIED NEW *") == [{"v": {"N": "5"}}]
    assert keel.items(filled, "sql", "DELETE FROM tbl WHERE pk = 'c' AND sk = 1") == []
    assert keel.json(filled, "sql", "SELECT pk FROM tbl WHERE sk < 0") == {
        "Items": [{"pk": {"S": "b"}}]}
    assert len(keel.items(filled, "sql", "SELECT * FROM tbl", "--limit", "2")) == 2


def test_sql_errors(keel: Keel, filled: Path) -> None:
    assert_error(keel.db(filled, "sql", "SELECT * FROM tbl WHERE", check=3), 3,
                 "syntax error at position 23")
    assert_error(keel.db(filled, "sql", "INSERT INTO tbl VALUE {'pk': 'a', 'sk': 1}", check=3), 3,
                 "Duplicate primary key")
    assert_error(keel.db(filled, "sql", "UPDATE tbl SET x = 1 WHERE pk = 'zz' AND sk = 1",
                         check=3), 3, "conditional request failed")
    assert_error(keel.db(filled, "sql", "SELECT * FROM tbl WHERE pk = ?", check=3), 3,
                 "parameters")
    assert_error(keel.db(filled, "sql", "SELECT * FROM tbl", "--params", "[{}]", check=2), 2,
                 "--params")
    assert_error(keel.db(filled, "sql", "SELECT * FROM tbl", "--params", "{}", check=2), 2,
                 "--params")
    assert_error(keel.db(filled, "sql", "SELECT * FROM nope", check=3), 3, "no table")


def test_help_lists_the_new_commands(keel: Keel) -> None:
    out = keel.ok("help", "db").decode()
    for c in ("sql", "export", "import"):
        assert f"\n  {c}" in out, c
        h = keel.ok("help", "db", c).decode()
        assert h.startswith(f"Usage: keel db FILE {c}"), h
