"""keeldb on distributed engines: records/s through Ray Data (1 and 2 workers), Dask (2
worker processes) and Grain, against plain single-process loops on the same files.

Data (fixed seed): --files record files of --records records of --size random bytes each.
  ray/dask files   default group (65536 records per chunk, ArrayRecord footer), read as
                   record ranges planned from the footers
  grain files      group_size=1 (what array_record's data source asks for), a tenth of
                   the records, read by random index in a shuffled order

Measured, median of --runs runs after one warm-up run (engine start-up is not timed):
  plain loop         for r in RecordReader(p) over every file, one process
  plain + arrow      a read task's work in one process: the ranges keeldb.ray plans, read
                     with read_range_batches into buffers from Arrow's memory pool (what
                     keeldb.ray's read tasks do), each block wrapped as a pyarrow binary
                     column; "new bytes per block" is the same through next_batch (a new
                     64 MiB bytes object per block, its pages faulted in afresh: before);
                     "per record" the way before that (to_bytes() per record, pa.array()
                     per 65536)
  plain, 1/2 procs   the same work over the path list repeated S times (each S of
                     --ray-scale), in one and in two forked processes (the files dealt out
                     in turn), in each round just before Ray's: what this machine gives two
                     processes doing a read task's work without any engine, the ceiling
                     for Ray's ratio (under load, with CFS autogroups, two processes of one
                     session may get no more CPU than one)
  ray, N workers     keeldb.ray.read_records(paths * S) with its default read tasks (2 per
                     CPU; --ranges N asks for N), rows
                     counted by a map_batches fused into the read tasks (only counts
                     travel to the driver, through iter_batches: the driver does no
                     per-record work, and no block goes through the object store;
                     materialize() would store the whole dataset there), in one session
                     of ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False),
                     progress bars off, started and warmed up (one execution of each mode:
                     worker processes up, keeldb and pyarrow imported) outside the timing,
                     as a user's ray.init is done once. Executions alternate between modes
                     so load swings hit them alike: one worker (Ray Data limited to one CPU
                     by DataContext.execution_options.resource_limits: the same one-CPU
                     tasks, the same fusion, one at a time, and the second worker process
                     stays up; concurrency=1 would stop the fusion, and tasks asking for
                     both CPUs, the earlier way, let the raylet stop the idle worker, so
                     the next two-worker run started a new process in its timing), two
                     workers (the default), and two with
                     DataContext.op_resource_reservation_enabled = False (below). Before
                     each timed execution, one short task per CPU at once makes sure of
                     one live, warm process per CPU (what a session has after ray.init);
                     --no-prime leaves that out. First a 1000-record read in each mode: an execution's
                     fixed cost. --ray-sessions adds a ray.init(num_cpus=1) and a
                     num_cpus=2 session (what a user sets up) per round.
                     The path list is repeated S times: a larger dataset without more disk
                     (the 404 MB of 4 default files stay in the page cache; 1 G records of
                     100 B, S = 256, would be 108 GB of files, more than this machine's
                     24 GiB of RAM, so a real read of that size would also wait on the
                     disk). Per size: the 2/1 ratios (median of the rounds' ratios) and
                     Ray's 2/1 over the plain 2/1 of the same round; and per path a line
                     t = a + N / r through the two largest sizes: r the per-record rate
                     (the slope), a what an execution costs besides (the intercept).
  dask, 2 processes  keeldb.dask.read_records(...).count() on a LocalCluster of 2 processes
  grain sources      src[i] over shuffled indices: keeldb.grain.RecordsDataSource against
                     array_record's ArrayRecordDataSource; batched (_getitems /
                     __getitems__ of 256 indices); and through Grain's own pipeline
                     (MapDataset.source(src)[:20000].to_iter_dataset(), one process)
Per-record overhead of an adapter = 1/rate(adapter) - 1/rate(plain loop on the same files):
the sequential loop for Ray and Dask, RecordReader[i] in the same shuffled order for Grain.

Why 1 s: Ray Data's executor takes its CPU limit from the autoscaling coordinator
(ResourceManager.get_global_limits, through RateBasedClusterAutoscaler.get_total_resources),
whose first answer arrives asynchronously (DefaultAutoscalingCoordinator returns its cached
answer, empty, and sends the request); the limit is refreshed once a second
(ResourceManager.GLOBAL_LIMITS_UPDATE_INTERVAL_S), so for the first ~1.03 s of every
execution it is 0 CPUs and the executor starts one task only (ensure_liveness: a task when
none runs). Traced by wrapping get_global_limits: cpu=0.0 at 0.02 s, cpu=2.0 at 1.03-1.07 s,
each execution. DataContext.op_resource_reservation_enabled = False (a documented field,
which Ray's source calls a historical kill-switch to be deprecated) drops the per-operator
budget, and with it the 0-CPU start, but also the object-store back-pressure between
operators: for a read feeding a slower consumer, the reads would run ahead into the object
store. The executor also waits for all running tasks' next output (ray.wait(...,
num_returns=len(active), timeout=0.1)); read tasks yield a block every ~30 ms, so a finished
task is noticed within about that.

Usage: python bench/bench_distributed.py [--records 1000000] [--files 4] [--size 100]
       [--runs 3] [--rounds 1] [--ray-scale 64,256] [--ray-sessions] [--ranges 0]
       [--no-prime]
       [--skip ray,dask,grain] [--json | --markdown]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Tuple

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


def plain_arrow(paths: List[str], alloc: Any = "arrow") -> int:
    """A read task's work in this process: the ranges keeldb.ray plans, each read with
    read_range_batches into buffers from Arrow's memory pool (alloc="arrow", what
    keeldb.ray does) or into a new bytes object per block (alloc=None, before)."""
    import pyarrow as pa

    from keeldb import plan_splits, read_range_batches
    n = 0
    for r in plan_splits(paths):
        for k, offsets, data in read_range_batches(
                r, batch_records=1 << 20, max_bytes=64 << 20,
                alloc=pa.allocate_buffer if alloc == "arrow" else None):
            n += len(pa.Array.from_buffers(pa.binary(), k, [None, pa.py_buffer(offsets),
                                                             pa.py_buffer(data)]))
    return n


def _plain_part(paths: List[str]) -> int:
    return plain_arrow(paths)


class PlainProcesses:
    """plain_arrow in `workers` forked processes (started once), the files dealt out in
    turn: what this machine gives two processes doing a read task's work, with no
    engine, to set the Ray ratio against in the same round."""

    def __init__(self, workers: int) -> None:
        import multiprocessing
        self.workers = workers
        self.pool = multiprocessing.get_context("fork").Pool(workers)

    def run(self, paths: List[str]) -> int:
        parts = [paths[i::self.workers] for i in range(self.workers)]
        return sum(self.pool.map(_plain_part, parts, chunksize=1))

    def close(self) -> None:
        self.pool.terminate()
        self.pool.join()


def plain_arrow_per_record(paths: List[str]) -> int:
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


# ---- Ray: one Ray session (process) per measurement ----------------------------------------

# argv: the path list, the scales, --ranges, runs, the tiny file, the session's CPUs and
# whether to prime the worker pool. In one session of 2 CPUs: a warm-up execution of each
# mode; before every timed execution (unless --no-prime) one short task per CPU at once,
# so that every mode starts with as many live worker processes as CPUs; the
# tiny read (fixed cost of an execution) in each mode; then per scale, `runs` times, the
# modes alternating: "1" one worker (Ray Data limited to one CPU through
# DataContext.execution_options.resource_limits: the same one-CPU tasks, the same fusion,
# one task at a time; the second worker process stays up and warm; concurrency=1 would
# stop the fusion), "2" two workers (read_records' default), "2nr" two workers with
# DataContext.op_resource_reservation_enabled = False. Prints, per (scale, mode), the
# seconds of each run and the load average after it.
RAY_CHILD = r"""
import json, os, sys, time
import pyarrow as pa, ray
import keeldb.ray as kray
paths, scales, ranges, runs, tiny, cpus, prime = json.loads(sys.argv[1])
ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
ctx = ray.data.DataContext.get_current()
ctx.enable_progress_bars = False
@ray.remote(num_cpus=1)
def _up(t):
    import keeldb.ray, pyarrow                   # what a read task imports
    time.sleep(max(0.0, t - time.time()))
    return os.getpid()
