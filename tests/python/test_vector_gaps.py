"""The vector indexes' semantics at the edges, through keeldb's public API: a filtered search
that meets a damaged item raises CorruptError; the graph checkpoints of dropped tables and
dropped vector indexes are reclaimed (with the drop, crash-safe, and by compaction for
orphans); every write path stores an indexed L of N as a float32 vector (and refuses a
wrong length or a non-number as DynamoDB does); REMOVE and TTL expiry take an item out of
both the exact and the approximate search."""

from __future__ import annotations

import shutil
import struct
import time
from pathlib import Path
from typing import Any, List, Tuple

import pytest

import keeldb

np = pytest.importorskip("numpy")

MAGIC = b"KEELHNSW"     # the first bytes of a graph checkpoint (docs/FORMAT.md)
N = 5200                # over the 5,000 items below which an approximate search scans
DIMS = 4


from keel_format import Entry, entries, reseal, set_kind  # noqa: E402,F401


# ---- a database big enough for the approximate path ----------------------------------------


def fill(t: keeldb.Table, n: int, seed: int = 7) -> Any:
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n, DIMS)).astype(np.float32)
    for s in range(0, n, 1000):
        t.batch_write(puts=[{"pk": f"k{i}", "v": v[i], "w": np.full(2, 1.5, np.float32),
                             "g": i % 4} for i in range(s, min(n, s + 1000))])
    return v


def vindex(name: str = "vix", **kw: Any) -> dict:
    return dict({"name": name, "attribute": "v", "dimensions": DIMS, "distance": "EUCLIDEAN"},
                **kw)


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, Any]:
    """A closed file: table "tab" with N items and vector index "vix" whose graph was built
    and checkpointed (at close)."""
    p = tmp_path_factory.mktemp("big") / "db.keel"
    with keeldb.Database.create(p) as db:
        t = db.create_table("tab", partition_key=("pk", "S"), vector_indexes=[vindex()])
        v = fill(t, N)
        t.search("vix", v[0], 5, ef=64)
        assert t.vector_indexes()[0]["graph"] == "built"
    assert MAGIC in p.read_bytes()
    return p, v


def copy_of(big: Tuple[Path, Any], tmp_path: Path) -> Path:
    p = tmp_path / "db.keel"
    shutil.copy(big[0], p)
    return p


# ---- a filtered search meets a damaged item --------------------------------------------------


def flip_w(p: Path, pk: bytes) -> None:
    """Flip one bit of item pk's attribute w (float32 1.5 -> NaN): the item still opens and
    its vector v (before w) is still indexed, but w no longer decodes."""
    raw = bytearray(p.read_bytes())
    for e in reversed(entries(bytes(raw))):
        voff, vlen, koff, klen, _ = e
        if raw[voff:voff + vlen].find(b"\x62pk\x62" + pk) >= 0:
            i = raw.index(b"\x00\x00\xc0\x3f", voff, voff + vlen)
            raw[i + 3] ^= 0x40
            reseal(raw, e)
            p.write_bytes(bytes(raw))
            return
    raise AssertionError("item not found")


