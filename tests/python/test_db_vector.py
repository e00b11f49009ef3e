"""Vector indexes and search through keeldb: exact results against a numpy brute force
(COSINE, EUCLIDEAN, DOT_PRODUCT; single and batch; filters; projections), zero-copy result
vectors, consistency after writes and deletes, persistence of the definitions across reopen
(the candidate lists are rebuilt, the definitions are not re-declared), a crash cut of the
last write, and clear errors for bad input."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Tuple

import pytest

import keeldb

np = pytest.importorskip("numpy")

DIMS = 16
DISTS = ["COSINE", "EUCLIDEAN", "DOT_PRODUCT"]


def brute(model: Dict[str, Any], q: Any, dist: str, k: int, keep=lambda item: True) -> List[float]:
    ids = [i for i, it in model.items() if "v" in it and len(it["v"]) == DIMS and keep(it)]
    if not ids:
        return []
    m = np.stack([model[i]["v"] for i in ids]).astype(np.float64)
    q = np.asarray(q, dtype=np.float64)
    if dist == "COSINE":
        n = np.linalg.norm(m, axis=1) * np.linalg.norm(q)
        s = np.where(n > 0, 1 - (m @ q) / np.where(n > 0, n, 1), 1.0)
        return sorted(s)[:k]
    if dist == "EUCLIDEAN":
        return sorted(np.linalg.norm(m - q, axis=1))[:k]
    return sorted(m @ q, reverse=True)[:k]


def check(t: keeldb.Table, model: Dict[str, Any], rng: Any, nq: int = 4, **kw: Any) -> None:
    keep = kw.pop("keep", lambda item: True)
    qs = rng.standard_normal((nq, DIMS)).astype(np.float32)
    for d in DISTS:
        batch = t.search_batch(d.lower(), qs, 7, **kw)
        for q, got_b in zip(qs, batch):
            got = t.search(d.lower(), q, 7, **kw)
            want = brute(model, q, d, 7, keep)
            for g in (got, got_b):
                assert len(g) == len(want)
                np.testing.assert_allclose([s for _, s in g], want, rtol=1e-4, atol=1e-4)
                for item, score in g:
                    ref = model[item["p"]]
                    assert keep(ref)
                    np.testing.assert_array_equal(item["v"], ref["v"])


def make(db: keeldb.Database) -> keeldb.Table:
    return db.create_table(
        "tbl",
        partition_key=("p", "S"),
        vector_indexes=[
            {"name": d.lower(), "attribute": "v", "dimensions": DIMS, "distance": d}
            for d in DISTS
        ],
    )


def fill(t: keeldb.Table, model: Dict[str, Any], rng: Any, n: int) -> None:
    for i in range(n):
        item: Dict[str, Any] = {"p": f"i{i}", "g": int(rng.integers(0, 3))}
        r = rng.random()
        if r < 0.9:
            item["v"] = rng.standard_normal(DIMS).astype(np.float32)
        elif r < 0.95:
            # A vector of other dimensions than the index's is refused, as DynamoDB refuses
            # it (before: stored and left out of the index).
            bad = dict(item, v=rng.standard_normal(3).astype(np.float32))
            with pytest.raises(keeldb.ValidationError, match="Invalid size for parameter v"):
                t.put_item(bad)
        t.put_item(item)
        model[item["p"]] = item


def test_search_matches_numpy(tmp_path: Any) -> None:
    rng = np.random.default_rng(1)
    with keeldb.Database(str(tmp_path / "v.keel")) as db:
        t = make(db)
        model: Dict[str, Any] = {}
        fill(t, model, rng, 300)
        check(t, model, rng)
        check(t, model, rng, filter="g = :g", values={":g": 1}, keep=lambda it: it["g"] == 1)
        # writes and deletes after the index
        for i in range(0, 300, 3):
            t.delete_item({"p": f"i{i}"})
            del model[f"i{i}"]
        for i in range(1, 300, 5):
            v = rng.standard_normal(DIMS).astype(np.float32)
            t.update_item({"p": f"i{i}"}, "SET v = :v", values={":v": v})
            model.setdefault(f"i{i}", {"p": f"i{i}"})["v"] = v
        check(t, model, rng)
        # results: zero-copy stored vectors, projections
        (item, _), = t.search("cosine", model["i2"]["v"], 1)
        assert item["p"] == "i2" and not item["v"].flags.writeable
        assert keeldb.Vector is not None
        (item, score), = t.search("euclidean", model["i2"]["v"], 1, projection="g")
        assert item == {"g": model["i2"]["g"]} and score == pytest.approx(0, abs=1e-5)
        assert [x["items"] for x in t.vector_indexes()] == [
            sum(1 for it in model.values() if "v" in it and len(it["v"]) == DIMS)
        ] * 3


def test_scan_order_follows_appends_and_moves(tmp_path: Any) -> None:
    """The scan's cached file order (and the payload offsets kept in that order) stays exact
    when items are only appended after a search (the order is extended), when a put moves an
    item to the end of the log, and when a delete moves the last slot into the hole."""
    rng = np.random.default_rng(5)
    with keeldb.Database(str(tmp_path / "o.keel")) as db:
        t = make(db)
        model: Dict[str, Any] = {}
        fill(t, model, rng, 200)
        check(t, model, rng, nq=2)
        for i in range(200, 320):  # appends only
            item = {"p": f"i{i}", "g": 0, "v": rng.standard_normal(DIMS).astype(np.float32)}
            t.put_item(item)
            model[item["p"]] = item
        check(t, model, rng, nq=2)
        for i in (5, 77, 150):  # rewritten: a new payload offset for the same slot
            model[f"i{i}"] = {"p": f"i{i}", "g": 1, "v": rng.standard_normal(DIMS).astype(np.float32)}
            t.put_item(model[f"i{i}"])
        check(t, model, rng, nq=2)
        for i in (0, 100, 319):
            t.delete_item({"p": f"i{i}"})
            del model[f"i{i}"]
        check(t, model, rng, nq=2)
        # a query equal to a rewritten item's new vector finds it first, at distance 0
        (item, score), = t.search("euclidean", model["i77"]["v"], 1, projection="p")
        assert item == {"p": "i77"} and score == pytest.approx(0, abs=1e-5)


def test_reopen_and_crash(tmp_path: Any) -> None:
    rng = np.random.default_rng(2)
    path = str(tmp_path / "v.keel")
    model: Dict[str, Any] = {}
    with keeldb.Database(path) as db:
        t = make(db)
        fill(t, model, rng, 100)
        t.add_vector_index("keys", "v", DIMS, "EUCLIDEAN", projection="KEYS_ONLY")
        t.drop_vector_index("dot_product")
        db.flush()
    size = os.path.getsize(path)
    with keeldb.Database(path) as db:
        t = db.table("tbl")
        assert [x["name"] for x in t.vector_indexes()] == ["cosine", "euclidean", "keys"]
        some = next(i for i, it in model.items() if len(it.get("v", ())) == DIMS)
        ((item, _),) = t.search("keys", model[some]["v"], 1)
        assert item == {"p": some}
        check_two = lambda: [  # noqa: E731
            t.search("euclidean", q, 5) for q in rng.standard_normal((2, DIMS)).astype(np.float32)
        ]
        check_two()
        t.put_item({"p": "new", "v": np.zeros(DIMS, np.float32)})
    with open(path, "r+b") as f:
        f.truncate(size + (os.path.getsize(path) - size) // 2)
    with keeldb.Database(path) as db:
        t = db.table("tbl")
        got = t.search("euclidean", np.zeros(DIMS, np.float32), 1, projection="p")
        assert got[0][0]["p"] != "new"


def test_errors(tmp_path: Any) -> None:
    with keeldb.Database(str(tmp_path / "v.keel")) as db:
        t = make(db)
        t.put_item({"p": "a", "v": np.ones(DIMS, np.float32)})
        with pytest.raises(keeldb.ValidationError, match="dimensions"):
            t.search("cosine", np.ones(DIMS + 1), 1)
        with pytest.raises(keeldb.ValidationError, match="finite"):
            t.search("cosine", np.full(DIMS, np.nan), 1)
        # the query check runs four elements at a time, then a tail: every position is named
        t.add_vector_index("seven", "w", 7)
        t.put_item({"p": "b", "w": np.ones(7, np.float32)})
        for index, dims in (("euclidean", DIMS), ("seven", 7)):
            for bad in (np.nan, np.inf, -np.inf):
                for i in range(dims):
                    q = np.ones(dims, np.float32)
                    q[i] = bad
                    with pytest.raises(keeldb.ValidationError, match=f"query 0, element {i}: .*finite"):
                        t.search(index, q, 1)
                    with pytest.raises(keeldb.ValidationError, match=f"query 1, element {i}: .*finite"):
                        t.search_batch(index, np.stack([np.ones(dims, np.float32), q]), 1)
        assert t.search("seven", np.ones(7, np.float32), 1)[0][0]["p"] == "b"
        with pytest.raises(keeldb.ValidationError):
            t.search("cosine", np.ones(DIMS), 101)
        with pytest.raises(keeldb.ValidationError, match="zero"):
            t.search("cosine", np.zeros(DIMS), 1)
        with pytest.raises(keeldb.ValidationError):
            t.search("nope", np.ones(DIMS), 1)
        with pytest.raises(keeldb.ValidationError):
            t.add_vector_index("big", "w", 4097)
        with pytest.raises(keeldb.ValidationError):
            t.add_vector_index("bad", "w", 4, "MANHATTAN")
        assert t.search("cosine", [1.0] * DIMS, 1)[0][1] == pytest.approx(0, abs=1e-6)


def _ref_project(value: Any, paths: List[Tuple[Any, ...]]) -> Any:
    """A ProjectionExpression's result by DynamoDB's rules, over a decoded item: attributes
    in item order, nested maps for nested names, lists of the selected elements in index
    order for indexes, a container left empty omitted (None)."""
    if isinstance(value, dict):
        out: Dict[str, Any] = {}
        for name, child in value.items():
            mine = [p[1:] for p in paths if p[0] == name]
            if not mine:
                continue
            got = child if () in mine else _ref_project(child, mine)
            if got is not None:
                out[name] = got
        return out or None
    if isinstance(value, (list, np.ndarray)):
        sel = []
        for i, child in enumerate(value):
            mine = [p[1:] for p in paths if p[0] == i]
            if not mine:
                continue
            got = child if () in mine else _ref_project(child, mine)
            if got is not None:
                sel.append(got)
        return sel or None
    return None


def test_search_projections_select_the_right_attributes(tmp_path: Any) -> None:
    """Projections of search hits against a reference: attributes before and after the
    vector, nested names and indexes, vector elements, the whole vector (a zero-copy,
    read-only, 64-byte-aligned view), names absent from the item; filters on attributes
    stored after the vector. Projections step over the attributes they do not name without
    decoding them: a wrong skip shows here as a missing, extra or misplaced attribute."""
    rng = np.random.default_rng(11)
    with keeldb.Database(str(tmp_path / "p.keel")) as db:
        t = make(db)
        for i in range(40):
            item: Dict[str, Any] = {"a": f"s{i}", "p": f"i{i}",
                                    "v": rng.standard_normal(DIMS).astype(np.float32),
                                    "m": {"x": i, "y": [1, 2, {"w": i % 3}], "z": {"w": "t"}},
                                    "l": [10, {"q": i}, 30], "z": i % 4}
            if i % 5 == 0:
                del item["m"]
            t.put_item(item)
        q = rng.standard_normal(DIMS).astype(np.float32)
        cases = [
            ("p", [("p",)]),
            ("z", [("z",)]),
            ("a, z", [("a",), ("z",)]),
            ("m.x, l[1].q, z", [("m", "x"), ("l", 1, "q"), ("z",)]),
            ("m.y[2].w, m.y[0], l[2], l[0]", [("m", "y", 2, "w"), ("m", "y", 0), ("l", 2), ("l", 0)]),
            ("m.z, nothere, m.nothere", [("m", "z"), ("nothere",), ("m", "nothere")]),
            ("v[3], v[0], p", [("v", 3), ("v", 0), ("p",)]),
            ("v, z", [("v",), ("z",)]),
            ("p, v", [("p",), ("v",)]),
            ("l[1].q.deeper, v[2].x", [("l", 1, "q", "deeper"), ("v", 2, "x")]),
        ]
        for expr, paths in cases:
            for k in (1, 7):
                for filt in (None, "z = :z"):
                    _check_projection(t, q, k, expr, paths, filt)


def _check_projection(t: keeldb.Table, q: Any, k: int, expr: str, paths: List[Tuple[Any, ...]],
                      filt: Any) -> None:
    kw: Dict[str, Any] = {"filter": filt, "values": {":z": 2}} if filt else {}
    full = t.search("euclidean", q, k, **kw)
    got = t.search("euclidean", q, k, projection=expr, **kw)
    assert len(got) == len(full) > 0 and [s for _, s in got] == [s for _, s in full]
    for (item, _), (whole, _) in zip(got, full):
        if filt:
            assert whole["z"] == 2
        # the whole item's vector: zero copy over the mapping, read-only, 64-byte aligned
        v = whole["v"]
        assert not v.flags.writeable and not v.flags.owndata and v.ctypes.data % 64 == 0
        del v
        stored = t.get_item({"p": whole["p"]})
        want = _ref_project(stored, paths) or {}
        assert list(item) == list(want), expr
        for name in want:
            if name == "v" and ("v",) in paths:  # a projection's vector: a copy
                assert not item["v"].flags.writeable
                np.testing.assert_array_equal(item["v"], stored["v"])
            elif name == "v":
                # elements are the shortest decimals that read back as the float32s
                got_v = [np.float32(float(x)) for x in item["v"]]
                assert got_v == [np.float32(x) for x in want["v"]], expr
            else:
                assert item[name] == want[name], expr