def prime_workers():
    # Every worker process up and importing keeldb before a timed execution, as after
    # ray.init (a task that holds every CPU makes the raylet stop the idle worker; the
    # next multi-worker execution would then start a new process inside its timing).
    for _ in range(10):
        if len(set(ray.get([_up.remote(time.time() + 0.3) for _ in range(cpus)]))) == cpus:
            return
def count(t):
    return pa.table({"n": [t.num_rows]})
def once(ps, mode):
    # The dataset keeps its own copy of the context: set, read, restore.
    limits = ctx.execution_options.resource_limits
    if mode == "1":                              # Ray Data may use one CPU: one task at a time
        ctx.execution_options.resource_limits = ray.data.ExecutionResources.for_limits(cpu=1)
    ctx.op_resource_reservation_enabled = mode != "2nr"
    try:
        ds = kray.read_records(ps, override_num_blocks=ranges or None)
    finally:
        ctx.op_resource_reservation_enabled = True
        ctx.execution_options.resource_limits = limits
    counts = ds.map_batches(count, batch_format="pyarrow", batch_size=None)
    return sum(sum(b["n"].to_pylist()) for b in counts.iter_batches(batch_format="pyarrow"))
modes = ["1", "2", "2nr"] if cpus == 2 else ["2"]
for m in modes:                                  # warm-up: workers started, imports done
    once(paths * scales[0], m)