@pytest.mark.parametrize("ef", [None, 64])
def test_filtered_search_reports_a_damaged_item(big: Tuple[Path, Any], tmp_path: Path,
                                                ef: Any) -> None:
    # Before the fix the filter's "malformed" verdict counted as "does not pass": the search
    # answered without the item, silently (a scan with the same filter raised).
    p = copy_of(big, tmp_path)
    flip_w(p, b"k0")
    q = big[1][0]
    with keeldb.Database(p, readonly=True) as db:
        t = db.table("tab")
        with pytest.raises(keeldb.CorruptError, match="malformed"):
            list(t.scan(filter="attribute_exists(w)"))
        for filt in ("attribute_exists(w)", "size(w) = :two AND g < :four"):
            vals = {":two": 2, ":four": 4} if ":" in filt else None
            with pytest.raises(keeldb.CorruptError,
                               match=r"vector search of table 'tab'.*malformed stored item"):
                t.search("vix", q, 5, filter=filt, values=vals, projection="pk", ef=ef)
            with pytest.raises(keeldb.CorruptError, match="malformed stored item"):
                t.search_batch("vix", np.stack([q, q]), 5, filter=filt, values=vals,
                               projection="pk", ef=ef)
        # k0 is indexed: projecting w raises; a projection that does not name w answers (it
        # steps over the attributes it does not name and does not read their vectors'
        # payloads: expr_eval.c)
        with pytest.raises(keeldb.CorruptError, match="malformed"):
            t.search("vix", q, 2, projection="pk, w", ef=ef)
        got = t.search("vix", q, 2, projection="pk", ef=ef)
        assert got[0][0] == {"pk": "k0"}
        # a filter that decides before the damaged attribute answers without k0
        got = t.search("vix", q, 2, filter="pk <> :k", values={":k": "k0"}, projection="pk",
                       ef=ef)
        assert len(got) == 2 and "k0" not in [h["pk"] for h, _ in got]


# ---- graph checkpoints of dropped tables and indexes -----------------------------------------


def test_delete_table_reclaims_its_graph_checkpoint(big: Tuple[Path, Any], tmp_path: Path) -> None:
    # Before the fix the checkpoint's chunks stayed live after delete_table, and compaction
    # copied them into every later file.
    p = copy_of(big, tmp_path)
    with keeldb.Database.open(p) as db:
        db.delete_table("tab")
        db.compact()
        assert MAGIC not in p.read_bytes()
        # a table of the same name, index and items (but other vectors) starts afresh
        t = db.create_table("tab", partition_key=("pk", "S"), vector_indexes=[vindex()])
        v = fill(t, N, seed=99)
        got = t.search("vix", v[3], 1, ef=64, projection="pk")
        assert got == [({"pk": "k3"}, 0.0)]
        assert t.vector_indexes()[0]["graph"] == "built"
    with keeldb.Database.open(p) as db:     # its own checkpoint, loaded
        t = db.table("tab")
        assert t.search("vix", v[3], 1, ef=64, projection="pk") == [({"pk": "k3"}, 0.0)]
        info = t.vector_indexes()[0]
        assert info["graph"] == "loaded" and info["graph_inserts"] == 0


def test_drop_vector_index_reclaims_its_checkpoint(big: Tuple[Path, Any], tmp_path: Path) -> None:
    p = copy_of(big, tmp_path)
    with keeldb.Database.open(p) as db:
        t = db.table("tab")
        t.add_vector_index("other", "v", DIMS, "COSINE")
        t.search("other", big[1][0], 5, ef=64, projection="pk")
    with keeldb.Database.open(p) as db:
        t = db.table("tab")
        t.drop_vector_index("vix")
        db.compact()
        raw = p.read_bytes()
        assert raw.count(MAGIC) == 1        # the other index's checkpoint only
        t.drop_vector_index("other")
        db.compact()
        assert MAGIC not in p.read_bytes()


def recreated_graph(p: Path) -> str:
    """Open p (recovering as after a crash); if "vix" is gone, create it again with the same
    definition, reopen and return its graph's state at the first approximate search."""
    with keeldb.Database.open(p) as db:
        t = db.table("tab")
        if any(x["name"] == "vix" for x in t.vector_indexes()):
            return "kept"
        t.add_vector_index(**vindex())
    with keeldb.Database.open(p) as db:
        t = db.table("tab")
        t.search("vix", np.ones(DIMS, np.float32), 3, ef=64, projection="pk")
        return t.vector_indexes()[0]["graph"]


