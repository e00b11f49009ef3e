"""keeldb on distributed engines: records/s through Ray Data (1 and 2 workers), Dask (2
worker processes) and Grain, against plain single-process loops on the same files.

Data (fixed seed): --files record files of --records records of --size random bytes each.
  ray/dask files   default group (65536 records per chunk, ArrayRecord footer): the
                   planner cuts them into --ranges record ranges
  grain files      group_size=1 (what array_record's data source asks for), a tenth of
                   the records, read by random index in a shuffled order

Measured, median of --runs runs after one warm-up run (engine start-up is not timed):
  plain loop         for r in RecordReader(p) over every file, one process
  plain + arrow      the same loop doing a read task's work: to_bytes() per record and one
                     pyarrow table per 65536 records (what keeldb.ray yields)
  ray, N workers     keeldb.ray.read_records(paths, override_num_blocks=ranges), rows
                     counted by a map_batches fused into the read tasks (only counts
                     travel to the driver, through iter_batches: Dataset.sum's aggregation
                     cost seconds of its own), in a fresh Ray session, ray.init(num_cpus=N)
  dask, 2 processes  keeldb.dask.read_records(...).count() on a LocalCluster of 2 processes
  grain sources      src[i] over shuffled indices: keeldb.grain.RecordsDataSource against
                     array_record's ArrayRecordDataSource; batched (_getitems /
                     __getitems__ of 256 indices); and through Grain's own pipeline
                     (MapDataset.source(src)[:20000].to_iter_dataset(), one process)
Per-record overhead of an adapter = 1/rate(adapter) - 1/rate(plain loop on the same files):
the sequential loop for Ray and Dask, RecordReader[i] in the same shuffled order for Grain.

Usage: python bench/bench_distributed.py [--records 1000000] [--files 4] [--size 100]
       [--runs 3] [--json | --markdown]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List

from keeldb import RecordReader, RecordWriter


def make_files(d: str, files: int, records: int, size: int, group: int) -> List[str]:
    rng = random.Random(20261205)
    paths = []
    for f in range(files):
        p = os.path.join(d, f"shard-{f}-g{group}.riegeli")
        with RecordWriter(p, array_record=True, group_size=group) as w:
            for _ in range(records):
                w.write_record(rng.randbytes(size))
        paths.append(p)
    return paths


def timed(fn: Callable[[], int], runs: int) -> Dict[str, float]:
    fn()                                    # warm-up (page cache, imports, workers)
    times, n = [], 0
    for _ in range(runs):
        t = time.perf_counter()
        n = fn()
        times.append(time.perf_counter() - t)
    med = statistics.median(times)
    return {"records": n, "seconds": med, "rate": n / med}


class Rows(dict):  # type: ignore[type-arg]
    """The result rows, each reported on stderr as soon as it is measured."""

    def __setitem__(self, name: str, r: Dict[str, float]) -> None:
        print(f"{name}: {r['rate']:,.0f} records/s", file=sys.stderr, flush=True)
        super().__setitem__(name, r)


def plain_loop(paths: List[str]) -> int:
    n = 0
    for p in paths:
        with RecordReader(p) as r:
            for _ in r:
                n += 1
    return n


def plain_arrow(paths: List[str]) -> int:
    import pyarrow as pa
    n = 0
    for p in paths:
        buf: List[bytes] = []
        with RecordReader(p) as r:
            for rec in r:
                buf.append(rec.to_bytes())
                if len(buf) == 65536:
                    n += pa.table({"record": pa.array(buf, pa.binary())}).num_rows
                    buf = []
        n += pa.table({"record": pa.array(buf, pa.binary())}).num_rows
    return n


# ---- Ray: each worker count in its own process and Ray session ----------------------------

RAY_CHILD = r"""
import json, sys, time, statistics
import pyarrow as pa, ray
import keeldb.ray as kray
paths, workers, ranges, runs = json.loads(sys.argv[1])
ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
ray.data.DataContext.get_current().enable_progress_bars = False
def count(t):
    return pa.table({"n": [t.num_rows]})
def once():
    ds = kray.read_records(paths, override_num_blocks=ranges)
    counts = ds.map_batches(count, batch_format="pyarrow", batch_size=None)
    return sum(sum(b["n"].to_pylist()) for b in counts.iter_batches(batch_format="pyarrow"))
once()
times = []
for _ in range(runs):
    t = time.perf_counter(); n = once(); times.append(time.perf_counter() - t)
