"""Approximate vector search through keeldb (``search(..., ef=...)``): recall@10 against
the exact search on clustered data (fixed seed), scores equal to numpy's for every returned
item, writes reflected, the graph's checkpoint loaded at reopen (``vector_indexes()``
says "loaded" and nothing is re-inserted), a damaged checkpoint rebuilt with the same
answers, the exact fallback under 5,000 items, and clear errors for bad parameters."""

from __future__ import annotations

from typing import Any

import pytest

import keeldb

np = pytest.importorskip("numpy")

N, DIMS, K = 6000, 16, 10
EF = 128  # recall@10 >= 0.95 at this beam for COSINE and EUCLIDEAN on this data


def clustered(rng: Any, n: int, centers: Any) -> Any:
    c = centers[rng.integers(0, len(centers), n)]
    return (c + 0.15 * rng.standard_normal((n, DIMS))).astype(np.float32)


def scores(dist: str, m: Any, q: Any) -> Any:
    m = m.astype(np.float64)
    q = q.astype(np.float64)
    if dist == "COSINE":
        return 1 - (m @ q) / (np.linalg.norm(m, axis=1) * np.linalg.norm(q))
    if dist == "EUCLIDEAN":
        return np.linalg.norm(m - q, axis=1)
    return m @ q


def build(path: Any, n: int = N) -> tuple:
    rng = np.random.default_rng(1234)
    centers = rng.uniform(-1, 1, (40, DIMS))
    v = clustered(rng, n, centers)
    q = clustered(rng, 30, centers)
    db = keeldb.Database(str(path))
    t = db.create_table(
        "tbl",
        partition_key=("p", "N"),
        vector_indexes=[
            {"name": "cos", "attribute": "v", "dimensions": DIMS, "distance": "COSINE"},
            {"name": "euc", "attribute": "v", "dimensions": DIMS, "distance": "EUCLIDEAN",
             "m": 12, "ef_construction": 100},
        ],
    )
    for s in range(0, n, 1000):
        t.batch_write(puts=[{"p": i, "g": i % 4, "v": v[i]} for i in range(s, min(n, s + 1000))])
    return db, t, v, q


def recall(t: keeldb.Table, index: str, dist: str, v: Any, q: Any, alive: Any, **kw: Any) -> float:
    found = want = 0
    for qi in q:
        got = t.search(index, qi, K, ef=EF, **kw)
        exact = t.search(index, qi, K, exact=True, **kw)
        assert len(got) == len(exact)
        s = scores(dist, v, qi)
        for item, score in got:
            p = int(item["p"])
            assert alive[p]
            np.testing.assert_allclose(score, s[p], rtol=2e-4, atol=2e-4)
            np.testing.assert_array_equal(item["v"], v[p])
        ids = {int(i["p"]) for i, _ in exact}
        found += sum(int(i["p"]) in ids for i, _ in got)
        want += len(exact)
    return found / want


def info(t: keeldb.Table, name: str) -> dict:
    return next(x for x in t.vector_indexes() if x["name"] == name)


def test_recall_updates_and_reopen(tmp_path: Any) -> None:
    db, t, v, q = build(tmp_path / "a.keel")
    alive = np.ones(N, dtype=bool)
    assert info(t, "cos")["graph"] == "none"
    for index, dist in (("cos", "COSINE"), ("euc", "EUCLIDEAN")):
        assert recall(t, index, dist, v, q, alive) >= 0.95
        i = info(t, index)
        assert i["graph"] == "built" and i["graph_items"] == N and i["graph_inserts"] == N
    assert info(t, "euc")["m"] == 12 and info(t, "euc")["ef_construction"] == 100
    assert info(t, "cos")["m"] == 16 and info(t, "cos")["ef_construction"] == 200
    # filters: the beam widens; every hit passes
    assert recall(t, "euc", "EUCLIDEAN", v, q[:10], alive, filter="g = :g", values={":g": 1}) >= 0.9
    # writes: deletions never come back, moved vectors are found at their new place
    for i in range(300):
        t.delete_item({"p": i})
        alive[i] = False
    for j, i in enumerate(range(300, 330)):
        v[i] = q[j % len(q)]
        t.put_item({"p": i, "g": 0, "v": v[i]})
    assert info(t, "cos")["graph_pending"] == 330
    for index, dist in (("cos", "COSINE"), ("euc", "EUCLIDEAN")):
        assert recall(t, index, dist, v, q, alive) >= 0.95
        top = t.search(index, q[0], 1, ef=EF)
        assert int(top[0][0]["p"]) in {300 + j for j in range(0, 30, len(q))}
        del top  # its vector is a view of the file
    db.close()
    db = keeldb.Database(str(tmp_path / "a.keel"))
    t = db.table("tbl")
    assert info(t, "cos")["graph"] == "loaded"
    assert recall(t, "cos", "COSINE", v, q, alive) >= 0.95
    i = info(t, "cos")
    assert i["graph"] == "loaded" and i["graph_inserts"] == 0 and i["graph_items"] == N - 300
    db.close()