def test_drop_vector_index_is_atomic_with_its_checkpoint(big: Tuple[Path, Any],
                                                         tmp_path: Path) -> None:
    # The drop and the checkpoint's tombstones are one atomic group: a crash at any entry
    # boundary of the drop leaves the index (with its checkpoint) or neither. Before the
    # fix the tombstones were a second append: a crash between the two left the checkpoint
    # live, and an index re-created with the same name and table loaded the stale graph.
    p = copy_of(big, tmp_path)
    before = p.stat().st_size
    with keeldb.Database.open(p) as db:
        db.table("tab").drop_vector_index("vix")
    raw = p.read_bytes()
    cuts = [before] + [t + 40 for (_, _, _, _, t) in entries(raw) if t + 40 > before]
    assert len(cuts) >= 3      # the catalog entry and at least one chunk's tombstone
    seen = set()
    for cut in cuts:
        q = tmp_path / f"cut{cut}.keel"
        q.write_bytes(raw[:cut])
        state = recreated_graph(q)
        assert state in ("kept", "built"), (cut, state)
        seen.add(state)
    assert seen == {"kept", "built"}


def test_compaction_drops_orphaned_checkpoints(big: Tuple[Path, Any], tmp_path: Path) -> None:
    # A chunk no live index owns (as a file written before drops reclaimed them holds), under
    # a table id that was never used: compaction leaves it out.
    p = copy_of(big, tmp_path)
    raw = p.read_bytes()
    chunk = [e for e in entries(raw) if raw[e[2]:e[2] + 4] == b"\0\0\0\x02"][-1]
    value = raw[chunk[0]:chunk[0] + chunk[1]]
    set_kind(p, 0)
    with keeldb.DataStore(p) as s:
        s.write(b"\0\0\0\x02\0\0\x01\x00\0\0\0\0gone", value)
    set_kind(p, 1)
    assert p.read_bytes().count(MAGIC) == 2
    with keeldb.Database.open(p) as db:
        db.compact()
        assert p.read_bytes().count(MAGIC) == 1
        t = db.table("tab")
        t.search("vix", big[1][0], 3, ef=64, projection="pk")
        assert t.vector_indexes()[0]["graph"] == "loaded"


# ---- every write path stores an indexed L of N as a vector -----------------------------------


def pks(hits: List[Tuple[dict, float]]) -> List[str]:
    return [h["pk"] for h, _ in hits]


def test_python_writes_store_vectors(tmp_path: Path) -> None:
    # Before the fix an update's or PartiQL's list stayed a list (not indexed), and a wrong
    # length or a non-number was stored as it was.
    with keeldb.Database.create(tmp_path / "db.keel") as db:
        t = db.create_table("tab", partition_key=("pk", "S"), vector_indexes=[
            {"name": "vix", "attribute": "v", "dimensions": 3, "distance": "EUCLIDEAN"}])
        t.put_item({"pk": "put", "v": [1, 0, 0]})
        t.update_item({"pk": "upd"}, "SET v = :v", values={":v": [2, 0, 0]})
        t.update_item({"pk": "np"}, "SET v = :v", values={":v": np.array([3, 0, 0], np.float32)})
        t.update_item({"pk": "vec"}, "SET v = :v", values={":v": keeldb.Vector([4, 0, 0])})
        db.execute("INSERT INTO tab VALUE {'pk': 'ins', 'v': [5, 0, 0]}")
        db.execute("INSERT INTO tab VALUE {'pk': 'later'}")
        db.execute("UPDATE tab SET v = [6, 0, 0] WHERE pk = 'later'")
        db.execute("UPDATE tab SET v = ? WHERE pk = 'later'", [[6.5, 0, 0]])
        for pk in ("put", "upd", "np", "vec", "ins", "later"):
            v = t.get_item({"pk": pk})["v"]
            assert isinstance(v, np.ndarray) and v.dtype == np.float32, pk
        del v
        got = t.search("vix", [0, 0, 0], 10, projection="pk")
        assert pks(got) == ["put", "upd", "np", "vec", "ins", "later"]
        assert got[-1][1] == 6.5
        # refusals name the attribute and the index, and write nothing
        bad = [([1, 2], "Invalid size for parameter v, Expected: 3, Actual: 2"),
               (np.ones(4, np.float32), "Expected: 3, Actual: 4"),
               ([1, "x", 3], r"v\[1\], Expected: 32-bit floating point number, Actual: S"),
               ([1e39, 0, 0], "outside the float32 range"),
               ("text", "Expected: L, Actual: S. IndexName: vix")]
        for value, msg in bad:
            with pytest.raises(keeldb.ValidationError, match=msg):
                t.update_item({"pk": "bad"}, "SET v = :v", values={":v": value})
            with pytest.raises(keeldb.ValidationError, match=msg):
                t.put_item({"pk": "bad", "v": value})
        with pytest.raises(keeldb.ValidationError, match="Expected: 3, Actual: 2"):
            db.execute("INSERT INTO tab VALUE {'pk': 'bad', 'v': [1, 2]}")
        with pytest.raises(keeldb.ValidationError, match="Expected: 3, Actual: 4"):
            db.execute("UPDATE tab SET v = [1, 2, 3, 4] WHERE pk = 'later'")
        assert t.get_item({"pk": "bad"}) is None
        # REMOVE takes the item out of the index
        t.update_item({"pk": "put"}, "REMOVE v")
        db.execute("UPDATE tab REMOVE v WHERE pk = 'ins'")
        assert pks(t.search("vix", [0, 0, 0], 10, projection="pk")) == ["upd", "np", "vec",
                                                                         "later"]


