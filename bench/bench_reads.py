"""Random single-key reads on small and mid-size stores: keeldb against simd_r_drive.

    .venv/bin/python bench/bench_reads.py [--sizes 10000,100000,1000000] [--reps 3]

For each size, each engine builds its store in its own process (16-byte keys from a fixed
seed, 100-byte values, written in batches of 1000), reopens it, reads every key once
(untimed, so both start warm), then times `read(key)` over the keys in a fixed random order
(at least 1,000,000 calls, several passes on small stores). The repetitions are interleaved
across engines and sizes, each in a fresh process, and the median is reported as ns per call
together with the ratio keel/peer of the rates (> 1: keel is faster), all from one run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

KEY_LEN, VAL_LEN, BATCH, MIN_CALLS = 16, 100, 1000, 1_000_000


def worker(engine: str, n: int, path: str) -> float:
    if engine == "keeldb":
        import keeldb

        def open_store():  # type: ignore[no-untyped-def]
            return keeldb.DataStore(path)
    else:
        import simd_r_drive

        def open_store():  # type: ignore[no-untyped-def]
            return simd_r_drive.DataStore(path)
    blob = random.Random(42).randbytes(KEY_LEN * n)
    keys = [blob[i:i + KEY_LEN] for i in range(0, KEY_LEN * n, KEY_LEN)]
    vals = random.Random(7).randbytes(VAL_LEN * 64)
    s = open_store()
    for b in range(0, n, BATCH):
        s.batch_write([(keys[i], vals[(i % 64) * VAL_LEN:(i % 64 + 1) * VAL_LEN])
                       for i in range(b, min(n, b + BATCH))])
    del s
    s = open_store()
    read = s.read
    for k in keys:  # warm: every key once, untimed
        read(k)
    order = keys[:]
    random.Random(3).shuffle(order)
    passes = max(1, -(-MIN_CALLS // n))
    calls = order * passes
    t0 = time.perf_counter()
    for k in calls:
        read(k)
    dt = time.perf_counter() - t0
    return dt / len(calls) * 1e9


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10000,100000,1000000")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--worker", nargs=3, metavar=("ENGINE", "N", "PATH"), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        engine, n, path = a.worker
        print(json.dumps(worker(engine, int(n), path)))
        return 0
    sizes = [int(x) for x in a.sizes.split(",")]
    engines = ["keeldb", "simd_r_drive"]
    ns: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="keel-bench-reads-") as tmp:
        for rep in range(a.reps):
            for n in sizes:
                for e in engines:
                    path = os.path.join(tmp, f"{e}-{n}-{rep}.db")
                    out = subprocess.run([sys.executable, __file__, "--worker", e, str(n), path],
                                         check=True, capture_output=True, text=True)
                    ns.setdefault((e, n), []).append(json.loads(out.stdout))
                    os.unlink(path)
                    print(f"rep {rep + 1} {e} {n}: {ns[(e, n)][-1]:.0f} ns", file=sys.stderr)
    print(f"random read, ns per call (median of {a.reps}); ratio = keel rate / simd_r_drive rate")
    print("| keys | keeldb | simd_r_drive | ratio |")
    print("|---:|---:|---:|---:|")
    for n in sizes:
        k = statistics.median(ns[("keeldb", n)])
        s = statistics.median(ns[("simd_r_drive", n)])
        print(f"| {n:,} | {k:.0f} | {s:.0f} | {s / k:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
