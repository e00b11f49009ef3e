"""Secondary indexes and TTL through keeldb: every write kind keeps the indexes equal to a
model query (the projection of every item that has the index's keys, in index order);
sparse indexes; projections; backfill of an index added later; drop; reopen; TTL with a
fixed, moved clock (expired items vanish from every read path, are reaped, and compaction
reaps first); stats."""

from __future__ import annotations

import decimal
import random
from typing import Any, Dict, List, Optional, Tuple

import pytest

import keeldb

D = decimal.Decimal

GSI = {"name": "by_g", "partition_key": ("g", "S"), "sort_key": ("s", "N"), "projection": "ALL"}
GSI_KEYS = {"name": "g_keys", "partition_key": ("g", "S"), "projection": "KEYS_ONLY"}
LSI = {"name": "by_l", "sort_key": ("l", "N"), "projection": ["x"]}


def make(db: keeldb.Database) -> keeldb.Table:
    return db.create_table(
        "tbl",
        partition_key=("p", "S"),
        sort_key=("k", "N"),
        global_indexes=[GSI, GSI_KEYS],
        local_indexes=[LSI],
    )


def project(item: Dict[str, Any], keys: List[str], extra: Optional[List[str]]) -> Dict[str, Any]:
    if extra is None:
        return dict(item)
    return {a: v for a, v in item.items() if a in keys or a in extra}


def model_index(model: Dict[Tuple[str, int], Dict[str, Any]], idx: Dict[str, Any]) -> List[Any]:
    """What a scan of the index must hold: the projections of the items with its keys."""
    pk = idx.get("partition_key", ("p", "S"))
    sk = idx.get("sort_key")
    want = []
    for item in model.values():
        if not isinstance(item.get(pk[0]), str):
            continue
        if sk is not None and not isinstance(item.get(sk[0]), (int, D)):
            continue
        proj = idx["projection"]
        keys = ["p", "k", pk[0]] + ([sk[0]] if sk else [])
        extra = None if proj == "ALL" else ([] if proj == "KEYS_ONLY" else proj)
        want.append(project(item, keys, extra))
    return want


def canon(items: List[Dict[str, Any]]) -> List[Any]:
    return sorted(repr(sorted((k, str(v)) for k, v in it.items())) for it in items)


def check(t: keeldb.Table, model: Dict[Tuple[str, int], Dict[str, Any]]) -> None:
    for idx in (GSI, GSI_KEYS, LSI):
        got = list(t.scan(index=idx["name"]))
        assert canon(got) == canon(model_index(model, idx)), idx["name"]
    for g in "abc":
        got = list(t.query("g = :g", values={":g": g}, index="by_g"))
        want = [it for it in model_index(model, GSI) if it["g"] == g]
        assert canon(got) == canon(want)
        assert [D(str(it["s"])) for it in got] == sorted(D(str(it["s"])) for it in got)


def rand_item(r: random.Random) -> Dict[str, Any]:
    item: Dict[str, Any] = {"p": f"q{r.randrange(3)}", "k": r.randrange(8)}
    g = r.randrange(5)
    if g < 3:
        item["g"] = "abc"[g]
    elif g == 3:
        item["h"] = 7  # no g: in no g index (a g of another type is refused)
    if r.randrange(4):
        item["s"] = r.randrange(5)
    if r.randrange(2):
        item["l"] = r.randrange(5)
    if r.randrange(2):
        item["x"] = f"v{r.randrange(9)}"
    if r.randrange(3) == 0:
        item["y"] = [1, 2]
    return item