def test_remove_and_ttl_leave_approximate_search(big: Tuple[Path, Any], tmp_path: Path) -> None:
    p = copy_of(big, tmp_path)
    v = big[1]
    with keeldb.Database.open(p) as db:
        t = db.table("tab")
        t.enable_ttl("exp")
        for ef in (None, 64):
            assert pks(t.search("vix", v[5], 1, projection="pk", ef=ef)) == ["k5"]
        t.update_item({"pk": "k5"}, "REMOVE v")
        t.update_item({"pk": "k6"}, "SET exp = :t", values={":t": int(time.time()) - 10})
        t.update_item({"pk": "k7"}, "SET v = :v", values={":v": [float(x) for x in v[8]]})
        for ef in (None, 64):
            assert "k5" not in pks(t.search("vix", v[5], 10, projection="pk", ef=ef))
            assert "k6" not in pks(t.search("vix", v[6], 10, projection="pk", ef=ef))
            got = t.search("vix", v[8], 2, projection="pk", ef=ef)
            assert sorted(pks(got)) == ["k7", "k8"] and [s for _, s in got] == [0.0, 0.0]
        assert t.vector_indexes()[0]["graph"] == "loaded"
        assert t.vector_indexes()[0]["items"] == N - 1


# ---- the same through DynamoDB's API on `keel serve` -----------------------------------------

boto3 = pytest.importorskip("boto3")
from botocore.exceptions import ClientError  # noqa: E402

from keeldb.serve import serve  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def keel_bin(cli: str) -> None:
    import os
    os.environ.setdefault("KEEL_BIN", cli)


def _n(*xs: float) -> dict:
    return {"L": [{"N": str(x)} for x in xs]}


