"""Vector search benchmark: keel's exact search against numpy brute force and faiss IndexFlat
(one query per call, and a batch of 1,000), its scan rate against a plain read of the same
memory, and keel's approximate search (its HNSW graph) against hnswlib, faiss HNSW and
usearch at recall@10 >= 0.95, with build time and memory.

    nice .venv/bin/python bench/bench_vector.py --n 100000 --dims 128 [--no-ann] [--no-exact]

Data: `n` vectors in 100 Gaussian clusters (centers N(0, 4^2), unit noise; seed 42),
float32; the queries are drawn from the same clusters (seed 7 picks the clusters and the
noise). Distance EUCLIDEAN, k = 10. Ground truth: faiss IndexFlatL2.

Exact: every figure is the median of `--runs` rounds in which keel, numpy and faiss run
one after the other (interleaved, so a change in the machine's load hits all three).
"Scan" rates count the vector bytes; three plain reads (numpy summing the bytes as int32, on
one thread per CPU like keel's scan) are the
references: the keel file's own mapping (the same page-cache pages the scan streams, the
same 4 KB page-table entries), an anonymous copy of the vectors on 4 KB pages, and one on
transparent huge pages (what numpy gives a large array; the two copies only up to 1 GiB
of vectors). The scan streams the items' keys
and headers too, so "vector bytes / file bytes" bounds "vector GB/s / file read GB/s".

Approximate: every library builds with M 16 and ef_construction 200 (faiss: efConstruction
200; usearch: connectivity 16, expansion_add 200) on `--threads` threads (keel: the
KEEL_DB_HNSW_THREADS environment variable); then for each library the smallest ef of the
sweep reaching recall@10 0.95 is found, and the libraries are timed at those efs one
query per call, interleaved, `--runs` rounds, medians. Memory: the process's RSS growth
over the build (the vectors the library copies plus its links) and keel's own estimate;
time: wall seconds and the process's CPU seconds (on a shared machine the CPU seconds are
the steadier figure).

`--cache DIR` (e.g. bench/data, gitignored) keeps what is slow to make at 1M vectors in
DIR/vec-NxD/: the vectors, queries and ground truth (.npy), the keel file (with its graph
checkpoint once built) and each peer's saved index, with the build figures in build.json.
A later run with the same n and d reuses them and reports the cached build figures: a
1M-vector graph build takes 10-20 minutes per library on a loaded 2-core machine.
"""
from __future__ import annotations

import argparse
import json
import mmap
import os
import statistics
import subprocess
import tempfile
import time
from typing import Any, Callable, Dict, List, Tuple

import numpy as np

import keeldb

EFS = [16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024]