@pytest.mark.parametrize("seed", [1, 2])
def test_every_write_kind_keeps_indexes(seed: int) -> None:
    r = random.Random(seed)
    db = keeldb.Database.create_in_memory()
    t = make(db)
    model: Dict[Tuple[str, int], Dict[str, Any]] = {}
    for step in range(150):
        op = r.randrange(6)
        if op < 2:
            it = rand_item(r)
            t.put_item(it)
            model[(it["p"], it["k"])] = it
        elif op == 2:
            key = {"p": f"q{r.randrange(3)}", "k": r.randrange(8)}
            t.delete_item(key)
            model.pop((key["p"], key["k"]), None)
        elif op == 3:
            key = {"p": f"q{r.randrange(3)}", "k": r.randrange(8)}
            g = "abc"[r.randrange(3)]
            t.update_item(key, "SET g = :g REMOVE s", values={":g": g})
            cur = dict(model.get((key["p"], key["k"]), key))
            cur["g"] = g
            cur.pop("s", None)
            model[(key["p"], key["k"])] = cur
        elif op == 4:
            a, b = rand_item(r), rand_item(r)
            if (a["p"], a["k"]) == (b["p"], b["k"]):
                continue
            t.batch_write(puts=[a], deletes=[{"p": b["p"], "k": b["k"]}])
            model[(a["p"], a["k"])] = a
            model.pop((b["p"], b["k"]), None)
        else:
            a = rand_item(r)
            key = {"p": f"q{r.randrange(3)}", "k": r.randrange(8)}
            if (a["p"], a["k"]) == (key["p"], key["k"]):
                continue
            try:
                db.transact_write([
                    {"Put": {"TableName": "tbl", "Item": a}},
                    {"Update": {"TableName": "tbl", "Key": key, "UpdateExpression": "SET s = :n",
                                "ConditionExpression": "attribute_exists(p)",
                                "ExpressionAttributeValues": {":n": 3}}},
                ])
            except keeldb.TransactionCanceled:
                assert (key["p"], key["k"]) not in model
            else:
                model[(a["p"], a["k"])] = a
                model[(key["p"], key["k"])]["s"] = 3
        if step % 10 == 0:
            check(t, model)
    check(t, model)
    stats = t.stats()
    assert [i["name"] for i in stats["indexes"]] == ["by_l", "by_g", "g_keys"]
    d = t.describe()
    assert [i["name"] for i in d["indexes"]] == ["by_l", "by_g", "g_keys"]
    assert d["indexes"][0]["kind"] == "local" and d["indexes"][0]["projection"] == ["x"]
    assert d["indexes"][2]["sort_key"] is None and d["ttl_attribute"] is None
    assert stats["indexes"][1]["item_count"] == len(model_index(model, GSI))


def test_sparse_projection_and_pages() -> None:
    db = keeldb.Database.create_in_memory()
    t = make(db)
    t.put_item({"p": "a", "k": 1, "g": "x", "s": 3, "x": "i", "y": 1, "l": 2})
    t.put_item({"p": "a", "k": 2, "g": "x", "s": 1})
    t.put_item({"p": "a", "k": 3, "g": "x"})          # no s: not in by_g
    with pytest.raises(keeldb.ValidationError, match="Type mismatch for Index Key g "
                       "Expected: S Actual: N IndexName: by_g"):
        t.put_item({"p": "a", "k": 4, "g": 5, "s": 2})    # g not a string: refused
    with pytest.raises(keeldb.ValidationError, match="Index Key l Expected: N Actual: S"):
        t.update_item({"p": "a", "k": 1}, "SET l = :v", values={":v": "two"})
    assert t.get_item({"p": "a", "k": 4}) is None
    assert t.get_item({"p": "a", "k": 1})["l"] == 2
    got = list(t.query("g = :g", values={":g": "x"}, index="by_g"))
    assert [it["k"] for it in got] == [2, 1]
    assert got[1] == {"p": "a", "k": 1, "g": "x", "s": 3, "x": "i", "y": 1, "l": 2}
    keys = list(t.query("g = :g", values={":g": "x"}, index="g_keys"))
    assert sorted(it["k"] for it in keys) == [1, 2, 3]
    assert all(set(it) == {"p", "k", "g"} for it in keys)
    assert list(t.query("p = :p AND l > :l", values={":p": "a", ":l": 0}, index="by_l")) == [
        {"p": "a", "k": 1, "l": 2, "x": "i"}
    ]
    it = t.query("g = :g", values={":g": "x"}, index="by_g", limit=1)
    assert [i["k"] for i in it] == [2]
    assert it.last_key == {"p": "a", "k": 2, "g": "x", "s": 1}
    rest = list(t.query("g = :g", values={":g": "x"}, index="by_g", start_key=it.last_key))
    assert [i["k"] for i in rest] == [1]
    desc = list(t.query("g = :g", values={":g": "x"}, index="by_g", forward=False))
    assert [i["k"] for i in desc] == [1, 2]
    with pytest.raises(keeldb.ValidationError):
        list(t.query("g = :g", values={":g": "x"}, index="nope"))
    with pytest.raises(keeldb.ValidationError):
        t.put_item({"p": "a", "k": 9, "g": ""})  # an empty string as an index key


