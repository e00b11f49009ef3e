"""How tests/data/hnsw-v1.keel was made (test_db_vector_hnsw.py::test_version1_checkpoint):
run with keeldb built from main at 61b3d04 (checkpoint version 1), as
    KEEL_DB_HNSW_MIN_ITEMS=10 python tests/data/make_hnsw_v1.py tests/data/hnsw-v1.keel
A later build writes version 2 checkpoints, so running it again would not make the same file."""
import os, sys
import numpy as np
import keeldb
path = sys.argv[1]
rng = np.random.default_rng(14)
n, d = 160, 8
v = (np.round(rng.standard_normal((n, d)) * 16) / 16).astype(np.float32)
v[:, 0] *= np.linspace(0.5, 3, n).astype(np.float32)  # norms differ
db = keeldb.Database.create(path)
t = db.create_table("tbl", partition_key=("p", "N"), vector_indexes=[
    {"name": "dot", "attribute": "v", "dimensions": d, "distance": "DOT_PRODUCT", "m": 8, "ef_construction": 64},
    {"name": "euc", "attribute": "v", "dimensions": d, "distance": "EUCLIDEAN", "m": 8, "ef_construction": 64},
    {"name": "cos", "attribute": "v", "dimensions": d, "distance": "COSINE", "m": 8, "ef_construction": 64},
])
t.batch_write(puts=[{"p": i, "v": v[i]} for i in range(n)])
for ix in ("dot", "euc", "cos"):
    t.search(ix, v[0], 5, ef=32)
for i in range(10):
    t.delete_item({"p": i})
for ix in ("dot", "euc", "cos"):
    t.search(ix, v[20], 5, ef=32)
print([(x["name"], x["graph"], x["graph_items"]) for x in t.vector_indexes()])
db.close()
