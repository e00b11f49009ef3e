"""The get path's fast paths: the key map read head by head in the library (key_fast in
src/db/db_write.c), and the decoder's first-byte heads, name cache and short-string value
cache (python/keeldb/_db/decode.c).

Every value must come back exactly as the general path returns it (same types, same
values, a plain dict), and every key the fast path does not take must still get the
general path's result or its exact error.
"""
from __future__ import annotations

import math
import struct
from decimal import Decimal

import pytest

import keeldb


@pytest.fixture
def db():
    d = keeldb.Database.create_in_memory()
    yield d
    d.close()


EDGE_VALUES = {
    # Around every CBOR integer width the decoder reads from the first byte or not.
    "ints": [0, 1, 22, 23, 24, 25, 255, 256, 257, 65535, 65536, 2**32 - 1, 2**32,
             2**63 - 1, 2**63, 2**64 - 1, 2**64, 10**37, -1, -23, -24, -25, -256, -257,
             -(2**63), -(2**64), -(10**37)],
    "floats": [0.0, -0.0, 1.0, -1.5, 1e-100, 1e100, 21.5, 0.1],
    # Text lengths 0, 1 (CPython's shared strs), 2..23 (first-byte heads), 24 and more;
    # ASCII and not (cached values are ASCII only), and a NUL.
    "texts": ["", "a", "ok", "é", "ab\x00c", "x" * 8, "x" * 9, "x" * 16, "x" * 23, "x" * 24,
              "y" * 300, "naïve", "日本語", "\U0001F600", "A" * 7 + "é"],
    "bytes": [b"", b"\x00", b"\xff" * 23, b"\x80" * 24, bytes(range(256))],
    "bools": [True, False, None],
    "nested": {"a": {"b": {"c": [1, "two", 3.0, {"d": None}]}}, "e": {"x": []}},
    "numbers": [Decimal("1.5"), Decimal("-0.001"), Decimal("12345678901234567890.123456789")],
}


