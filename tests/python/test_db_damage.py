"""Hostile database files: well-formed entries (their checksums recomputed) around damaged
content. The catalog, the items' CBOR and the numbers inside are untrusted bytes: open must
fail with CorruptError or the read must raise CorruptError naming the item, never crash,
never raise a stray Python exception (UnicodeDecodeError, decimal.InvalidOperation), never
let a damaged catalog mix two tables. The last test is a seeded byte-substitution sweep over
every entry of a small database, run in a child process so that a crash is seen as one."""

from __future__ import annotations

import os
import random
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

import keeldb

from keel_format import Entry, crc32c, entries, reseal, set_kind  # noqa: E402,F401


def write_raw(path: Path, pairs: List[Tuple[bytes, bytes]]) -> None:
    """Append raw entries to a database file through the DataStore face (same entry format)."""
    set_kind(path, 0)
    with keeldb.DataStore(path) as s:
        for k, v in pairs:
            s.write(k, v)
    set_kind(path, 1)


def edit_value(path: Path, key_part: bytes, old: bytes, new: bytes) -> None:
    """Replace `old` by `new` (same length) in the value of the last entry whose key contains
    key_part, and reseal it."""
    assert len(old) == len(new)
    raw = bytearray(path.read_bytes())
    for e in reversed(entries(bytes(raw))):
        voff, vlen, koff, klen, _ = e
        if key_part in raw[koff:koff + klen]:
            i = raw.index(old, voff, voff + vlen)
            raw[i:i + len(old)] = new
            reseal(raw, e)
            path.write_bytes(bytes(raw))
            return
    raise AssertionError("no entry with that key")


def catalog_key(name: str) -> bytes:
    return b"\0\0\0\0\x01" + name.encode()


# ---- the catalog ----------------------------------------------------------------------------


def make_db(path: Path) -> None:
    with keeldb.Database.create(path) as db:
        t = db.create_table("tab", partition_key=("pk", "S"), sort_key=("sk", "N"))
        t.add_index("byc", partition_key=("c", "S"))
        t.enable_ttl("exp")
        t.put_item({"pk": "a", "sk": 1, "c": "x"})
        db.create_table("other", partition_key=("id", "N"))


@pytest.mark.parametrize("old, new", [(b"byc", b"b\xffc"),   # an index name
                                      (b"\x63exp", b"\x63e\xc3p"),  # the TTL attribute
                                      (b"\x62pk", b"\x62p\x80")])  # the partition key
def test_catalog_text_that_is_not_utf8_fails_open(tmp_path: Path, old: bytes, new: bytes) -> None:
    # Before the fix open succeeded and describe_table/table_stats raised UnicodeDecodeError.
    p = tmp_path / "db.keel"
    make_db(p)
    edit_value(p, catalog_key("tab"), old, new)
    for opener in (lambda: keeldb.Database(p, readonly=True), lambda: keeldb.Database.open(p)):
        with pytest.raises(keeldb.CorruptError, match="catalog entry of table 'tab'"):
            opener()


def test_table_name_that_is_not_utf8_fails_open(tmp_path: Path) -> None:
    p = tmp_path / "db.keel"
    make_db(p)
    raw = p.read_bytes()
    e = [e for e in entries(raw) if raw[e[2]:e[2] + e[3]] == catalog_key("tab")][-1]
    write_raw(p, [(b"\0\0\0\0\x01t\xffb", raw[e[0]:e[0] + e[1]].replace(b"\x62id\x10", b"\x62id\x13"))])
    with pytest.raises(keeldb.CorruptError, match="catalog entry of table"):
        keeldb.Database(p, readonly=True)


def test_two_catalog_entries_with_one_id_fail_open(tmp_path: Path) -> None:
    # Table "other" has id 18 (tab 16, its index 17): give it the index's id 17. Before the
    # fix the database opened and "other"'s items were counted and served as the index's.
    p = tmp_path / "db.keel"
    make_db(p)
    edit_value(p, catalog_key("other"), b"\x62id\x12", b"\x62id\x11")
    with pytest.raises(keeldb.CorruptError, match="two tables or indexes have the id 17"):
        keeldb.Database(p, readonly=True)