def test_boto3_write_paths_store_vectors(tmp_path: Path) -> None:
    with serve(tmp_path / "db.keel") as s:
        c = boto3.client("dynamodb", endpoint_url=s.endpoint_url, region_name="us-west-2",
                         aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
        c.create_table(
            TableName="docs", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            VectorIndexes=[{"IndexName": "emb", "VectorAttribute": {"AttributeName": "v"},
                            "Dimensions": 3, "DistanceFunction": "EUCLIDEAN",
                            "Projection": {"ProjectionType": "KEYS_ONLY"}}])
        c.put_item(TableName="docs", Item={"pk": {"S": "put"}, "v": _n(1, 0, 0)})
        c.update_item(TableName="docs", Key={"pk": {"S": "upd"}}, UpdateExpression="SET v = :v",
                      ExpressionAttributeValues={":v": _n(2, 0, 0)})
        c.execute_statement(Statement="INSERT INTO docs VALUE {'pk': 'ins', 'v': [3, 0, 0]}")
        c.execute_statement(Statement="INSERT INTO docs VALUE {'pk': 'later'}")
        c.execute_statement(Statement="UPDATE docs SET v = ? WHERE pk = 'later'",
                            Parameters=[_n(4, 0, 0)])
        c.transact_write_items(TransactItems=[{"Update": {
            "TableName": "docs", "Key": {"pk": {"S": "tx"}}, "UpdateExpression": "SET v = :v",
            "ExpressionAttributeValues": {":v": _n(5, 0, 0)}}}])
        d = c.describe_table(TableName="docs")["Table"]["VectorIndexes"][0]
        assert d["ItemCount"] == 5
        # the stored vector reads back as an L of N
        assert c.get_item(TableName="docs", Key={"pk": {"S": "upd"}})["Item"]["v"] == _n(2, 0, 0)

        def search() -> List[str]:
            r = c._make_api_call("SearchVectors", {
                "TableName": "docs", "IndexName": "emb", "TopK": 10,
                "SearchVector": [{"N": "0"}, {"N": "0"}, {"N": "0"}]}) \
                if "SearchVectors" in c.meta.service_model.operation_names else None
            if r is None:
                pytest.skip("this botocore does not know SearchVectors")
            return [h["Item"]["pk"]["S"] for h in r["SearchResults"]]

        assert search() == ["put", "upd", "ins", "later", "tx"]
        # refused as PutItem refuses: ValidationException naming the problem
        bad = [(_n(1, 2), "Expected: 3, Actual: 2"),
               ({"L": [{"N": "1"}, {"S": "x"}, {"N": "3"}]}, "Actual: S"),
               ({"S": "text"}, "Expected: L, Actual: S")]
        for value, msg in bad:
            for call in (lambda: c.put_item(TableName="docs", Item={"pk": {"S": "b"}, "v": value}),
                         lambda: c.update_item(TableName="docs", Key={"pk": {"S": "b"}},
                                               UpdateExpression="SET v = :v",
                                               ExpressionAttributeValues={":v": value}),
                         lambda: c.execute_statement(
                             Statement="UPDATE docs SET v = ? WHERE pk = 'later'",
                             Parameters=[value])):
                with pytest.raises(ClientError) as e:
                    call()
                err = e.value.response["Error"]
                assert err["Code"] == "ValidationException" and msg in err["Message"], err
        with pytest.raises(ClientError) as e:
            c.transact_write_items(TransactItems=[{"Put": {
                "TableName": "docs", "Item": {"pk": {"S": "b"}, "v": _n(1, 2)}}}])
        assert e.value.response["Error"]["Code"] == "TransactionCanceledException"
        # REMOVE takes the item out of the index
        c.update_item(TableName="docs", Key={"pk": {"S": "put"}}, UpdateExpression="REMOVE v")
        c.execute_statement(Statement="UPDATE docs REMOVE v WHERE pk = 'ins'")
        assert search() == ["upd", "later", "tx"]


# ---- SearchSchema's HASH and INLINE_FILTER are stored ----------------------------------------


def _schema_table(c: Any, name: str, schema: List[dict]) -> None:
    c.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        VectorIndexes=[{"IndexName": "emb", "VectorAttribute": {"AttributeName": "v"},
                        "Dimensions": 3, "DistanceFunction": "COSINE",
                        "Projection": {"ProjectionType": "ALL"}, "SearchSchema": schema}])


