"""keel's benchmark harness (run it as ``python -m bench``; see bench/__main__.py).

keeldb.DataStore against simd_r_drive, lmdb, rocksdict, sqlite3 and a plain dict, on the
workloads of issue 4, each engine in its own subprocess.
"""