def test_table_ids_run_out_cleanly(tmp_path: Path) -> None:
    # A next_id at the top of the id space: before the fix create_table took id 0xFFFFFFFF,
    # the next id wrapped to 0 (the catalog's own table id) and the next table's items were
    # written among the catalog entries.
    p = tmp_path / "db.keel"
    make_db(p)
    write_raw(p, [(b"\0\0\0\0\0next_id", b"\x1a\xff\xff\xff\xfe")])
    with keeldb.Database.open(p) as db:
        db.create_table("last", partition_key=("k", "S"))  # takes 0xFFFFFFFE, the last id
        with pytest.raises(keeldb.ValidationError, match="no table ids are left"):
            db.create_table("more", partition_key=("k", "S"))
        with pytest.raises(keeldb.ValidationError, match="no index ids are left"):
            db.table("tab").add_index("byk", partition_key=("pk", "S"))
        db.table("last").put_item({"k": "v"})
    with keeldb.Database(p, readonly=True) as db:
        assert db.list_tables() == ["last", "other", "tab"]
        assert db.table("last").get_item({"k": "v"}) == {"k": "v"}


def test_catalog_id_past_the_last_fails_open(tmp_path: Path) -> None:
    p = tmp_path / "db.keel"
    make_db(p)
    raw = p.read_bytes()
    e = [e for e in entries(raw) if raw[e[2]:e[2] + e[3]] == catalog_key("other")][-1]
    value = raw[e[0]:e[0] + e[1]].replace(b"\x62id\x12", b"\x62id\x1a\xff\xff\xff\xff")
    write_raw(p, [(catalog_key("other"), value)])
    with pytest.raises(keeldb.CorruptError, match="catalog entry of table 'other'"):
        keeldb.Database(p, readonly=True)


# ---- items ------------------------------------------------------------------------------


def item_db(path: Path, value: bytes) -> None:
    """A database whose table 'tab' holds one item {"pk": "a", "x": <value bytes>}."""
    with keeldb.Database.create(path) as db:
        db.create_table("tab", partition_key=("pk", "S")).put_item({"pk": "a", "x": 1})
    raw = path.read_bytes()
    key = [raw[e[2]:e[2] + e[3]] for e in entries(raw) if raw[e[2] + 3] == 16][-1]
    write_raw(path, [(key, b"\xa2\x62pk\x61a\x61x" + value)])


@pytest.mark.parametrize("value", [
    b"\xc4\x82\x1b\x7f\xff\xff\xff\xff\xff\xff\xff\x01",   # decimal exponent 2^63-1
    b"\xc4\x82\x3b\x7f\xff\xff\xff\xff\xff\xff\xff\x01",   # decimal exponent -2^63
    b"\xc4\x82\xc2\x49\x01" + b"\0" * 8 + b"\x01",         # decimal exponent a bignum 2^64
    b"\xc2\x59\x27\x10" + b"\xff" * 10000,                 # a bignum of 10,000 bytes
    b"\xc4\x82\x01\xc2\x59\x27\x10" + b"\xff" * 10000,     # a decimal of a 10,000-byte mantissa
    b"\xd8\x55\x4c" + struct.pack("<3f", 1.0, float("nan"), 2.0),  # a vector holding a NaN
    b"\xd8\x55\x48" + struct.pack("<2f", float("-inf"), 0.5),      # ... an infinity
    b"\xd8\x55\x40",                                               # ... no value at all
])
def test_numbers_out_of_range_are_corrupt(tmp_path: Path, value: bytes) -> None:
    # Before the fix: decimal.InvalidOperation, or ValueError (int too long to convert to
    # str), or a huge int returned as if it were a DynamoDB number; a vector holding a NaN
    # or an infinity (which writes refuse) was returned as it was.
    p = tmp_path / "db.keel"
    item_db(p, value)
    with keeldb.Database(p, readonly=True) as db:
        t = db.table("tab")
        with pytest.raises(keeldb.CorruptError, match="stored item is malformed"):
            t.get_item({"pk": "a"})
        with pytest.raises(keeldb.CorruptError):
            list(t.scan())
        with pytest.raises(keeldb.CorruptError):
            db.verify()


def test_deeply_nested_stored_item_is_corrupt(tmp_path: Path) -> None:
    p = tmp_path / "db.keel"
    item_db(p, b"\x81" * 200_000 + b"\x01")
    with keeldb.Database(p, readonly=True) as db:
        with pytest.raises(keeldb.CorruptError, match="nested too deeply"):
            db.table("tab").get_item({"pk": "a"})
        with pytest.raises(keeldb.CorruptError):
            db.verify()