def _same(a, b):
    """Equal with the same types all the way down (1 == 1.0 == True would hide a change)."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, float):
        assert a == b and math.copysign(1, a) == math.copysign(1, b)
    else:
        assert a == b


def test_edge_values_round_trip_exactly(db):
    t = db.create_table("tbl", partition_key=("pk", "S"), sort_key=("sk", "N"))
    for i, (name, v) in enumerate(EDGE_VALUES.items()):
        item = {"pk": "p", "sk": i, name: v, "again": v}
        t.put_item(item)
        for _ in range(3):  # the second and third reads come through the caches
            got = t.get_item({"pk": "p", "sk": i})
            assert type(got) is dict
            _same(got, item)


def test_sets_and_vectors_round_trip(db):
    t = db.create_table("tbl", partition_key=("pk", "S"))
    item = {"pk": "s", "ss": {"ok", "warn", "é", "x" * 30}, "ns": {1, 2.5, -(2**70)},
            "bs": {b"a", b"\x00\xff"}}
    t.put_item(item)
    got = t.get_item({"pk": "s"})
    assert got == item and all(type(got[k]) is set for k in ("ss", "ns", "bs"))
    vec = keeldb.Vector([0.5, -1.0, 3.25])
    t.put_item({"pk": "v", "vec": vec, "n": 1})
    got = t.get_item({"pk": "v"})
    assert [float(x) for x in got["vec"]] == [0.5, -1.0, 3.25] and got["n"] == 1


def test_cached_strings_are_equal_not_confused(db):
    """Short values share one str; values that collide in a cache slot stay distinct."""
    t = db.create_table("tbl", partition_key=("pk", "S"))
    values = [f"v{i}" for i in range(2000)] + [f"{i:08d}" for i in range(2000)]
    for i, v in enumerate(values):
        t.put_item({"pk": str(i), "v": v, f"name{i % 700}": v})
    for i, v in enumerate(values):
        got = t.get_item({"pk": str(i)})
        assert got == {"pk": str(i), "v": v, f"name{i % 700}": v}
    a, b = t.get_item({"pk": "1"}), t.get_item({"pk": "1"})
    assert a == b and a is not b
    a["v"] += "!"  # strs are immutable: changing one result leaves the other
    assert b["v"] == "v1"


@pytest.mark.parametrize("pk_type,pk", [("S", "device-1"), ("N", 7), ("N", -3), ("B", b"\x00k")])
def test_key_forms(db, pk_type, pk):
    t = db.create_table("tbl", partition_key=("p", pk_type), sort_key=("s", "S"))
    t.put_item({"p": pk, "s": "a", "x": 1})
    assert t.get_item({"p": pk, "s": "a"}) == {"p": pk, "s": "a", "x": 1}
    assert t.get_item({"s": "a", "p": pk}) == {"p": pk, "s": "a", "x": 1}  # either order
    assert t.get_item({"p": pk, "s": "b"}) is None


def test_number_keys_in_every_form_find_the_same_item(db):
    t = db.create_table("tbl", partition_key=("p", "N"))
    t.put_item({"p": 1000, "x": "a"})
    for k in (1000, 1000.0, Decimal("1E3"), Decimal("1000.000")):
        assert t.get_item({"p": k}) == {"p": 1000, "x": "a"}
    big = 2**80
    t.put_item({"p": big, "x": "b"})
    assert t.get_item({"p": big}) == {"p": big, "x": "b"}
    assert t.get_item({"p": Decimal(big)}) == {"p": big, "x": "b"}


def test_bad_keys_keep_their_errors(db):
    t = db.create_table("tbl", partition_key=("p", "S"), sort_key=("s", "N"))
    t.put_item({"p": "a", "s": 1})
    with pytest.raises(keeldb.ValidationError, match="Missing the key s"):
        t.get_item({"p": "a"})
    with pytest.raises(keeldb.ValidationError, match="Missing the key p"):
        t.get_item({"s": 1})
    with pytest.raises(keeldb.ValidationError, match="'q' is not a key attribute"):
        t.get_item({"p": "a", "q": 1})
    with pytest.raises(keeldb.ValidationError, match="'q' is not a key attribute"):
        t.get_item({"p": "a", "s": 1, "q": 1})
    with pytest.raises(keeldb.ValidationError, match="Type mismatch for key s"):
        t.get_item({"p": "a", "s": "1"})
    with pytest.raises(keeldb.ValidationError, match="Type mismatch for key p"):
        t.get_item({"p": 1, "s": 1})
    with pytest.raises(keeldb.ValidationError, match="Type mismatch for key p"):
        t.get_item({"p": b"a", "s": 1})
    with pytest.raises(keeldb.ValidationError, match="empty string"):
        t.get_item({"p": "", "s": 1})
    with pytest.raises(keeldb.ValidationError, match="2048"):
        t.get_item({"p": "x" * 2049, "s": 1})
    long_name = db.create_table("longname", partition_key=("n" * 200, "S"))
    long_name.put_item({"n" * 200: "k", "v": 1})
    assert long_name.get_item({"n" * 200: "k"}) == {"n" * 200: "k", "v": 1}


def test_key_maps_from_the_c_encoding_take_the_general_path(db):
    """Keys the binding never writes (a float sort key, a half float) still work through
    Database.execute's parameters, which reach the same library call."""
    t = db.create_table("tbl", partition_key=("p", "S"), sort_key=("s", "N"))
    t.put_item({"p": "a", "s": 2.5, "v": "x"})
    assert t.get_item({"p": "a", "s": 2.5}) == {"p": "a", "s": 2.5, "v": "x"}
    assert t.get_item({"p": "a", "s": Decimal("2.50")}) == {"p": "a", "s": 2.5, "v": "x"}


def test_damaged_text_is_still_a_corrupt_error():
    """A stored string that is not UTF-8 raises CorruptError through the short-text path."""
    from keeldb import _db
    # {"a": <text of 2 bytes, invalid UTF-8>}: 0xA1 map(1), 0x61 'a', 0x62 text(2).
    with pytest.raises(keeldb.CorruptError, match="malformed"):
        _db._decode(bytes([0xA1, 0x61, 0x61, 0x62, 0xC3, 0x28]))
    # A text head whose length runs past the end.
    with pytest.raises(keeldb.CorruptError, match="truncated"):
        _db._decode(bytes([0xA1, 0x61, 0x61, 0x65, 0x61]))
    with pytest.raises(keeldb.CorruptError, match="truncated"):
        _db._decode(bytes([0xA1, 0x65, 0x61]))
    assert _db._decode(bytes([0xA1, 0x61, 0x61, 0x62, 0x6F, 0x6B])) == {"a": "ok"}
    assert _db._decode(bytes([0x18, 200])) == 200 and _db._decode(bytes([0x19, 1, 0])) == 256
    assert _db._decode(b"\xfb" + struct.pack(">d", -0.0)) == 0.0