def test_search_schema_kinds_are_described(tmp_path: Path) -> None:
    # Before the fix DescribeTable said INLINE_FILTER for every element.
    schema = [{"AttributeName": "cat", "SearchSchemaElementType": "INLINE_FILTER"},
              {"AttributeName": "shop", "SearchSchemaElementType": "HASH"}]
    p = tmp_path / "db.keel"
    with serve(p) as s:
        c = boto3.client("dynamodb", endpoint_url=s.endpoint_url, region_name="us-west-2",
                         aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
        _schema_table(c, "docs", schema)
        d = c.describe_table(TableName="docs")["Table"]["VectorIndexes"][0]
        assert d["SearchSchema"] == schema
        c.update_table(TableName="docs", VectorIndexUpdates=[{"Create": {
            "IndexName": "plain", "VectorAttribute": {"AttributeName": "v"}, "Dimensions": 3,
            "DistanceFunction": "EUCLIDEAN", "Projection": {"ProjectionType": "ALL"},
            "SearchSchema": [{"AttributeName": "cat",
                              "SearchSchemaElementType": "INLINE_FILTER"}]}}])
        # two HASH elements, or one attribute twice: refused, nothing created
        for bad in ([{"AttributeName": "a", "SearchSchemaElementType": "HASH"},
                     {"AttributeName": "b", "SearchSchemaElementType": "HASH"}],
                    [{"AttributeName": "a", "SearchSchemaElementType": "HASH"},
                     {"AttributeName": "a", "SearchSchemaElementType": "INLINE_FILTER"}]):
            with pytest.raises(ClientError) as e:
                _schema_table(c, "nope", bad)
            assert e.value.response["Error"]["Code"] == "ValidationException"
            assert "SearchSchema" in e.value.response["Error"]["Message"]
        assert "nope" not in c.list_tables()["TableNames"]
    # stored in the file: the same after a restart, and through the Python API's view
    from keeldb import dynamodb as kdynamo
    c = kdynamo.client(p)
    try:
        got = {x["IndexName"]: x["SearchSchema"]
               for x in c.describe_table(TableName="docs")["Table"]["VectorIndexes"]}
        assert got == {"emb": schema, "plain": [{"AttributeName": "cat",
                                                 "SearchSchemaElementType": "INLINE_FILTER"}]}
    finally:
        c.close()
    with keeldb.Database.open(p) as db:
        t = db.table("docs")
        # the HASH attribute joins the filter attributes when they do not name it
        t.add_vector_index("pyx", "v", 3, filter_attributes=["cat"], hash_attribute="shop")
        with pytest.raises(keeldb.ValidationError, match="not one of filter_attributes"):
            db.create_vector_index("docs", "pyy", "v", 3, "COSINE", None, ["a"], None, None, "b")
    c = kdynamo.client(p)
    try:
        got = {x["IndexName"]: x["SearchSchema"]
               for x in c.describe_table(TableName="docs")["Table"]["VectorIndexes"]}
        assert got["pyx"] == schema
    finally:
        c.close()


def test_catalog_hash_must_be_a_filter_attribute(tmp_path: Path) -> None:
    p = tmp_path / "db.keel"
    with keeldb.Database.create(p) as db:
        db.create_table("tab", partition_key=("pk", "S")).add_vector_index(
            "vix", "v", 3, filter_attributes=["cat"], hash_attribute="shop")
    with keeldb.Database(p, readonly=True) as db:
        assert db.table("tab").vector_indexes()[0]["name"] == "vix"
    raw = bytearray(p.read_bytes())
    e = [e for e in entries(bytes(raw))
         if raw[e[2]:e[2] + e[3]] == b"\0\0\0\0\x01tab"][-1]
    i = raw.index(b"\x64hash\x64shop", e[0], e[0] + e[1])
    raw[i + 9] = ord("q")       # "hash": "shoq", not one of the filters
    reseal(raw, e)
    p.write_bytes(bytes(raw))
    with pytest.raises(keeldb.CorruptError, match="catalog entry of table 'tab': vindexes"):
        keeldb.Database(p, readonly=True)


def test_new_index_stores_existing_lists_as_vectors(tmp_path: Path) -> None:
    # Items written before the index with a list of its length (DynamoDB's form of a
    # vector) are indexed, as DynamoDB's backfill indexes them: before, they stayed lists
    # and out of the index. Over several of the backfill's batches (256 items).
    with keeldb.Database.create(tmp_path / "db.keel") as db:
        t = db.create_table("tab", partition_key=("pk", "S"))
        t.add_index("byg", partition_key=("g", "N"))
        for i in range(700):
            t.put_item({"pk": f"k{i}", "g": i % 3, "v": [i, 1, 0]})
        t.put_item({"pk": "short", "g": 0, "v": [1, 2]})
        t.put_item({"pk": "text", "g": 0, "v": [1, "x", 3]})
        t.put_item({"pk": "none", "g": 0})
        t.add_vector_index("vix", "v", 3, "EUCLIDEAN")
        assert t.vector_indexes()[0]["items"] == 700
        assert pks(t.search("vix", [0, 1, 0], 2, projection="pk")) == ["k0", "k1"]
        assert isinstance(t.get_item({"pk": "k5"})["v"], np.ndarray)
        assert t.get_item({"pk": "short"})["v"] == [1, 2]
        assert t.get_item({"pk": "text"})["v"] == [1, "x", 3]
        # the secondary index's projections were rewritten with the items
        got = {it["pk"]: it["v"] for it in t.query("g = :g", values={":g": 1}, index="byg")}
        assert len(got) == 233 and all(isinstance(v, np.ndarray) for v in got.values())
        np.testing.assert_array_equal(got["k4"], [4, 1, 0])
        del got
        assert t.count() == 703


def test_new_index_backfill_beside_writers(tmp_path: Path) -> None:
    # A writer rewrites items (as lists) while the index is created and backfilled: no
    # write is lost or undone, and every item ends as an indexed vector.
    import threading
    with keeldb.Database.create(tmp_path / "db.keel") as db:
        t = db.create_table("tab", partition_key=("pk", "S"))
        n = 1500
        for s in range(0, n, 500):
            t.batch_write(puts=[{"pk": f"k{i}", "v": [i, 0, 0]} for i in range(s, s + 500)])
        stop = threading.Event()
        last = {}

        def writer() -> None:
            r = 1
            while not stop.is_set():
                for i in range(0, n, 7):
                    t.update_item({"pk": f"k{i}"}, "SET v = :v", values={":v": [i, r, 0]})
                    last[i] = r
                r += 1

        th = threading.Thread(target=writer)
        th.start()
        try:
            time.sleep(0.05)
            t.add_vector_index("vix", "v", 3, "EUCLIDEAN")
            time.sleep(0.05)
        finally:
            stop.set()
            th.join()
        assert t.vector_indexes()[0]["items"] == n
        for i in range(0, n, 7):
            v = t.get_item({"pk": f"k{i}"})["v"]
            assert isinstance(v, np.ndarray) and list(v) == [i, last.get(i, 0), 0], i
        del v
        got = t.search("vix", [0, 0, 0], 100, projection="pk")
        assert len(got) == 100


def test_update_paths_into_a_stored_vector(tmp_path: Path) -> None:
    # To an update a stored vector is the list DynamoDB shows: before, SET v[1] = :x on it
    # was "The document path provided in the update expression is invalid for update".
    with keeldb.Database.create(tmp_path / "db.keel") as db:
        t = db.create_table("tab", partition_key=("pk", "S"), vector_indexes=[
            {"name": "vix", "attribute": "v", "dimensions": 3, "distance": "EUCLIDEAN"}])
        t.put_item({"pk": "a", "v": np.array([0.1, 2, 3], np.float32), "w": [1, 2]})
        t.update_item({"pk": "a"}, "SET v[1] = :x, w[0] = :x", values={":x": 5})
        got = t.get_item({"pk": "a"})
        np.testing.assert_array_equal(got["v"], np.array([0.1, 5, 3], np.float32))
        assert got["w"] == [5, 2]
        del got
        assert t.search("vix", np.array([0.1, 5, 3], np.float32), 1, projection="pk") == \
            [({"pk": "a"}, 0.0)]
        with pytest.raises(keeldb.ValidationError, match="Expected: 3, Actual: 4"):
            t.update_item({"pk": "a"}, "SET v = list_append(v, :l)", values={":l": [1]})
        with pytest.raises(keeldb.ValidationError, match="Expected: 3, Actual: 2"):
            t.update_item({"pk": "a"}, "REMOVE v[0]")
        db.execute("UPDATE tab SET v[2] = 7 WHERE pk = 'a'")
        v = t.get_item({"pk": "a"})["v"]
        np.testing.assert_array_equal(v, np.array([0.1, 5, 7], np.float32))
        del v