def test_damaged_item_is_reported_by_projections_and_updates(tmp_path: Path) -> None:
    # Before the fix a projection of an item whose CBOR does not decode returned {} (as if
    # the item lacked the attributes) and update_item raised ValueError ("invalid argument").
    p = tmp_path / "db.keel"
    item_db(p, b"\x81" * 200_000 + b"\x01")
    with keeldb.Database(p, readonly=True) as db:
        t = db.table("tab")
        with pytest.raises(keeldb.CorruptError, match="malformed"):
            list(t.scan(projection="pk"))
        with pytest.raises(keeldb.CorruptError, match="malformed"):
            list(t.query("pk = :p", values={":p": "a"}, projection="x[0]"))
        with pytest.raises(keeldb.CorruptError, match="malformed"):
            db.execute("SELECT pk FROM tab")
        # Filters and conditions: before, the damaged item was taken for one without the
        # attribute (dropped by the filter, "attribute_not_exists" true).
        with pytest.raises(keeldb.CorruptError, match="malformed"):
            list(t.scan(filter="x[0][0] = :v", values={":v": 1}))
        with pytest.raises(keeldb.CorruptError, match="malformed"):
            db.execute("SELECT * FROM tab WHERE x[0][0] = 1")
    with keeldb.Database.open(p) as db:
        t = db.table("tab")
        with pytest.raises(keeldb.CorruptError, match="malformed"):
            t.update_item({"pk": "a"}, "SET y = :v", values={":v": 1})
        with pytest.raises(keeldb.CorruptError, match="malformed"):
            t.put_item({"pk": "a", "y": 2}, condition="attribute_not_exists(x[0][0])")
        with pytest.raises(keeldb.CorruptError, match="malformed"):
            t.delete_item({"pk": "a"}, condition="x[0][0] = :v", values={":v": 1})


# ---- a seeded sweep ----------------------------------------------------------------------

SWEEP_CHILD = textwrap.dedent("""
    import sys, warnings, numpy as np, keeldb
    warnings.simplefilter("ignore")
    def run(db):
        for name in db.list_tables():
            t = db.table(name)
            t.describe(); t.stats(); t.count()
            for it in t.scan():
                repr(it)
        t = db.table("tab")
        for it in t.query("pk = :p", values={":p": "p0"}):
            repr(it)
        for it in t.query("c = :c", values={":c": "c1"}, index="byc"):
            repr(it)
        t.search("vix", np.ones(4, dtype=np.float32), k=3)
        db.get(b"kv")
        db.verify()
    for path in sys.stdin.read().split():
        print(path, flush=True)
        try:
            with keeldb.Database(path, readonly=True) as db:
                try:
                    run(db)
                except keeldb.Error:
                    pass
            with keeldb.Database.open(path) as db:
                try:
                    db.table("tab").put_item({"pk": "new", "sk": 1, "c": "c9"})
                    db.reap_expired()
                    db.compact()
                    run(db)
                except keeldb.Error:
                    pass
        except keeldb.Error:
            pass
    print("DONE", flush=True)
""")


def sweep_db(path: Path) -> None:
    import decimal

    import numpy as np
    with keeldb.Database.create(path) as db:
        t = db.create_table("tab", partition_key=("pk", "S"), sort_key=("sk", "N"))
        t.add_index("byc", partition_key=("c", "S"), sort_key=("n", "N"))
        t.enable_ttl("exp")
        t.add_vector_index("vix", attribute="vec", dimensions=4)
        for i in range(3):
            t.put_item({"pk": f"p{i % 2}", "sk": i, "c": f"c{i}", "n": decimal.Decimal("1.5") * i,
                        "big": 10**30 + i, "f": 1.25, "m": {"a": [1, "x", b"y", {"z": None}]},
                        "ss": {"a", "b"}, "ns": {1, 2}, "bs": {b"q"}, "exp": 4_000_000_000,
                        "vec": np.arange(4, dtype=np.float32) + i})
        db.put(b"kv", {"a": 1})


HEADS = [0x00, 0xFF, 0x1B, 0x3B, 0x5B, 0x7B, 0x9B, 0xBB, 0x9F, 0xBF, 0xC2, 0xC4, 0xD9, 0xFB,
         0xF7, 0x18, 0x58, 0x78, 0x98, 0xB8, 0x80, 0xA0]


