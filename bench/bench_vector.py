"""Vector search benchmark: keel's exact search against numpy brute force and faiss IndexFlat,
its batch form against faiss's, and keel's approximate search (its HNSW graph, ef swept)
against the approximate peers at recall@10 >= 0.95: hnswlib, faiss HNSW, usearch; build
time, memory, and keel's open time with and without the graph's checkpoint.

    .venv/bin/python bench/bench_vector.py [--n 100000] [--dims 128 768] [--queries 200]

Data: `n` vectors in 100 Gaussian clusters (fixed seed 42), float32; queries drawn the same
way. Distance: EUCLIDEAN (k = 10). Every figure is the median of 3 runs in this process.
"Scan GB/s" is the vector bytes one exact query reads divided by its time; "memory read"
is numpy summing the same bytes (a plain sequential read) for comparison.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from typing import Any, Callable, Dict, List

import numpy as np

import keeldb


def clustered(n: int, d: int, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((100, d)).astype(np.float32) * 4
    return (centers[rng.integers(0, 100, n)] + rng.standard_normal((n, d))).astype(np.float32)


def med(fn: Callable[[], Any], runs: int = 3) -> float:
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def recall(found: Any, truth: Any) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def sweep(search: Callable[[int], Any], truth: Any, nq: int,
          efs: List[int] = [16, 32, 64, 128, 256, 512, 1024]) -> str:
    """QPS at the smallest ef (of efs) whose recall@10 reaches 0.95 (median of 3 runs)."""
    for ef in efs:
        r = recall(search(ef), truth)
        if r >= 0.95:
            tt = med(lambda: search(ef))
            return f"{nq / tt:.0f} QPS (ef {ef}, recall {r:.3f})"
    return "recall < 0.95"


def keel_ann(path: str, t: Any, d: int, q: Any, truth: Any, k: int, row: Dict[str, Any]) -> Any:
    """keel's approximate search on index "euc" (M 16, ef_construction 200, as hnswlib's):
    the first approximate search builds the graph (both cores); close writes its checkpoint;
    a reopen loads it. Returns the reopened table (and keeps its database open)."""
    rss0 = rss_mb()
    t0 = time.perf_counter()
    t.search("euc", q[0], k, ef=64, projection="p")
    row["keel HNSW build s"] = time.perf_counter() - t0
    info = next(x for x in t.vector_indexes() if x["name"] == "euc")
    row["keel graph MB"] = info["graph_bytes"] / 2**20
    row["keel build RSS +MB"] = rss_mb() - rss0

    def ks(ef: int) -> Any:
        return [[it["p"] for it, _ in t.search("euc", v, k, ef=ef, projection="p")] for v in q]

    row["keel HNSW"] = sweep(ks, truth, len(q))
    db = t.database
    t0 = time.perf_counter()
    db.close()
    row["keel close (checkpoint) s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    db = keeldb.Database(path)
    t = db.table("vec")
    row["keel reopen (checkpoint) s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    t.search("euc", q[0], k, ef=64, projection="p")
    row["keel 1st ANN query after reopen s"] = time.perf_counter() - t0
    info = next(x for x in t.vector_indexes() if x["name"] == "euc")
    row["keel graph after reopen"] = f"{info['graph']} ({info['graph_inserts']} inserted)"
    return t


def bench(n: int, d: int, nq: int, out: List[str], ann: bool = True) -> None:
    import faiss

    x = clustered(n, d, 42)
    q = clustered(nq, d, 7)
    k = 10
    row: Dict[str, Any] = {"n": n, "d": d}
    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "v.keel")
    db = keeldb.Database(path)
    t = db.create_table("vec", partition_key=("p", "N"))
    t0 = time.perf_counter()
    step = 1000
    for i in range(0, n, step):
        t.batch_write([{"p": j, "v": x[j]} for j in range(i, min(n, i + step))])
    row["load s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    t.add_vector_index("euc", "v", d, "EUCLIDEAN")
    row["index build s"] = time.perf_counter() - t0
    db.close()
    t0 = time.perf_counter()
    db = keeldb.Database(path)
    t = db.table("vec")
    row["reopen s"] = time.perf_counter() - t0

    # ground truth and the brute-force peers
    fl = faiss.IndexFlatL2(d)
    fl.add(x)
    _, truth = fl.search(q, k)

    def keel_one() -> None:
        for v in q:
            t.search("euc", v, k, projection="p")

    def numpy_one() -> None:
        xx = (x * x).sum(1)
        for v in q:
            dist = xx - 2 * (x @ v)
            np.argpartition(dist, k)[:k]

    def faiss_one() -> None:
        for v in q:
            fl.search(v[None, :], k)

    got = [[it["p"] for it, _ in t.search("euc", v, k, projection="p")] for v in q]
    row["keel recall@10"] = recall(got, truth)
    tk, tn, tf = med(keel_one), med(numpy_one), med(faiss_one)
    row["keel QPS"], row["numpy QPS"], row["faiss Flat QPS"] = nq / tk, nq / tn, nq / tf
    scan_bytes = n * d * 4
    row["keel scan GB/s"] = scan_bytes * nq / tk / 1e9
    tr = med(lambda: [x.sum(dtype=np.float32) for _ in range(10)]) / 10
    row["memory read GB/s"] = scan_bytes / tr / 1e9
    # batch of queries
    qb = clustered(1000, d, 9)
    tkb = med(lambda: t.search_batch("euc", qb, k, projection="p"), 1)
    tfb = med(lambda: fl.search(qb, k), 1)
    row["keel batch1000 QPS"], row["faiss batch1000 QPS"] = 1000 / tkb, 1000 / tfb
    if ann:
        t = keel_ann(path, t, d, q, truth, k, row)
        db = t.database
    db.close()
    os.unlink(path)

    if not ann:
        for key, val in row.items():
            print(f"{key:24s} {val:.3f}" if isinstance(val, float) else f"{key:24s} {val}")
        return
    # approximate peers, each one query per call like keel's search above
    import hnswlib
    from usearch.index import Index as UIndex

    rss0 = rss_mb()
    t0 = time.perf_counter()
    h = hnswlib.Index(space="l2", dim=d)
    h.init_index(max_elements=n, M=16, ef_construction=200)
    h.add_items(x)
    row["hnswlib build s"] = time.perf_counter() - t0
    row["hnswlib build RSS +MB"] = rss_mb() - rss0

    def hs(ef: int) -> Any:
        h.set_ef(ef)
        return [h.knn_query(v, k)[0][0] for v in q]

    row["hnswlib"] = sweep(hs, truth, nq)
    rss0 = rss_mb()
    t0 = time.perf_counter()
    fh = faiss.IndexHNSWFlat(d, 32)
    fh.hnsw.efConstruction = 40
    fh.add(x)
    row["faiss HNSW build s"] = time.perf_counter() - t0
    row["faiss HNSW build RSS +MB"] = rss_mb() - rss0

    def fs(ef: int) -> Any:
        fh.hnsw.efSearch = ef
        return [fh.search(v[None, :], k)[1][0] for v in q]

    row["faiss HNSW"] = sweep(fs, truth, nq)
    rss0 = rss_mb()
    t0 = time.perf_counter()
    u = UIndex(ndim=d, metric="l2sq", connectivity=16, expansion_add=128)
    u.add(np.arange(n), x)
    row["usearch build s"] = time.perf_counter() - t0
    row["usearch build RSS +MB"] = rss_mb() - rss0

    def us(ef: int) -> Any:
        u.expansion_search = ef
        return [u.search(v, k).keys for v in q]

    row["usearch"] = sweep(us, truth, nq)
    row["rss MB"] = rss_mb()
    for key, val in row.items():
        line = f"{key:24s} {val:.3f}" if isinstance(val, float) else f"{key:24s} {val}"
        print(line, flush=True)
        out.append(line)
    print(flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dims", type=int, nargs="+", default=[128, 768])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--no-ann", action="store_true", help="skip the approximate peers")
    a = ap.parse_args()
    print(f"cpus: {os.cpu_count()}; load: {os.getloadavg()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    out: List[str] = []
    for d in a.dims:
        bench(a.n, d, a.queries, out, not a.no_ann)


if __name__ == "__main__":
    main()
