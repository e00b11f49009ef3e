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
MOVED_RECALL = 0.92  # test_dot_product_recall after items move far away (see there)


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
    with pytest.raises(keeldb.ValidationError, match="m 1: it must be between 2 and 128"):
        t.add_vector_index("vec", "v", 4, m=1)
    with pytest.raises(keeldb.ValidationError, match="m 129"):
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


def mips_data(n: int = N) -> tuple:
    """DOT_PRODUCT's hard case: 40 clusters whose norms differ tenfold (scales 0.3..3), 32
    dimensions, queries drawn around 20 other centers (unlike the items). hnswlib's plain
    inner-product graph reached recall@10 0.85 at ef 128 on it (0.91 at ef 256)."""
    rng = np.random.default_rng(2024)
    d = 32
    centers = rng.uniform(-1, 1, (40, d))
    scale = rng.uniform(0.3, 3.0, 40)[:, None]
    lab = rng.integers(0, 40, n)
    v = ((centers[lab] + 0.2 * rng.standard_normal((n, d))) * scale[lab]).astype(np.float32)
    qc = rng.uniform(-1, 1, (20, d))
    q = (qc[rng.integers(0, 20, 30)] + 0.2 * rng.standard_normal((30, d))).astype(np.float32)
    return v, q


def test_dot_product_recall(tmp_path: Any) -> None:
    """DOT_PRODUCT's graph is built by angle and searched by inner product (vec_hnsw.c):
    recall@10 >= 0.95 at the same beam as COSINE and EUCLIDEAN, on data whose norms differ;
    the scores are the exact path's (the dot product, largest first), to the bit; writes,
    longer vectors than any before, and the checkpoint (reopen) keep it."""
    v, q = mips_data()
    db = keeldb.Database(str(tmp_path / "m.keel"))
    t = db.create_table("tbl", partition_key=("p", "N"), vector_indexes=[
        {"name": "dot", "attribute": "v", "dimensions": 32, "distance": "DOT_PRODUCT"}])
    for s in range(0, N, 1000):
        t.batch_write(puts=[{"p": i, "v": v[i]} for i in range(s, s + 1000)])
    alive = np.ones(N, dtype=bool)
    assert recall(t, "dot", "DOT_PRODUCT", v, q, alive) >= 0.95
    assert info(t, "dot")["graph"] == "built" and info(t, "dot")["graph_items"] == N
    for qi in q[:5]:  # the same numbers and order as the exact search
        got = t.search("dot", qi, K, ef=EF, projection="p")
        exact = dict((int(i["p"]), s) for i, s in t.search("dot", qi, K, exact=True, projection="p"))
        scores_ = [s for _, s in got]
        assert scores_ == sorted(scores_, reverse=True)
        for item, score in got:
            if int(item["p"]) in exact:
                assert score == exact[int(item["p"])]
    # deletions, and vectors four times longer than the longest query's neighbours
    for i in range(300):
        t.delete_item({"p": i})
        alive[i] = False
    for j, i in enumerate(range(300, 330)):
        v[i] = 4 * q[j % len(q)]
        t.put_item({"p": i, "v": v[i]})
    # The 30 moved items jumped into a region with no other items: 0.947-0.963 at this beam
    # over drain threads 1-8 and CPUs (0.97 at ef 256). The misses are only moved items, and
    # not because they are relinked in place: outliers inserted into a built graph keep few
    # in-links however they go in (a fresh node, new keys, or last in one build: 0.95-0.98;
    # first in one build, as a rebuild happens to insert them: 0.993-0.997; ARCHITECTURE.md
    # "Points that move far"). The bound leaves room for the graph's run-to-run spread.
    assert recall(t, "dot", "DOT_PRODUCT", v, q, alive) >= MOVED_RECALL
    top = t.search("dot", q[0], 1, ef=EF, projection="p")
    assert int(top[0][0]["p"]) in range(300, 330)
    db.close()
    db = keeldb.Database(str(tmp_path / "m.keel"))
    t = db.table("tbl")
    assert info(t, "dot")["graph"] == "loaded"
    assert recall(t, "dot", "DOT_PRODUCT", v, q, alive) >= MOVED_RECALL
    i = info(t, "dot")
    assert i["graph"] == "loaded" and i["graph_inserts"] == 0 and i["graph_items"] == N - 300
    db.close()


_V1_CHECK = r"""
import json, shutil, sys
import numpy as np
import keeldb
path = sys.argv[1]
db = keeldb.Database(path)
t = db.table("tbl")
out = {"open": {x["name"]: x["graph"] for x in t.vector_indexes()}}
got = {}
for ix in ("dot", "euc", "cos"):
    rows = [np.array(it["v"]) for it, _ in t.search(ix, np.ones(8, np.float32), 100, exact=True)]
    same = True
    for r in rows[:40]:
        a = [(int(i["p"]), s) for i, s in t.search(ix, r, 10, ef=256, projection="p")]
        b = [(int(i["p"]), s) for i, s in t.search(ix, r, 10, exact=True, projection="p")]
        same = same and a == b
    got[ix] = same
    del rows
out["same"] = got
out["searched"] = {x["name"]: (x["graph"], x["graph_inserts"]) for x in t.vector_indexes()}
db.close()
db = keeldb.Database(path)
t = db.table("tbl")
out["reopen"] = {x["name"]: x["graph"] for x in t.vector_indexes()}
db.close()
print(json.dumps(out))
"""


def test_version1_checkpoint(tmp_path: Any) -> None:
    """tests/data/hnsw-v1.keel was written by the build before DOT_PRODUCT's graph changed
    (main at 61b3d04, checkpoint version 1): 160 items of 8 dimensions (10 then deleted),
    indexes dot (DOT_PRODUCT), euc and cos, each graph built and checkpointed. This build
    loads the version 1 COSINE and EUCLIDEAN graphs as they are, never loads the version 1
    DOT_PRODUCT graph (an inner-product graph over raw vectors: it is rebuilt from the
    items), answers every search as the exact path does, and writes the rebuilt graph as
    version 2, which the next open loads. Run in a child process: the size below which
    searches scan exactly is read once per process (KEEL_DB_HNSW_MIN_ITEMS)."""
    import json
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "data" / "hnsw-v1.keel"
    path = tmp_path / "v1.keel"
    shutil.copyfile(src, path)
    raw = path.read_bytes()
    at = [i for i in range(len(raw)) if raw.startswith(b"KEELHNSW", i)]
    assert len(at) == 3 and all(raw[i + 8] == 1 for i in at)  # three version 1 checkpoints
    env = dict(os.environ, KEEL_DB_HNSW_MIN_ITEMS="10")
    r = subprocess.run([sys.executable, "-c", _V1_CHECK, str(path)], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["open"] == {"dot": "none", "euc": "loaded", "cos": "loaded"}
    assert out["same"] == {"dot": True, "euc": True, "cos": True}
    assert out["searched"]["dot"] == ["built", 150]
    assert out["searched"]["euc"] == ["loaded", 0] and out["searched"]["cos"] == ["loaded", 0]
    assert out["reopen"] == {"dot": "loaded", "euc": "loaded", "cos": "loaded"}
    raw = path.read_bytes()
    versions = sorted(raw[i + 8] for i in range(len(raw)) if raw.startswith(b"KEELHNSW", i))
    assert versions[-1] == 2  # the rebuilt DOT_PRODUCT graph's checkpoint