def clustered(n: int, d: int, seed: int, centers: Any) -> Any:
    """float32 rows, generated 64k rows at a time: the same values as drawing all the noise
    at once (the generator fills in sequence), without a float64 temporary of n x d (6 GB
    at 1M x 768)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(centers), n)
    out = np.empty((n, d), dtype=np.float32)
    for i in range(0, n, 1 << 16):
        j = min(n, i + (1 << 16))
        out[i:j] = centers[idx[i:j]] + rng.standard_normal((j - i, d))
    return out


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def timed_build(fn: Callable[[], Any], row: Dict[str, Any], name: str) -> None:
    """Build with fn, recording wall seconds, process CPU seconds and RSS growth."""
    rss0, c0, t0 = rss_mb(), time.process_time(), time.perf_counter()
    fn()
    row[f"{name} build s"] = time.perf_counter() - t0
    row[f"{name} build CPU s"] = time.process_time() - c0
    row[f"{name} build RSS +MB"] = rss_mb() - rss0


class Cache:
    """DIR/vec-NxD/: arrays, the keel file, peers' indexes and build.json (see the module
    docstring); without a directory every file lives in a fresh temporary one and is
    removed at the end."""

    def __init__(self, root: Any, n: int, d: int, tmp: Any) -> None:
        self.keep = root is not None
        self.dir = os.path.join(root, f"vec-{n}x{d}") if root else tempfile.mkdtemp(dir=tmp)
        os.makedirs(self.dir, exist_ok=True)
        self.meta: Dict[str, Any] = {}
        self.load_meta()

    def load_meta(self) -> None:
        """build.json and one build.LIBRARY.json per library (separate files: builds may run
        in parallel processes, see --build-only)."""
        if not self.keep:
            return
        for f in sorted(os.listdir(self.dir)):
            if f.startswith("build") and f.endswith(".json"):
                with open(self.path(f)) as fh:
                    self.meta.update(json.load(fh))

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def has(self, name: str) -> bool:
        return self.keep and os.path.exists(self.path(name))

    def array(self, name: str, make: Callable[[], Any]) -> Any:
        if self.has(name + ".npy"):
            return np.load(self.path(name + ".npy"))
        a = make()
        if self.keep:
            np.save(self.path(name + ".npy"), a)
        return a

    def record(self, row: Dict[str, Any], prefix: str) -> None:
        """Save the row's figures starting with prefix (a fresh build's) to
        build.PREFIX.json."""
        mine = {k: v for k, v in row.items() if k.startswith(prefix)}
        self.meta.update(mine)
        if self.keep:
            tmp = self.path(f"build.{prefix.replace(' ', '_')}.json.tmp")
            with open(tmp, "w") as f:
                json.dump(mine, f, indent=1)
            os.rename(tmp, tmp[:-4])

    def replay(self, row: Dict[str, Any], prefix: str) -> None:
        for k, v in self.meta.items():
            if k.startswith(prefix):
                row[k + " (cached)"] = v

    def close(self) -> None:
        if not self.keep:
            for f in os.listdir(self.dir):
                os.unlink(self.path(f))
            os.rmdir(self.dir)


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def recall(found: Any, truth: Any) -> float:
    return float(np.mean([len(set(map(int, f)) & set(map(int, t))) / len(t) for f, t in zip(found, truth)]))


def hugepage(on: bool) -> None:
    np._core.multiarray._set_madvise_hugepage(on)


_POOL: Any = None


def isum(a: Any) -> Any:
    """A plain read: the bytes summed as int32 (wrapping), on as many threads as keel's
    scan uses (one per CPU; numpy releases the GIL), each over a contiguous share. Not a
    float sum: the file's bytes (keys, headers) read as floats include subnormals, which
    slow float adds down."""
    global _POOL
    from concurrent.futures import ThreadPoolExecutor

    nt = os.cpu_count() or 1
    if _POOL is None:
        _POOL = ThreadPoolExecutor(nt)
    v = a.view(np.int32)
    step = (len(v) + nt - 1) // nt
    return sum(int(x) for x in _POOL.map(lambda i: v[i:i + step].sum(dtype=np.int32), range(0, len(v), step)))


def interleaved(fns: Dict[str, Callable[[], Any]], runs: int) -> Dict[str, float]:
    """Median seconds of each function, the functions taking turns `runs` times."""
    ts: Dict[str, List[float]] = {k: [] for k in fns}
    for _ in range(runs):
        for k, f in fns.items():
            ts[k].append(timed(f))
    return {k: statistics.median(v) for k, v in ts.items()}


def load(cache: Cache, x: Any, d: int, row: Dict[str, Any]) -> Tuple[Any, Any]:
    path = cache.path("v.keel")
    if cache.has("v.keel") and "keel load s" in cache.meta:
        cache.replay(row, "keel load")
        cache.replay(row, "keel index")
        t0 = time.perf_counter()
        db = keeldb.Database(path)
        row["keel reopen s"] = time.perf_counter() - t0
        return db, db.table("vec")
    if os.path.exists(path):
        os.unlink(path)  # a load that did not finish
    db = keeldb.Database(path)
    t = db.create_table("vec", partition_key=("p", "N"))
    step = 1000
    row["keel load s"] = timed(lambda: [
        t.batch_write([{"p": j, "v": x[j]} for j in range(i, min(len(x), i + step))])
        for i in range(0, len(x), step)])
    row["keel index backfill s"] = timed(lambda: t.add_vector_index("euc", "v", d, "EUCLIDEAN"))
    db.close()
    cache.record(row, "keel load")
    cache.record(row, "keel index")
    t0 = time.perf_counter()
    db = keeldb.Database(path)
    row["keel reopen s"] = time.perf_counter() - t0
    return db, db.table("vec")


def exact(path: str, t: Any, x: Any, q: Any, truth: Any, k: int, runs: int,
          row: Dict[str, Any]) -> None:
    import faiss

    n, d = x.shape
    fl = faiss.IndexFlatL2(d)
    fl.add(x)
    xx = (x * x).sum(1)
    got = [[it["p"] for it, _ in t.search("euc", v, k, projection="p")] for v in q]
    row["keel recall@10 (exact)"] = recall(got, truth)

    def keel_one() -> None:
        for v in q:
            t.search("euc", v, k, projection="p")

    def numpy_one() -> None:
        for v in q:
            np.argpartition(xx - 2 * (x @ v), k)[:k]

    def faiss_one() -> None:
        for v in q:
            fl.search(v[None, :], k)

    # the plain reads: the keel file's mapping, anonymous 4 KB pages, anonymous huge pages
    fd = os.open(path, os.O_RDONLY)
    size = os.fstat(fd).st_size
    fm = mmap.mmap(fd, size, prot=mmap.PROT_READ)
    fa = np.frombuffer(fm, dtype=np.float32, count=size // 4)
    fns = {"keel": keel_one, "numpy": numpy_one, "faiss": faiss_one, "file read": lambda: isum(fa)}
    copies = x.nbytes <= 1 << 30  # two more copies of the vectors: only when small enough
    if copies:
        hugepage(False)
        x4 = x.copy()
        hugepage(True)
        x2 = x.copy()
        fns["4k read"] = lambda: isum(x4)
        fns["thp read"] = lambda: isum(x2)
    nq = len(q)
    m = interleaved(fns, runs)
    del fa
    fm.close()
    os.close(fd)
    vb = n * d * 4
    row["keel QPS"], row["numpy QPS"], row["faiss Flat QPS"] = nq / m["keel"], nq / m["numpy"], nq / m["faiss"]
    row["keel / faiss Flat"] = m["faiss"] / m["keel"]
    row["keel vector GB/s"] = vb * nq / m["keel"] / 1e9
    row["keel file GB/s"] = size * nq / m["keel"] / 1e9
    row["read: keel file GB/s"] = size / m["file read"] / 1e9
    row["vector bytes / file bytes"] = vb / size
    row["scan / file read (same bytes, same pages)"] = row["keel file GB/s"] / row["read: keel file GB/s"]
    if copies:
        row["read: anon 4K GB/s"] = vb / m["4k read"] / 1e9
        row["read: anon THP GB/s"] = vb / m["thp read"] / 1e9
        row["scan vectors / anon 4K read"] = row["keel vector GB/s"] / row["read: anon 4K GB/s"]
        row["scan vectors / anon THP read"] = row["keel vector GB/s"] / row["read: anon THP GB/s"]
        del x4, x2
    qb = clustered(1000, d, 9, x[:: max(1, n // 100)][:100])
    mb = interleaved({"keel": lambda: t.search_batch("euc", qb, k, projection="p"),
                      "faiss": lambda: fl.search(qb, k)}, runs)
    row["keel batch1000 QPS"], row["faiss batch1000 QPS"] = 1000 / mb["keel"], 1000 / mb["faiss"]
    row["batch keel / faiss"] = mb["faiss"] / mb["keel"]


def ann(cache: Cache, db: Any, t: Any, x: Any, q: Any, truth: Any, k: int, runs: int,
        threads: int, peers: List[str], row: Dict[str, Any], build_only: bool = False) -> Any:
    """Build (or load from the cache) keel's graph (unless db is None) and the peers', then,
    unless build_only, find each one's ef and time them."""
    import faiss
    import hnswlib
    from usearch.index import Index as UIndex

    n, d = x.shape
    os.environ["KEEL_DB_HNSW_THREADS"] = str(threads)
    faiss.omp_set_num_threads(threads)
    searchers: Dict[str, Callable[[int], Any]] = {}

    if db is not None:
        info = next(i for i in t.vector_indexes() if i["name"] == "euc")
        if info["graph"] == "loaded" and "keel build s" in cache.meta:
            cache.replay(row, "keel build")
            t.search("euc", q[0], k, ef=64, projection="p")
        else:
            timed_build(lambda: t.search("euc", q[0], k, ef=64, projection="p"), row, "keel")
            # the checkpoint: a later run loads the graph instead of building it
            db.close()
            db = keeldb.Database(cache.path("v.keel"))
            t = db.table("vec")
            t.search("euc", q[0], k, ef=64, projection="p")
            cache.record(row, "keel build")
        info = next(i for i in t.vector_indexes() if i["name"] == "euc")
        row["keel graph MB (estimate)"] = info["graph_bytes"] / 2**20
        searchers["keel"] = lambda ef: [[it["p"] for it, _ in t.search("euc", v, k, ef=ef, projection="p")] for v in q]

    if "hnswlib" in peers:
        h = hnswlib.Index(space="l2", dim=d)
        if cache.has("hnswlib.bin") and "hnswlib build s" in cache.meta:
            h.load_index(cache.path("hnswlib.bin"), max_elements=n)
            cache.replay(row, "hnswlib build")
        else:
            h.init_index(max_elements=n, M=16, ef_construction=200)
            timed_build(lambda: h.add_items(x, num_threads=threads), row, "hnswlib")
            if cache.keep:
                h.save_index(cache.path("hnswlib.bin"))
            cache.record(row, "hnswlib build")

        def hs(ef: int) -> Any:
            h.set_ef(ef)
            return [h.knn_query(v, k, num_threads=1)[0][0] for v in q]
        searchers["hnswlib"] = hs

    if "faiss" in peers:
        if cache.has("faiss.hnsw") and "faiss HNSW build s" in cache.meta:
            fh = faiss.read_index(cache.path("faiss.hnsw"))
            cache.replay(row, "faiss HNSW build")
        else:
            fh = faiss.IndexHNSWFlat(d, 16)
            fh.hnsw.efConstruction = 200
            timed_build(lambda: fh.add(x), row, "faiss HNSW")
            if cache.keep:
                faiss.write_index(fh, cache.path("faiss.hnsw"))
            cache.record(row, "faiss HNSW build")

        def fs(ef: int) -> Any:
            fh.hnsw.efSearch = ef
            return [fh.search(v[None, :], k)[1][0] for v in q]
        searchers["faiss HNSW"] = fs
    faiss.omp_set_num_threads(1)

    if "usearch" in peers:
        u = UIndex(ndim=d, metric="l2sq", connectivity=16, expansion_add=200)
        if cache.has("usearch.idx") and "usearch build s" in cache.meta:
            u.load(cache.path("usearch.idx"))
            cache.replay(row, "usearch build")
        else:
            timed_build(lambda: u.add(np.arange(n), x, threads=threads), row, "usearch")
            if cache.keep:
                u.save(cache.path("usearch.idx"))
            cache.record(row, "usearch build")

        def us(ef: int) -> Any:
            u.expansion_search = ef
            return [u.search(v, k, threads=1).keys for v in q]
        searchers["usearch"] = us

    if build_only:
        return db
    chosen: Dict[str, int] = {}
    for name, s in searchers.items():
        for ef in EFS:
            r = recall(s(ef), truth)
            if r >= 0.95:
                chosen[name] = ef
                row[f"{name} ef / recall"] = f"{ef} / {r:.3f}"
                break
        else:
            row[f"{name} ef / recall"] = f"recall < 0.95 at ef {EFS[-1]}"
    m = interleaved({name: (lambda s=searchers[name], ef=ef: s(ef)) for name, ef in chosen.items()}, runs)
    for name in chosen:
        row[f"ANN {name} QPS"] = len(q) / m[name]
    rates = [row[f"ANN {p} QPS"] for p in chosen if p != "keel"]
    if "keel" in chosen and rates:
        row["ANN keel / best peer"] = row["ANN keel QPS"] / max(rates)
    # keel against hnswlib at the same ef (the same graph parameters and search code)
    if "hnswlib" in chosen:
        ef = chosen["hnswlib"]
        mm = interleaved({"keel": lambda: searchers["keel"](ef),
                          "hnswlib": lambda: searchers["hnswlib"](ef)}, runs)
        row[f"at ef {ef}: keel / hnswlib QPS"] = mm["hnswlib"] / mm["keel"]
        row[f"at ef {ef}: keel recall"] = recall(searchers["keel"](ef), truth)
    db.close()
    t0 = time.perf_counter()
    db = keeldb.Database(cache.path("v.keel"))
    t = db.table("vec")
    t.search("euc", q[0], k, ef=64, projection="p")
    row["keel reopen + 1st ANN query s (checkpoint)"] = time.perf_counter() - t0
    info = next(i for i in t.vector_indexes() if i["name"] == "euc")
    row["keel graph after reopen"] = f"{info['graph']} ({info['graph_inserts']} inserted)"
    return db