def test_damaged_checkpoint_is_rebuilt(tmp_path: Any, monkeypatch: Any) -> None:
    # one inserting thread: a parallel build's graph depends on the threads' interleaving
    monkeypatch.setenv("KEEL_DB_HNSW_THREADS", "1")
    db, t, v, q = build(tmp_path / "b.keel")
    alive = np.ones(N, dtype=bool)
    want = [[h[1] for h in t.search("euc", qi, K, ef=EF)] for qi in q[:5]]
    db.close()
    data = bytearray((tmp_path / "b.keel").read_bytes())
    at = data.find(b"KEELHNSW")
    assert at > 0 and data.find(b"KEELHNSW", at + 1) < 0  # only the graph that was used
    data[at + 5000] ^= 0x04
    (tmp_path / "b.keel").write_bytes(bytes(data))
    db = keeldb.Database(str(tmp_path / "b.keel"))
    t = db.table("tbl")
    assert info(t, "euc")["graph"] == "none" and info(t, "cos")["graph"] == "none"
    assert recall(t, "euc", "EUCLIDEAN", v, q, alive) >= 0.95
    assert info(t, "euc")["graph"] == "built"
    for qi, w in zip(q[:5], want):  # the rebuilt graph is built the same way
        assert [h[1] for h in t.search("euc", qi, K, ef=EF)] == pytest.approx(w)
    db.close()


@pytest.mark.parametrize("threads", ["1", "4"])
def test_parallel_build(tmp_path: Any, monkeypatch: Any, threads: str) -> None:
    """The graph built on several inserting threads (4, more than this machine may have, so
    that they interleave) holds every item once and reaches the serial build's recall;
    a second drain mixing re-inserted (moved) vectors, which go in serially, with new
    items, which go in on the threads, keeps it right."""
    monkeypatch.setenv("KEEL_DB_HNSW_THREADS", threads)
    db, t, v, q = build(tmp_path / "p.keel")
    alive = np.ones(N, dtype=bool)
    assert recall(t, "euc", "EUCLIDEAN", v, q, alive) >= 0.95
    i = info(t, "euc")
    assert i["graph_items"] == N and i["graph_inserts"] == N
    rng = np.random.default_rng(7)
    extra = clustered(rng, 3000, v[rng.integers(0, N, 40)])
    v = np.concatenate([v, extra])
    alive = np.ones(len(v), dtype=bool)
    for j in range(0, 200):
        v[j] = q[j % len(q)] + 0.01 * j
    t.batch_write(puts=[{"p": j, "g": 0, "v": v[j]} for j in range(0, 200)])
    for s in range(N, len(v), 1000):
        t.batch_write(puts=[{"p": j, "g": 0, "v": v[j]} for j in range(s, s + 1000)])
    assert recall(t, "euc", "EUCLIDEAN", v, q, alive) >= 0.95
    i = info(t, "euc")
    assert i["graph_items"] == len(v) and i["graph_inserts"] == N + 3200
    db.close()


def test_small_table_is_exact(tmp_path: Any) -> None:
    db, t, v, q = build(tmp_path / "c.keel", n=500)
    for qi in q[:5]:
        a, b = t.search("cos", qi, K, ef=8), t.search("cos", qi, K)
        assert [(int(i["p"]), s) for i, s in a] == [(int(i["p"]), s) for i, s in b]
        del a, b
    assert info(t, "cos")["graph"] == "none"  # never needed
    got = [[h[1] for h in g] for g in t.search_batch("euc", q, K, ef=EF)]
    assert got == [[h[1] for h in g] for g in t.search_batch("euc", q, K)]
    db.close()


def test_bad_parameters(tmp_path: Any) -> None:
    db = keeldb.Database(str(tmp_path / "d.keel"))
    t = db.create_table("tbl", partition_key=("p", "N"))
    with pytest.raises(keeldb.ValidationError, match="M 1"):
        t.add_vector_index("vec", "v", 4, m=1)
    with pytest.raises(keeldb.ValidationError, match="M 129"):
        t.add_vector_index("vec", "v", 4, m=129)
    with pytest.raises(keeldb.ValidationError, match="ef_construction"):
        t.add_vector_index("vec", "v", 4, ef_construction=5000)
    with pytest.raises(keeldb.ValidationError, match="m -1"):
        t.add_vector_index("vec", "v", 4, m=-1)
    with pytest.raises(TypeError, match="m must be an int"):
        t.add_vector_index("vec", "v", 4, m="16")
    t.add_vector_index("vec", "v", 4, m=8, ef_construction=64)
    q = np.ones(4, dtype=np.float32)
    with pytest.raises(keeldb.ValidationError, match="ef 4097"):
        t.search("vec", q, 3, ef=4097)
    with pytest.raises(ValueError, match="ef must be at least 1, not -1"):
        t.search("vec", q, 3, ef=-1)
    with pytest.raises(ValueError, match="ef must be at least 1, not 0"):
        t.search("vec", q, 3, ef=0)
    with pytest.raises(TypeError, match="ef must be an int"):
        t.search("vec", q, 3, ef=1.5)
    with pytest.raises(ValueError, match="contradict"):
        t.search("vec", q, 3, ef=10, exact=True)
    assert t.search("vec", q, 3, ef=10) == []
    db.close()