class KeyDict(dict):
    """A dict subclass: get_item encodes it to CBOR (keel_db_get_item) instead of passing
    its attributes by value (keel_db_get_item_attrs), so the two paths can be compared."""


def outcome(t, key):
    try:
        return ("ok", t.get_item(key))
    except Exception as e:  # the exact type and message are what is compared
        return (type(e), str(e))


@pytest.mark.parametrize("schema", [
    (("p", "S"), ("s", "N")), (("p", "N"), ("s", "S")), (("p", "B"), ("s", "B")),
    (("p", "S"), None), (("p", "N"), None)])
def test_keys_by_value_and_as_cbor_agree(db, schema):
    """Every key, good or bad, gets the same result or the same error (type and message)
    whether the binding passes it by value or encodes it as a CBOR map."""
    pk, sk = schema
    t = db.create_table("tbl", partition_key=pk, sort_key=sk)
    sample = {"S": "k\x00ey", "N": -7, "B": b"\x00\xffk"}
    item = {pk[0]: sample[pk[1]], "v": 1}
    if sk:
        item[sk[0]] = sample[sk[1]]
    t.put_item(item)
    values = ["k\x00ey", "other", "", "x" * 2049, "é", -7, 0, 23, 24, 2**31, -(2**63),
              2**63 - 1, 2**63, 2**64, True, 1.5, b"\x00\xffk", b"", b"x" * 1025, None, [1]]
    names = [pk[0], sk[0] if sk else "s", "q", "", "p" * 300]
    keys = [{}, dict(item), {"v": 1}]
    for n1 in names:
        for v1 in values:
            keys.append({n1: v1})
            for n2 in names:
                for v2 in (sample["S"], sample["N"], sample["B"], "", 0):
                    if n2 != n1:
                        keys.append({n1: v1, n2: v2})
    assert len(keys) > 400
    found = 0
    for key in keys:
        fast, general = outcome(t, key), outcome(t, KeyDict(key))
        assert fast == general, key
        found += fast[0] == "ok" and fast[1] is not None
    assert found >= (2 if sk else 1)  # the stored key, in both orders when it has two


def test_key_by_value_reads_the_dict_as_it_is(db):
    """Names and values the by-value path does not take (non-ASCII names, str and int
    subclasses, bools) go the CBOR way and still find the item or fail as before."""
    t = db.create_table("tbl", partition_key=("pé", "S"), sort_key=("s", "N"))
    t.put_item({"pé": "ü", "s": 1, "v": 2})
    assert t.get_item({"pé": "ü", "s": 1})["v"] == 2

    class S(str):
        pass

    class I(int):
        pass

    assert t.get_item({"pé": S("ü"), "s": I(1)})["v"] == 2
    with pytest.raises(keeldb.ValidationError, match="Type mismatch for key s"):
        t.get_item({"pé": "ü", "s": True})
    with pytest.raises(keeldb.TableNotFoundError):
        db.table("nope").get_item({"p": "a"})
    with pytest.raises(TypeError, match="key must be a dict"):
        t.get_item([("pé", "ü")])


def test_decoder_depth_limit_holds_for_inlined_values():
    """A value read by map_items' inlined fast heads still stops at the depth limit."""
    from keeldb import _db
    ok = b"\xa1\x61a" * 64 + b"\x01"     # the scalar at depth 64 (the limit)
    v = _db._decode(ok)
    for _ in range(64):
        v = v["a"]
    assert v == 1
    for tail in (b"\x01", b"\x62ok", b"\xf5", b"\x18\xff"):
        with pytest.raises(keeldb.CorruptError, match="nested too deeply"):
            _db._decode(b"\xa1\x61a" * 65 + tail)