class Row(dict):  # type: ignore[type-arg]
    """The figures of one run, each printed as it is measured (a long run shows progress)."""

    def __setitem__(self, key: str, val: Any) -> None:
        super().__setitem__(key, val)
        print(f"{key:44s} {val:.3f}" if isinstance(val, float) else f"{key:44s} {val}", flush=True)


def bench(a: Any, d: int) -> Dict[str, Any]:
    import faiss

    n, k = a.n, 10
    centers = np.random.default_rng(42).standard_normal((100, d)).astype(np.float32) * 4
    cache = Cache(a.cache, n, d, a.tmp)
    x = cache.array("x", lambda: clustered(n, d, 42, centers))
    q = cache.array(f"q{a.queries}", lambda: clustered(a.queries, d, 7, centers))
    row: Dict[str, Any] = Row()
    row["n"], row["d"], row["load average at start"] = n, d, os.getloadavg()[0]
    row["cache"] = cache.dir if cache.keep else "none"

    def ground_truth() -> Any:
        fl = faiss.IndexFlatL2(d)
        fl.add(x)
        return fl.search(q, k)[1]
    truth = cache.array(f"truth{a.queries}", ground_truth)
    if a.build_only is not None:
        db, t = load(cache, x, d, row) if "keel" in a.build_only else (None, None)
        db = ann(cache, db, t, x, q, truth, k, a.runs, a.threads,
                 [p for p in a.build_only if p != "keel"], row, build_only=True)
        if db is not None:
            db.close()
        return row
    db, t = load(cache, x, d, row)
    path = cache.path("v.keel")
    row["keel file MB"] = os.path.getsize(path) / 2**20
    if not a.no_exact:
        exact(path, t, x, q, truth, k, a.runs, row)
    if not a.no_ann:
        db = ann(cache, db, t, x, q, truth, k, a.runs, a.threads, a.peers, row)
    row["load average at end"] = os.getloadavg()[0]
    row["RSS MB"] = rss_mb()
    db.close()
    cache.close()
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dims", type=int, nargs="+", default=[128, 768])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2, help="build threads for every library")
    ap.add_argument("--tmp", default=None, help="directory for the keel file (without --cache)")
    ap.add_argument("--cache", default=None, help="keep data, keel file and peers' indexes in "
                    "CACHE/vec-NxD/ and reuse them (e.g. bench/data, gitignored)")
    ap.add_argument("--no-ann", action="store_true", help="skip the approximate search")
    ap.add_argument("--no-exact", action="store_true", help="skip the exact search")
    ap.add_argument("--peers", nargs="+", default=["hnswlib", "faiss", "usearch"],
                    help="approximate peers to build and time")
    ap.add_argument("--build-only", nargs="+", default=None, metavar="LIB",
                    help="with --cache: only build these (keel, hnswlib, faiss, usearch) into "
                    "the cache and exit; separate processes may build different ones at once")
    a = ap.parse_args()
    if a.build_only is not None and not a.cache:
        ap.error("--build-only needs --cache")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; cpus {os.cpu_count()}; "
          f"load {os.getloadavg()}; commit {commit}; kernels {keeldb.vector_kernels() if hasattr(keeldb, 'vector_kernels') else '?'}",
          flush=True)
    for d in a.dims:
        bench(a, d)
        print(flush=True)


if __name__ == "__main__":
    main()