def mutations(raw: bytes, seed: int, n: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    ents = [e for e in entries(raw) if e[1]]
    for _ in range(n):
        e = rng.choice(ents)
        out = bytearray(raw)
        pos = e[0] + rng.randrange(e[1])
        out[pos] = rng.choice(HEADS) if rng.random() < 0.7 else out[pos] ^ (1 << rng.randrange(8))
        reseal(out, e)
        yield bytes(out)


def test_hostile_entries_never_crash(tmp_path: Path) -> None:
    base = tmp_path / "base.keel"
    sweep_db(base)
    n = int(os.environ.get("KEEL_DAMAGE_ROUNDS", "150"))
    paths = []
    for i, data in enumerate(mutations(base.read_bytes(), 1234, n)):
        p = tmp_path / f"m{i}.keel"
        p.write_bytes(data)
        paths.append(str(p))
    r = subprocess.run([sys.executable, "-c", SWEEP_CHILD], input=" ".join(paths),
                       capture_output=True, text=True, timeout=600)
    lines = r.stdout.split()
    assert r.returncode == 0 and lines[-1:] == ["DONE"], (
        f"exit {r.returncode} on {lines[-1:]}: {r.stderr[-2000:]}")


# ---- a bit flipped in an item after it was written ----------------------------------------


def test_a_flipped_bit_in_a_stored_item_is_an_error_not_an_answer(tmp_path: Path) -> None:
    # Open checks the checksums of the last group only; before the fix every read of an
    # older item returned its flipped bytes as data (a get said {"note": "iello 1"}, a
    # scan and a search hit the same). Now each item handed out is checked against its
    # CRC32C first.
    import numpy as np
    p = tmp_path / "db.keel"
    with keeldb.Database.create(p) as db:
        t = db.create_table("tab", partition_key=("pk", "S"), sort_key=("sk", "N"))
        t.add_vector_index("vix", "v", 3)
        for i in range(3):
            t.put_item({"pk": "a", "sk": i, "note": f"hello {i}",
                        "v": np.array([1.0, float(i), 0.5], np.float32)})
    raw = bytearray(p.read_bytes())
    i = raw.index(b"hello 1")
    raw[i] ^= 0x01                                 # "hello 1" -> "iello 1", CRC not redone
    p.write_bytes(bytes(raw))
    for readonly in (True, False):
        with keeldb.Database(p, readonly=readonly) as db:
            t = db.table("tab")
            for sk in (0, 2):
                note = t.get_item({"pk": "a", "sk": sk})["note"]
                assert note == f"hello {sk}"
            checksum = "fails its checksum"
            with pytest.raises(keeldb.CorruptError, match=checksum):
                t.get_item({"pk": "a", "sk": 1})
            with pytest.raises(keeldb.CorruptError, match=checksum):
                list(t.query("pk = :p", values={":p": "a"}))
            with pytest.raises(keeldb.CorruptError, match=checksum):
                list(t.scan())
            with pytest.raises(keeldb.CorruptError, match=checksum):
                db.transact_get([{"Get": {"TableName": "tab", "Key": {"pk": "a", "sk": 1}}}])
            with pytest.raises(keeldb.CorruptError, match=checksum):
                db.execute('SELECT * FROM "tab" WHERE pk = ? AND sk = ?', ["a", 1])
            with pytest.raises(keeldb.CorruptError, match=checksum):
                t.search("vix", np.array([1.0, 1.0, 0.5], np.float32), 3)
            # the items around it still answer, and verify names the damage
            hits = t.search("vix", np.array([1.0, 2.0, 0.5], np.float32), 1, projection="sk")
            assert [item for item, _ in hits] == [{"sk": 2}]
            with pytest.raises(keeldb.CorruptError):
                db.verify()


def test_a_write_does_not_use_a_damaged_item_but_a_put_mends_it(tmp_path: Path) -> None:
    # A condition, an update or ReturnValues would decide on (or return) the flipped bytes;
    # they fail instead. A plain put replaces the damaged item, and a compaction then
    # drops it: the way to mend one item without restoring the file.
    p = tmp_path / "db.keel"
    with keeldb.Database.create(p) as db:
        t = db.create_table("tab", partition_key=("pk", "S"))
        for k in ("a", "b", "c"):
            t.put_item({"pk": k, "n": 1, "note": f"note of {k}"})
    raw = bytearray(p.read_bytes())
    raw[raw.index(b"note of b")] ^= 0x20           # "note" -> "Note", CRC not redone
    p.write_bytes(bytes(raw))
    with keeldb.Database(p) as db:
        t = db.table("tab")
        checksum = "fails its checksum"
        with pytest.raises(keeldb.CorruptError, match=checksum):
            t.update_item({"pk": "b"}, "SET n = n + :one", values={":one": 1})
        with pytest.raises(keeldb.CorruptError, match=checksum):
            t.put_item({"pk": "b", "n": 2}, condition="n = :one", values={":one": 1})
        with pytest.raises(keeldb.CorruptError, match=checksum):
            t.delete_item({"pk": "b"}, return_values="ALL_OLD")
        with pytest.raises(keeldb.CorruptError, match=checksum):
            t.get_item({"pk": "b"})
        with pytest.raises(keeldb.CorruptError, match="checksum"):
            db.compact()                           # stops, the file unchanged
        t.put_item({"pk": "b", "n": 7, "note": "mended"})
        assert t.get_item({"pk": "b"}) == {"pk": "b", "n": 7, "note": "mended"}
        db.compact()
        assert db.verify() >= 3
        assert sorted(i["pk"] for i in t.scan()) == ["a", "b", "c"]