out = {}
def measure(key, ps, m):
    if prime:
        prime_workers()
    t = time.perf_counter(); n = once(ps, m); dt = time.perf_counter() - t
    slot = out.setdefault(key, {"times": [], "loads": [], "records": n})
    slot["times"].append(dt); slot["loads"].append(os.getloadavg()[0])
for _ in range(runs):
    for m in modes:
        measure(f"tiny {m}", [tiny], m)
for scale in scales:
    for _ in range(runs):
        for m in modes:
            measure(f"{scale} {m}", paths * scale, m)
print(json.dumps(out))
ray.shutdown()
"""


def ray_session(paths: List[str], scales: List[int], ranges: int, runs: int, tiny: str,
                cpus: int = 2, prime: bool = True) -> Dict[str, Dict[str, Any]]:
    out = subprocess.run([sys.executable, "-c", RAY_CHILD,
                          json.dumps([paths, scales, ranges, runs, tiny, cpus, prime])],
                         capture_output=True, text=True, timeout=7200, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _rate(records: int, times: List[float], loads: List[float]) -> Dict[str, Any]:
    med = statistics.median(times)
    return {"records": records, "seconds": med, "rate": records / med,
            "load": statistics.median(loads)}


RAY_MODES = {"1": "ray, 1 worker", "2": "ray, 2 workers",
             "2nr": "ray, 2 workers, reservation off"}


def ray_rounds(paths: List[str], scales: List[int], ranges: int, runs: int, rounds: int,
               tiny: str, sessions: bool, prime: bool = True) -> Dict[str, Any]:
    """Each round: per scale (the path list read that many times over), the plain read
    task's work in 1 and 2 forked processes, run after run alternating (the machine's 2/1
    ceiling in this round); then one Ray session of 2 CPUs: the tiny read in each mode
    (an execution's fixed cost), then per scale the modes alternating execution by
    execution (RAY_CHILD); with `sessions`, also a ray.init(num_cpus=1) and a
    ray.init(num_cpus=2) session. Returns, per round, {key: rate row}; keys are
    "p1 S"/"p2 S" (plain), "tiny M", "S M" (Ray mode M), "s1 S"/"s2 S" (sessions)."""
    pools = {w: PlainProcesses(w) for w in (1, 2)}
    out: List[Dict[str, Dict[str, Any]]] = []

    def show(k: int, what: str, r: Dict[str, Any]) -> None:
        print(f"  round {k + 1}: {what}: {r['records']:,} records in {r['seconds']:.2f} s, "
              f"{r['rate']:,.0f} records/s (load {r['load']:.1f})", file=sys.stderr, flush=True)

    try:
        for k in range(rounds):
            rows: Dict[str, Dict[str, Any]] = {}
            for w in (1, 2):
                pools[w].run(paths * scales[0])                 # warm-up
            for scale in scales:
                pt: Dict[int, List[float]] = {1: [], 2: []}
                pl: Dict[int, List[float]] = {1: [], 2: []}
                n = 0
                for _ in range(runs):
                    for w in (1, 2):
                        t = time.perf_counter()
                        n = pools[w].run(paths * scale)
                        pt[w].append(time.perf_counter() - t)
                        pl[w].append(os.getloadavg()[0])
                for w in (1, 2):
                    rows[f"p{w} {scale}"] = _rate(n, pt[w], pl[w])
                    show(k, f"plain, {w} process(es), x{scale}", rows[f"p{w} {scale}"])
            for key, slot in ray_session(paths, scales, ranges, runs, tiny,
                                         prime=prime).items():
                rows[key] = _rate(slot["records"], slot["times"], slot["loads"])
                what, mode = key.split()
                show(k, f"{RAY_MODES[mode]}, {'tiny read' if what == 'tiny' else 'x' + what}",
                     rows[key])
            if sessions:
                for w in (1, 2):
                    for key, slot in ray_session(paths, scales, ranges, runs, tiny,
                                                 cpus=w).items():
                        what = key.split()[0]
                        rows[f"s{w} {what}"] = _rate(slot["records"], slot["times"],
                                                     slot["loads"])
                        show(k, f"ray, ray.init(num_cpus={w}), {what}", rows[f"s{w} {what}"])
            out.append(rows)
    finally:
        for pool in pools.values():
            pool.close()
    return {"rounds": out, "scales": scales}


def ray_summary(rr: Dict[str, Any], records_per_pass: int) -> List[str]:
    """Markdown: per scale the 2/1 ratios (median of the rounds' ratios) of plain, Ray and
    Ray with reservation off, Ray's ratio over the plain one, and the load; the fixed cost
    (tiny read, and the intercept of the line through the two largest scales) and the
    per-record rate (that line's slope) of each path."""
    rounds, scales = rr["rounds"], rr["scales"]

    def med(f: Callable[[Dict[str, Dict[str, Any]]], float]) -> float:
        return statistics.median(f(r) for r in rounds)

    pairs = [("plain", "p1 {}", "p2 {}"), ("ray", "{} 1", "{} 2"), ("ray, reservation off", "{} 1", "{} 2nr")]
    if "s1 {}".format(scales[0]) in rounds[0]:
        pairs.append(("ray, num_cpus sessions", "s1 {}", "s2 {}"))
    lines = ["| records | " + " | ".join(f"{name} 1 → 2 (M/s)" for name, _, _ in pairs)
             + " | " + " | ".join(f"{name} 2/1" for name, _, _ in pairs)
             + " | ray 2/1 ÷ plain 2/1 | load |",
             "|---:|" + "---:|" * (2 * len(pairs) + 2)]
    for s in scales:
        rates = []
        ratios = []
        for _, a, b in pairs:
            ka, kb = a.format(s), b.format(s)
            rates.append(f"{med(lambda r: r[ka]['rate']) / 1e6:.1f} → "
                         f"{med(lambda r: r[kb]['rate']) / 1e6:.1f}")
            ratios.append(med(lambda r: r[kb]["rate"] / r[ka]["rate"]))
        rel = med(lambda r: (r[f"{s} 2"]["rate"] / r[f"{s} 1"]["rate"])
                  / (r[f"p2 {s}"]["rate"] / r[f"p1 {s}"]["rate"]))
        loads = sorted(v["load"] for r in rounds for k, v in r.items()
                       if k.split()[-1] == str(s) or k.split()[0] == str(s))
        m = s * records_per_pass / 1e6
        lines.append((f"| {m:,.0f} M | " if m >= 10 else f"| {m:.2f} M | ") + " | ".join(rates) + " | "
                     + " | ".join(f"{q:.2f}x" for q in ratios)
                     + f" | {rel:.2f} | {loads[0]:.1f}–{loads[-1]:.1f} |")
    lines.append("")
    lines.append("Fixed cost and per-record rate (medians of the rounds): a line "
                 "t = a + N / r through the two largest sizes.")
    lines.append("")
    lines.append("| path | tiny read (s) | a (s) | r (M records/s) |")
    lines.append("|---|---:|---:|---:|")
    lo, hi = (scales[-2], scales[-1]) if len(scales) > 1 else (scales[0], scales[0])
    keys = [("plain, 1 process", None, "p1 {}"), ("plain, 2 processes", None, "p2 {}"),
            ("ray, 1 worker", "tiny 1", "{} 1"), ("ray, 2 workers", "tiny 2", "{} 2"),
            ("ray, 2 workers, reservation off", "tiny 2nr", "{} 2nr")]
    slopes = {}
    for name, tiny, fmt in keys:
        if lo == hi:
            break
        kl, kh = fmt.format(lo), fmt.format(hi)

        def line(r: Dict[str, Dict[str, Any]]) -> Tuple[float, float]:
            n0, t0 = r[kl]["records"], r[kl]["seconds"]
            n1, t1 = r[kh]["records"], r[kh]["seconds"]
            rate = (n1 - n0) / (t1 - t0)
            return t0 - n0 / rate, rate
        a = med(lambda r: line(r)[0])
        slopes[name] = med(lambda r: line(r)[1])
        t = f"{med(lambda r: r[tiny]['seconds']):.2f}" if tiny else "–"
        lines.append(f"| {name} | {t} | {a:.2f} | {slopes[name] / 1e6:.1f} |")
    if slopes:
        lines.append("")
        lines.append(f"- per-record rate 2/1 (slopes): plain "
                     f"{slopes['plain, 2 processes'] / slopes['plain, 1 process']:.2f}x, ray "
                     f"{slopes['ray, 2 workers'] / slopes['ray, 1 worker']:.2f}x, ray with "
                     f"reservation off "
                     f"{slopes['ray, 2 workers, reservation off'] / slopes['ray, 1 worker']:.2f}x")
    return lines


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
    # Stopped with SIGTERM: unwind, so the temporary directory goes away (only in this
    # process: the forked pool workers just end, and the pools are terminated).
    main_pid = os.getpid()

    def on_term(*_: Any) -> None:
        if os.getpid() == main_pid:
            sys.exit(143)
        os._exit(143)
    signal.signal(signal.SIGTERM, on_term)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000, help="records per file")
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--size", type=int, default=100, help="bytes per record")
    ap.add_argument("--ranges", type=int, default=0,
                    help="Ray read tasks (0: read_records' default, 2 per CPU); Dask "
                    "partitions (0: 16)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=1,
                    help="Ray: 1 and 2 workers alternate this many times")
    ap.add_argument("--ray-scale", default="64,256",
                    help="Ray reads the path list repeated this many times; a comma-"
                    "separated list measures each size (default: 256 M and 1 G records, "
                    "reads of about 10 and 40 s in one worker: shorter ones mostly "
                    "measure Ray Data's fixed cost per execution)")
    ap.add_argument("--ray-sessions", action="store_true",
                    help="Ray: also a ray.init(num_cpus=1) and a num_cpus=2 session a round")
    ap.add_argument("--no-prime", action="store_true",
                    help="Ray: do not bring both worker processes up before each timed "
                    "execution (as before the sixth pass: the mode after the 1-worker "
                    "mode then starts a new worker process inside its timing)")
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
        rows["plain + arrow, new bytes per block"] = timed(lambda: plain_arrow(paths, None),
                                                           a.runs)
        rows["plain + arrow, per record"] = timed(lambda: plain_arrow_per_record(paths),
                                                  a.runs)
        if "ray" not in skip:
            tiny = os.path.join(d, "tiny.riegeli")
            with RecordWriter(tiny, array_record=True) as w:
                for i in range(1000):
                    w.write_record(b"%100d" % i)
            scales = [int(x) for x in a.ray_scale.split(",")]
            res["ray_rounds"] = ray_rounds(paths, scales, a.ranges, a.runs, a.rounds, tiny,
                                           a.ray_sessions, not a.no_prime)
        if "dask" not in skip:
            rows["dask, 2 processes"] = dask_rate(paths, a.ranges or 16, a.runs)
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
          f"(grain: x {max(1, a.records // 10)}, group_size 1; ray: the files {a.ray_scale} "
          f"times over, {a.rounds} rounds); median of {a.runs}")
    print()
    print("| path | records/s | seconds | overhead per record (µs) |")
    print("|---|---:|---:|---:|")
    for name, r in rows.items():
        print(f"| {name} | {r['rate']:,.0f} | {r['seconds']:.3f} | "
              f"{r['overhead_us_per_record']:+.2f} |")
    print()
    for k, v in ratios.items():
        print(f"- {k}: {v:.2f}x")
    if "ray_rounds" in res:
        print()
        print("Records read per second, 1 → 2 workers (medians of the rounds; ratios are "
              "medians of the rounds' ratios):")
        print()
        for line in ray_summary(res["ray_rounds"], a.files * a.records):
            print(line)


if __name__ == "__main__":
    main()