def test_definitions_refused() -> None:
    db = keeldb.Database.create_in_memory()
    with pytest.raises(keeldb.ValidationError):
        db.create_table("t1x", partition_key=("p", "S"), local_indexes=[LSI])  # no sort key
    lsis = [dict(LSI, name=f"lsi{i}") for i in range(6)]
    with pytest.raises(keeldb.ValidationError):
        db.create_table("t2x", partition_key=("p", "S"), sort_key=("k", "N"), local_indexes=lsis)
    with pytest.raises(keeldb.ValidationError):
        db.create_table("t3x", partition_key=("p", "S"), global_indexes=[dict(GSI, name="a")])
    with pytest.raises(keeldb.ValidationError):
        db.create_table("t3x", partition_key=("p", "S"),
                        global_indexes=[dict(GSI, Projection="ALL")])  # a misspelt field
    assert db.list_tables() == []
    t = db.create_table("t4x", partition_key=("p", "S"), sort_key=("k", "N"),
                        local_indexes=lsis[:5])
    with pytest.raises(keeldb.ValidationError):
        db.update_table("t4x", create_index=dict(LSI, name="lsi0", partition_key=("p", "S")))
    with pytest.raises(keeldb.ValidationError):
        t.add_index("k_as_s", ("k", "S"))  # k is N in the table
    with pytest.raises(keeldb.ValidationError):
        t.drop_index("missing")


def test_backfill_drop_and_reopen(tmp_path: Any) -> None:
    path = tmp_path / "b.keel"
    with keeldb.Database.create(path) as db:
        t = db.create_table("tbl", partition_key=("p", "S"), sort_key=("k", "N"))
        model = {}
        for i in range(600):
            it: Dict[str, Any] = {"p": f"q{i % 7}", "k": i, "s": i % 11}
            if i % 4:
                it["g"] = "abc"[i % 3]
            t.put_item(it)
            model[(it["p"], i)] = it
        t.add_index("by_g", ("g", "S"), ("s", "N"))
        t.add_index("g_keys", ("g", "S"), projection="KEYS_ONLY")
        got = list(t.scan(index="by_g"))
        assert canon(got) == canon(model_index(model, GSI))
        t.put_item({"p": "q0", "k": 0, "g": "z", "s": 1})
        model[("q0", 0)] = {"p": "q0", "k": 0, "g": "z", "s": 1}
        assert len(list(t.query("g = :g", values={":g": "z"}, index="by_g"))) == 1
    with keeldb.Database.open(path) as db:
        t = db.table("tbl")
        assert canon(list(t.scan(index="g_keys"))) == canon(model_index(model, GSI_KEYS))
        t.drop_index("g_keys")
        assert [i["name"] for i in t.stats()["indexes"]] == ["by_g"]
    with keeldb.Database.open(path) as db:
        t = db.table("tbl")
        assert [i["name"] for i in t.stats()["indexes"]] == ["by_g"]
        assert canon(list(t.scan(index="by_g"))) == canon(model_index(model, GSI))


