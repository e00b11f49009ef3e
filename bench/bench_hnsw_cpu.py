"""keel's approximate search against hnswlib in CPU time, for a shared machine: both graphs
are built once on one thread each (the same data, seed and insertion order, so nearly the
same graph; M 16, ef_construction 200) and kept in bench/data/hnsw-cpu/NxD/ (gitignored:
keel's file with its graph checkpoint, hnswlib's saved index), then 200 queries go through
keel (`Table.search(..., ef=EF, projection="p")`) and hnswlib (`knn_query`) alternately,
REPS rounds, and each round is timed in the calling thread's CPU seconds
(`time.thread_time`: both searches run on that thread), so time spent waiting for a core
on a loaded machine does not count. Prints the medians and keel / hnswlib in QPS.

Data: 100 Gaussian clusters (centers N(0, 4^2), unit noise, seed 42), queries from the
same clusters; EUCLIDEAN, k 10.

    .venv/bin/python bench/bench_hnsw_cpu.py N DIMS EF [pair|keel|hnswlib] [REPS]

`keel` and `hnswlib` run only that library's loop REPS times, for a profiler:
`perf record -e cpu-clock -g .venv/bin/python bench/bench_hnsw_cpu.py 20000 768 64 keel 150`.
"""
import os
import statistics
import sys
import time

import hnswlib
import numpy as np

import keeldb

os.environ.setdefault("KEEL_DB_HNSW_THREADS", "1")  # keel's build on one thread, like hnswlib's
n, d, ef = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
mode = sys.argv[4] if len(sys.argv) > 4 else "pair"
reps = int(sys.argv[5]) if len(sys.argv) > 5 else 5
cache = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "hnsw-cpu", f"{n}x{d}")
os.makedirs(cache, exist_ok=True)
rng = np.random.default_rng(42)
c = rng.standard_normal((100, d)).astype(np.float32) * 4
x = (c[rng.integers(0, 100, n)] + rng.standard_normal((n, d))).astype(np.float32)
q = (c[rng.integers(0, 100, 200)] + rng.standard_normal((200, d))).astype(np.float32)
kp, hp = os.path.join(cache, "m.keel"), os.path.join(cache, "h.bin")
if not os.path.exists(hp):
    for p in (kp, hp):
        if os.path.exists(p):
            os.unlink(p)
    db = keeldb.Database(kp)
    t = db.create_table("vec", partition_key=("p", "N"))
    for i in range(0, n, 1000):
        t.batch_write([{"p": j, "v": x[j]} for j in range(i, min(n, i + 1000))])
    t.add_vector_index("euc", "v", d, "EUCLIDEAN")
    t.search("euc", q[0], 10, ef=64, projection="p")  # builds the graph
    db.close()  # writes its checkpoint
    h = hnswlib.Index(space="l2", dim=d)
    h.init_index(max_elements=n, M=16, ef_construction=200)
    h.add_items(x, num_threads=1)
    h.save_index(hp + ".tmp")
    os.rename(hp + ".tmp", hp)
db = keeldb.Database(kp)
t = db.table("vec")
h = hnswlib.Index(space="l2", dim=d)
h.load_index(hp, max_elements=n)
h.set_ef(ef)
t.search("euc", q[0], 10, ef=ef, projection="p")
graph = t.vector_indexes()[0]["graph"]


def keel_loop() -> None:
    for v in q:
        t.search("euc", v, 10, ef=ef, projection="p")


def hnswlib_loop() -> None:
    for v in q:
        h.knn_query(v, 10)


if mode == "pair":
    rk, rh = [], []
    for _ in range(reps):
        t0 = time.thread_time()
        keel_loop()
        rk.append(time.thread_time() - t0)
        t0 = time.thread_time()
        hnswlib_loop()
        rh.append(time.thread_time() - t0)
    k, hh = statistics.median(rk), statistics.median(rh)
    print(f"n {n} d {d} ef {ef} (keel graph {graph}): keel {k / len(q) * 1e6:.0f} us CPU a query, "
          f"hnswlib {hh / len(q) * 1e6:.0f}; keel / hnswlib QPS {hh / k:.3f}; "
          f"load {os.getloadavg()[0]:.1f}")
elif mode == "keel":
    for _ in range(reps):
        keel_loop()
elif mode == "hnswlib":
    for _ in range(reps):
        hnswlib_loop()
else:
    sys.exit(f"mode {mode!r}: pair, keel or hnswlib")
db.close()