print(json.dumps({"records": n, "seconds": statistics.median(times)}))
ray.shutdown()
"""


def ray_rate(paths: List[str], workers: int, ranges: int, runs: int) -> Dict[str, float]:
    out = subprocess.run([sys.executable, "-c", RAY_CHILD,
                          json.dumps([paths, workers, ranges, runs])],
                         capture_output=True, text=True, timeout=900, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r["rate"] = r["records"] / r["seconds"]
    return r


def dask_rate(paths: List[str], ranges: int, runs: int) -> Dict[str, float]:
    import distributed

    import keeldb.dask as kdask
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        return timed(lambda: int(kdask.read_records(paths, npartitions=ranges).count()
                                 .compute()), runs)


# ---- Grain --------------------------------------------------------------------------------


def grain_rates(paths: List[str], runs: int) -> Dict[str, Dict[str, float]]:
    from keeldb.grain import RecordsDataSource
    out: Dict[str, Dict[str, float]] = {}
    ours = RecordsDataSource(paths)
    try:
        from array_record.python.array_record_data_source import ArrayRecordDataSource
        theirs: Any = ArrayRecordDataSource([str(p) for p in paths])
    except ImportError:
        theirs = None
    n = len(ours)
    order = list(range(n))
    random.Random(7).shuffle(order)
    batches = [order[i:i + 256] for i in range(0, n, 256)]

    def one_by_one(src: Any) -> Callable[[], int]:
        def run() -> int:
            for i in order:
                src[i]
            return n
        return run

    def batched(src: Any, method: str) -> Callable[[], int]:
        get = getattr(src, method)

        def run() -> int:
            for b in batches:
                get(b)
            return n
        return run

    def pipeline(src: Any) -> Callable[[], int]:
        import grain

        def run() -> int:   # Grain costs ~0.3 ms per element: the first 20,000 only
            k = 0
            for _ in grain.MapDataset.source(src)[:20_000].to_iter_dataset():
                k += 1
            return k
        return run

    def raw() -> int:
        readers = [RecordReader(p) for p in paths]
        starts = ours._starts
        import bisect
        for i in order:
            f = bisect.bisect_right(starts, i) - 1
            readers[f][i - starts[f]].to_bytes()
        for r in readers:
            r.close()
        return n

    out["plain reader[i] (grain files)"] = timed(raw, runs)
    out["keel src[i]"] = timed(one_by_one(ours), runs)
    out["keel _getitems(256)"] = timed(batched(ours, "_getitems"), runs)
    if theirs is not None:
        out["array_record src[i]"] = timed(one_by_one(theirs), runs)
        out["array_record __getitems__(256)"] = timed(batched(theirs, "__getitems__"), runs)
    try:
        out["keel grain pipeline"] = timed(pipeline(ours), 1)
        if theirs is not None:
            out["array_record grain pipeline"] = timed(pipeline(theirs), 1)
    except ImportError:
        pass
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000, help="records per file")
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--size", type=int, default=100, help="bytes per record")
    ap.add_argument("--ranges", type=int, default=16, help="record ranges (read tasks)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip", default="", help="comma-separated: ray,dask,grain")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    skip = set(filter(None, a.skip.split(",")))
    res: Dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
                   f"load average {os.getloadavg()[0]:.1f} at start",
        "python": platform.python_version(),
        "params": vars(a),
        "rows": Rows(),
    }
    rows = res["rows"]
    with tempfile.TemporaryDirectory() as d:
        paths = make_files(d, a.files, a.records, a.size, 65536)
        rows["plain loop"] = timed(lambda: plain_loop(paths), a.runs)
        rows["plain + arrow"] = timed(lambda: plain_arrow(paths), a.runs)
        if "ray" not in skip:
            for w in (1, 2):
                rows[f"ray, {w} worker{'s' if w > 1 else ''}"] = ray_rate(paths, w, a.ranges,
                                                                          a.runs)
        if "dask" not in skip:
            rows["dask, 2 processes"] = dask_rate(paths, a.ranges, a.runs)
        if "grain" not in skip:
            gpaths = make_files(d, a.files, max(1, a.records // 10), a.size, 1)
            for k, v in grain_rates(gpaths, a.runs).items():
                rows[k] = v
    res["load_average_end"] = os.getloadavg()[0]
    # Overhead against the plain loop on the same files: sequential reading for Ray and
    # Dask, RecordReader[i] in the same shuffled order for the Grain sources.
    for name, r in rows.items():
        base = rows["plain reader[i] (grain files)" if ("src" in name or "getitems" in name
                                                         or "grain" in name) else "plain loop"]
        r["overhead_us_per_record"] = (1 / r["rate"] - 1 / base["rate"]) * 1e6
    ratios = {}
    if "ray, 2 workers" in rows:
        ratios["ray 2 workers / 1 worker"] = rows["ray, 2 workers"]["rate"] / rows[
            "ray, 1 worker"]["rate"]
    if "array_record src[i]" in rows:
        ratios["grain source keel / array_record (src[i])"] = (
            rows["keel src[i]"]["rate"] / rows["array_record src[i]"]["rate"])
        ratios["grain source keel / array_record (batched)"] = (
            rows["keel _getitems(256)"]["rate"] / rows["array_record __getitems__(256)"]["rate"])
    if "array_record grain pipeline" in rows:
        ratios["grain pipeline keel / array_record"] = (
            rows["keel grain pipeline"]["rate"] / rows["array_record grain pipeline"]["rate"])
    res["ratios"] = ratios
    if a.json:
        print(json.dumps(res, indent=2))
        return
    print(f"{res['date']}; {res['machine']}, {res['load_average_end']:.1f} at end; "
          f"Python {res['python']}; {a.files} files x {a.records} records of {a.size} B "
          f"(grain: x {max(1, a.records // 10)}, group_size 1); median of {a.runs}")
    print()
    print("| path | records/s | seconds | overhead per record (µs) |")
    print("|---|---:|---:|---:|")
    for name, r in rows.items():
        print(f"| {name} | {r['rate']:,.0f} | {r['seconds']:.3f} | "
              f"{r['overhead_us_per_record']:+.2f} |")
    print()
    for k, v in ratios.items():
        print(f"- {k}: {v:.2f}x")


if __name__ == "__main__":
    main()