def test_ttl_moving_clock(tmp_path: Any) -> None:
    path = tmp_path / "ttl.keel"
    db = keeldb.Database.create(path)
    t = make(db)
    db.set_clock(1000)
    t.enable_ttl("exp")
    assert t.ttl == "exp"
    for k in range(20):
        item: Dict[str, Any] = {"p": "a", "k": k, "g": "x", "s": k, "l": k}
        if k % 2 == 0:
            item["exp"] = 1000 + 10 * (k // 2 + 1)   # 1010, 1020, ...
        elif k % 4 == 1:
            item["exp"] = "not a number"            # never expires
        t.put_item(item)

    def visible() -> List[int]:
        return sorted(it["k"] for it in t.scan())

    assert len(visible()) == 20
    db.set_clock(1030)  # k = 0, 2, 4 expired
    expired = {0, 2, 4}
    live = [k for k in range(20) if k not in expired]
    assert visible() == live
    assert [it["k"] for it in t.query("p = :p", values={":p": "a"})] == live
    assert sorted(it["k"] for it in t.query("g = :g", values={":g": "x"}, index="by_g")) == live
    assert sorted(it["k"] for it in t.scan(index="g_keys")) == live
    assert sorted(it["k"] for it in t.query("p = :p", values={":p": "a"}, index="by_l")) == live
    assert t.get_item({"p": "a", "k": 0}) is None
    assert [it["k"] for it in t.batch_get([{"p": "a", "k": 0}, {"p": "a", "k": 1}])] == [1]
    assert db.transact_get([{"Get": {"TableName": "tbl", "Key": {"p": "a", "k": 2}}}]) == [None]
    # Writers see an expired item as absent.
    t.put_item({"p": "a", "k": 4, "g": "y", "s": 0}, condition="attribute_not_exists(p)")
    assert t.count() == 20
    assert db.reap_expired() == 2  # k = 0, 2 (k = 4 was written again)
    assert t.count() == 18
    assert t.stats()["indexes"][1]["item_count"] == 18
    db.set_clock(1060)  # 1040, 1050, 1060 expire too
    assert db.reap_expired(max=1) == 1
    assert len(visible()) == 18 - 3
    db.compact()  # reaps the rest first
    assert t.count() == 15
    db.close()
    db = keeldb.Database.open(path)
    t = db.table("tbl")
    assert t.ttl == "exp"
    t.disable_ttl()
    assert t.ttl is None
    db.close()


def test_projected_vectors_stay_aligned_and_key_limits() -> None:
    db = keeldb.Database.create_in_memory()
    t = db.create_table(
        "vecs", partition_key=("id", "S"),
        global_indexes=[{"name": "inc", "partition_key": ("kind", "S"), "projection": ["emb"]},
                        {"name": "all", "partition_key": ("kind", "S")}])
    t.put_item({"id": "a", "kind": "k", "pad": "x" * 7, "emb": keeldb.Vector([1.0, 2.0, 3.0])})
    for name in ("inc", "all"):
        (it,) = list(t.query("kind = :k", values={":k": "k"}, index=name))
        assert it["emb"].tolist() == [1.0, 2.0, 3.0]
        assert it["emb"].ctypes.data % 64 == 0  # a view into the file, 64-byte aligned
    with pytest.raises(keeldb.ValidationError, match="2048"):
        t.put_item({"id": "b", "kind": "x" * 3000})  # an index partition key over the limit
    assert t.count() == 1
    db.verify()


def test_threads_write_reap_and_read_an_index() -> None:
    import threading

    db = keeldb.Database.create_in_memory()
    t = make(db)
    db.set_clock(1000)
    t.enable_ttl("exp")
    errors: List[BaseException] = []

    def writer(seed: int) -> None:
        r = random.Random(seed)
        try:
            for _ in range(300):
                it = rand_item(r)
                if r.randrange(3) == 0:
                    it["exp"] = 1000 + r.randrange(-5, 5)
                t.put_item(it)
                if r.randrange(4) == 0:
                    t.update_item({"p": it["p"], "k": it["k"]}, "SET g = :g", values={":g": "b"})
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    def reaper() -> None:
        try:
            for _ in range(50):
                db.reap_expired()
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(s,)) for s in range(3)]
    threads.append(threading.Thread(target=reaper))
    for th in threads:
        th.start()
    for _ in range(30):
        for it in t.query("g = :g", values={":g": "b"}, index="by_g"):
            assert it["g"] == "b"
    for th in threads:
        th.join()
    assert not errors
    db.reap_expired()
    live = {(it["p"], it["k"]): it for it in t.scan()}
    assert t.count() == len(live)
    check(t, live)
