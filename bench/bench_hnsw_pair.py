"""keel's approximate search against hnswlib, interleaved: both indexes are built in one
process over the same data (100 Gaussian clusters, fixed seed 42; queries drawn from the
same clusters), EUCLIDEAN, k 10, M 16, ef_construction 200, one thread each for the build,
then for each ef the 200 queries run through keel and through hnswlib alternately, 5
times, and the medians are compared. Interleaving is what makes the ratio meaningful on a
shared, loaded machine (docs/ARCHITECTURE.md "Approximate vector search" has the figures).
Also: keel's open time with the graph's checkpoint.

    .venv/bin/python bench/bench_hnsw_pair.py N DIMS EF[,EF...]     e.g. 100000 128 128,512
"""
import time, os, tempfile, numpy as np, keeldb, hnswlib, statistics, sys, faiss
os.environ.setdefault("KEEL_DB_HNSW_THREADS", "1")  # keel's build on one thread too (its default: one per CPU)
n, d = int(sys.argv[1]), int(sys.argv[2]); efs = [int(e) for e in sys.argv[3].split(",")]
rng = np.random.default_rng(42)
c = rng.standard_normal((100, d)).astype(np.float32) * 4
x = (c[rng.integers(0, 100, n)] + rng.standard_normal((n, d))).astype(np.float32)
q = (c[rng.integers(0, 100, 200)] + rng.standard_normal((200, d))).astype(np.float32)
fl = faiss.IndexFlatL2(d); fl.add(x); _, truth = fl.search(q, 10)
def rec(found): return np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)])
p = os.path.join(tempfile.mkdtemp(), "m.keel")
db = keeldb.Database(p); t = db.create_table("vec", partition_key=("p", "N"))
for i in range(0, n, 1000): t.batch_write([{"p": j, "v": x[j]} for j in range(i, min(n, i+1000))])
t.add_vector_index("euc", "v", d, "EUCLIDEAN")
t0=time.perf_counter(); t.search("euc", q[0], 10, ef=64, projection="p"); kb = time.perf_counter()-t0
gi = t.vector_indexes()[0]
h = hnswlib.Index(space="l2", dim=d); h.init_index(max_elements=n, M=16, ef_construction=200)
t0=time.perf_counter(); h.add_items(x, num_threads=1); hb1 = time.perf_counter()-t0
print(f"n {n} d {d}: build keel {kb:.1f}s (1 thread), hnswlib {hb1:.1f}s (1 thread); keel graph {gi['graph_bytes']/2**20:.1f} MB", flush=True)
db.close(); t0=time.perf_counter(); db = keeldb.Database(p); t = db.table("vec"); ro = time.perf_counter()-t0
t.search("euc", q[0], 10, ef=64, projection="p"); print(f"reopen with checkpoint {ro:.3f}s, graph {t.vector_indexes()[0]['graph']}, inserted {t.vector_indexes()[0]['graph_inserts']}", flush=True)
for ef in efs:
    h.set_ef(ef)
    kr = rec([[it["p"] for it, _ in t.search("euc", v, 10, ef=ef, projection="p")] for v in q])
    hr = rec([h.knn_query(v, 10)[0][0] for v in q])
    rk, rh = [], []
    for rep in range(5):
        t0=time.perf_counter()
        for v in q: t.search("euc", v, 10, ef=ef, projection="p")
        rk.append(time.perf_counter()-t0)
        t0=time.perf_counter()
        for v in q: h.knn_query(v, 10)
        rh.append(time.perf_counter()-t0)
    k, hh = statistics.median(rk), statistics.median(rh)
    print(f"ef {ef}: keel {200/k:.0f} QPS recall {kr:.3f} | hnswlib {200/hh:.0f} QPS recall {hr:.3f} | ratio {hh/k:.2f}", flush=True)
print("load", os.getloadavg())
