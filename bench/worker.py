"""Runs every workload for ONE engine; started by bench/__main__.py in its own process.

    python -m bench.worker --engine keeldb --n 100000 --large 64 --reps 1 \
        --workdir /tmp/x --result /tmp/x/keeldb.json

The parent runs it with --reps 1 once per repetition, interleaving the engines, and takes the
median over the processes; --reps N repeats each workload N times in one process (handy for
profiling one engine). The timed loops below are shared by all engines; the adapters in
bench/engines.py only choose which callable each loop calls. Every figure is n_ops / wall
seconds of one repetition. The garbage collector is disabled inside timed
sections (as timeit does), for every engine alike. Write workloads start each repetition from a
fresh, empty store; opening and closing the store is not timed (except in "reopen"). Before the
read workloads the store is reopened and every key is read once, untimed, so each engine starts
with a warm page cache and warm internal caches. Results are checked untimed on a sample of
keys, so an engine returning wrong bytes fails the run instead of flattering it.
"""
from __future__ import annotations

import argparse
import gc
import io
import json
import os
import resource
import statistics
import sys
import threading
import time
import traceback

from .common import (BATCH, LARGE_LEN, SEED_ABSENT, SEED_KEYS, SEED_LARGE, STREAM_CHUNK,
                     SYNC_EVERY, VALUE_POOL, VIEW_MIN_OPS,
                     LARGE_READ_MIN_OPS, gen_keys, gen_order, gen_values)
from .engines import ENGINES, NotOffered, remove_store

perf = time.perf_counter


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def timed(fn, *args) -> float:
    gc.collect()
    gc.disable()
    try:
        t0 = perf()
        fn(*args)
        return perf() - t0
    finally:
        gc.enable()


# ---- the loops (identical for every engine) -----------------------------------------------
def loop_put(put, pairs):
    for k, v in pairs:
        put(k, v)


def loop_put_sync(put, sync, pairs):
    i = 0
    for k, v in pairs:
        put(k, v)
        i += 1
        if i == SYNC_EVERY:
            sync()
            i = 0
    sync()


def loop_batch(batch, batches):
    for b in batches:
        batch(b)


def loop_get(get, keys):
    for k in keys:
        get(k)


def loop_view(get, to_view, keys):
    for k in keys:
        to_view(get(k))


def view_loop(get, to_view):
    """(loop, args) for the view workloads: one call per key when get returns a view."""
    if to_view is None:
        return loop_get, (get,), get
    return loop_view, (get, to_view), (lambda k: to_view(get(k)))


def loop_iter(items):
    n = 0
    for _ in items():
        n += 1
    return n


def loop_stream(open_stream, keys):
    chunk = STREAM_CHUNK
    for k in keys:
        s = open_stream(k)
        read = s.read
        while read(chunk):
            pass


# ---- helpers --------------------------------------------------------------------------------
def disk_usage(path: str) -> dict:
    allocated = apparent = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                st = os.stat(os.path.join(root, f))
            except FileNotFoundError:
                continue
            allocated += st.st_blocks * 512
            apparent += st.st_size
    return {"allocated_bytes": allocated, "apparent_bytes": apparent}


class Runner:
    def __init__(self, args):
        self.args = args
        self.eng = ENGINES[args.engine]()
        self.results: dict[str, dict] = {}
        self.disk: dict[str, dict] = {}
        self.seq = 0

    def fresh_dir(self, tag: str) -> str:
        self.seq += 1
        return os.path.join(self.args.workdir, f"{self.eng.name}-{tag}-{self.seq}")

    def record(self, wid: str, n_ops: int, secs: list[float]):
        rates = [n_ops / s for s in secs]
        med = statistics.median(rates)
        self.results[wid] = {"status": "ok", "n_ops": n_ops, "ops_per_s": med,
                             "reps_ops_per_s": rates,
                             "seconds_median": n_ops / med}
        log(f"  {self.eng.name:13s} {wid:18s} {med:14,.0f} ops/s   "
            f"(reps: {', '.join(f'{r:,.0f}' for r in rates)})")

    def not_offered(self, wid: str):
        self.results[wid] = {"status": "n/a"}
        log(f"  {self.eng.name:13s} {wid:18s} {'n/a':>14s}")

    def check(self, get, keys, expect, what: str):
        step = max(1, len(keys) // 1000)
        for i in range(0, len(keys), step):
            got = get(keys[i])
            if got is None or bytes(got) != expect(i):
                raise AssertionError(f"{self.eng.name}: {what}: wrong value for key #{i}")

    # ---- workloads ----------------------------------------------------------------------------
    def run(self):
        a, eng = self.args, self.eng
        reps, n = a.reps, a.n
        keys = gen_keys(n, SEED_KEYS)
        absent = gen_keys(n, SEED_ABSENT)
        if set(keys) & set(absent):
            raise RuntimeError("absent keys overlap present keys")
        pool = gen_values()
        pairs = [(k, pool[i % VALUE_POOL]) for i, k in enumerate(keys)]
        batches = [pairs[i:i + BATCH] for i in range(0, n, BATCH)]
        order = gen_order(n)
        rkeys = [keys[i] for i in order]
        expect_r = lambda j: pool[order[j] % VALUE_POOL]  # value of rkeys[j]
        expect_s = lambda i: pool[i % VALUE_POOL]         # value of keys[i]
        self.baseline_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

        # 1a: single writes, no fsync. The last repetition's store is kept for the reads.
        secs, main = self.write_reps("write", eng.writer, pairs)
        self.record("write", n, secs)
        if eng.on_disk:
            self.disk["after_single_writes"] = disk_usage(main)

        # 1b: single writes, fsync every 1000
        secs = []
        try:
            for r in range(reps):
                d = self.fresh_dir("fsync")
                eng.create(d, fsync_mode=True)
                try:
                    put, sync = eng.writer(), eng.syncer()
                    secs.append(timed(loop_put_sync, put, sync, pairs))
                finally:
                    eng.close()
                    remove_store(d)
            self.record("write_fsync", n, secs)
        except NotOffered:
            self.not_offered("write_fsync")

        # 2: batch writes of 1000
        secs = []
        for r in range(reps):
            d = self.fresh_dir("batch")
            eng.create(d)
            secs.append(timed(loop_batch, eng.batch_writer(), batches))
            if r == reps - 1:
                self.check(eng.reader(), keys, expect_s, "batch_write")
            eng.close()
            if r == reps - 1 and eng.on_disk:
                self.disk["after_batch_writes"] = disk_usage(d)
            remove_store(d)
        self.record("batch_write", n, secs)

        # 6: reopen of the populated store (open + one read, so lazy opens pay too)
        if eng.on_disk:
            secs = []
            for r in range(reps):
                t0 = perf()
                eng.open(main)
                v = eng.reader()(keys[0])
                secs.append(perf() - t0)
                if v is None or bytes(v) != pool[0]:
                    raise AssertionError("reopen: wrong value")
                eng.close()
            self.record("reopen", 1, secs)
        else:
            self.not_offered("reopen")

        # reads on the reopened store
        eng.open(main)
        get = eng.reader()
        self.check(get, rkeys, expect_r, "read")
        loop_get(get, rkeys)  # untimed warm-up pass

        # 3a
        self.record("read", n, [timed(loop_get, get, rkeys) for _ in range(reps)])
        # 3b
        try:
            loop, fargs, one = view_loop(*eng.view_reader())
            self.check(one, rkeys, expect_r, "read_view")
            self.record("read_view", n, [timed(loop, *fargs, rkeys) for _ in range(reps)])
        except NotOffered:
            self.not_offered("read_view")
        # 3c: the engine's own multi-get, 1000 shuffled keys per call
        try:
            get_many, values_of = eng.batch_reader()
            rbatches = [rkeys[i:i + BATCH] for i in range(0, n, BATCH)]
            got = values_of(get_many(rbatches[0]))
            if len(got) != len(rbatches[0]) or any(
                    v is None or bytes(v) != expect_r(j) for j, v in enumerate(got)):
                raise AssertionError(f"{eng.name}: batch_read: wrong values")
            self.record("batch_read", n,
                        [timed(loop_batch, get_many, rbatches) for _ in range(reps)])
        except NotOffered:
            self.not_offered("batch_read")
        # 4a, 4b
        exists = eng.exister()
        if not all(exists(k) for k in rkeys[:1000]) or any(exists(k) for k in absent[:1000]):
            raise AssertionError("exists: wrong answer")
        self.record("exists_present", n, [timed(loop_get, exists, rkeys) for _ in range(reps)])
        self.record("exists_absent", n, [timed(loop_get, exists, absent) for _ in range(reps)])
        # 5
        try:
            items = eng.itemizer()
            got = loop_iter(items)
            if got != n:
                raise AssertionError(f"iterate: {got} entries, expected {n}")
            self.record("iterate", n, [timed(loop_iter, items) for _ in range(reps)])
        except NotOffered:
            self.not_offered("iterate")
        # 8: two threads, each reading half of the shuffled keys; aggregate rate
        self.record("threads_read", n, [self.two_threads(rkeys) for _ in range(reps)])
        eng.close()
        self.rss_small = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        remove_store(main)
        del pairs, batches, rkeys, absent

        # 7: 1 MiB values
        self.large(a.large)

    def write_reps(self, tag: str, make_put, pairs) -> tuple[list[float], str]:
        """Time loop_put(make_put(), pairs) into a fresh store per repetition; returns the
        times and the last store's directory (kept, closed), the others removed."""
        kept, secs = None, []
        for _ in range(self.args.reps):
            d = self.fresh_dir(tag)
            self.eng.create(d)
            secs.append(timed(loop_put, make_put(), pairs))
            self.eng.close()
            if kept is not None:
                remove_store(kept)
            kept = d
        return secs, kept

    def two_threads(self, rkeys) -> float:
        halves = [rkeys[0::2], rkeys[1::2]]
        barrier = threading.Barrier(3)
        errors = []

        def work(part):
            try:
                get, cleanup = self.eng.thread_reader()
            except BaseException as e:  # noqa: BLE001
                errors.append(e)
                barrier.abort()
                return
            try:
                barrier.wait()
                loop_get(get, part)
            except BaseException as e:  # noqa: BLE001
                errors.append(e)
            finally:
                cleanup()

        threads = [threading.Thread(target=work, args=(h,)) for h in halves]
        for t in threads:
            t.start()
        gc.collect()
        gc.disable()
        try:
            barrier.wait()
            t0 = perf()
            for t in threads:
                t.join()
            dt = perf() - t0
        finally:
            gc.enable()
        if errors:
            raise errors[0]
        return dt

    def page_cache_floor(self, big: bytes, m: int) -> float:
        """MiB/s of os.write of m 1 MiB buffers to a new file, no fsync: the page-cache speed
        that 7a is compared with, measured under the same conditions just before it. One
        untimed pass first: when the page cache fills memory, the first writer pays for
        reclaiming pages and whoever writes after it reuses the pages it freed."""
        rates = []
        for r in range(self.args.reps + 1):
            d = self.fresh_dir("floor")
            os.makedirs(d)
            fd = os.open(os.path.join(d, "floor.bin"), os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                t0 = perf()
                for _ in range(m):
                    os.write(fd, big)
                if r > 0:
                    rates.append(m / (perf() - t0))
            finally:
                os.close(fd)
                remove_store(d)
        return statistics.median(rates)

    def large(self, m: int):
        eng, reps = self.eng, self.args.reps
        lkeys = gen_keys(m, SEED_LARGE)
        import random
        big = random.Random(SEED_LARGE).randbytes(LARGE_LEN)
        self.floor = self.page_cache_floor(big, m)
        log(f"  {eng.name:13s} {'(page-cache floor)':18s} {self.floor:14,.0f} MiB/s")
        secs, store = self.write_reps("large", eng.large_writer, [(k, big) for k in lkeys])
        self.record("large_write", m, secs)
        if eng.on_disk:
            self.disk["after_large_writes"] = disk_usage(store)

        eng.open(store)
        get = eng.reader()
        self.check(get, lkeys, lambda i: big, "large_read")
        rdkeys = lkeys * -(-LARGE_READ_MIN_OPS // m)
        self.record("large_read", len(rdkeys),
                    [timed(loop_get, get, rdkeys) for _ in range(reps)])
        try:
            loop, fargs, one = view_loop(*eng.view_reader())
            self.check(one, lkeys, lambda i: big, "large_read_view")
            vkeys = lkeys * -(-VIEW_MIN_OPS // m)
            self.record("large_read_view", len(vkeys),
                        [timed(loop, *fargs, vkeys) for _ in range(reps)])
        except NotOffered:
            self.not_offered("large_read_view")
        try:
            open_stream = eng.stream_opener()
            s = open_stream(lkeys[0])
            if s.read(LARGE_LEN + 1) != big:
                raise AssertionError("read_stream: wrong bytes")
            self.record("large_read_stream", len(rdkeys),
                        [timed(loop_stream, open_stream, rdkeys) for _ in range(reps)])
        except NotOffered:
            self.not_offered("large_read_stream")
        eng.close()
        remove_store(store)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.worker")
    p.add_argument("--engine", required=True, choices=list(ENGINES))
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--large", type=int, required=True)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--workdir", required=True)
    p.add_argument("--result", required=True)
    a = p.parse_args(argv)
    os.makedirs(a.workdir, exist_ok=True)

    runner = Runner(a)
    out = {"engine": a.engine, "config": runner.eng.config, "calls": runner.eng.calls}
    try:
        runner.eng.import_module()
    except ImportError as e:
        out.update(status="missing", error=f"{type(e).__name__}: {e}")
        log(f"  {a.engine}: MISSING ({e})")
    else:
        out["version"] = runner.eng.version()
        try:
            runner.run()
            out["status"] = "ok"
        except Exception as e:  # noqa: BLE001 -- reported, not hidden
            traceback.print_exc()
            out.update(status="error", error=f"{type(e).__name__}: {e}")
    out["results"] = runner.results
    out["disk"] = runner.disk
    out["rss_baseline_bytes"] = getattr(runner, "baseline_rss", None)
    out["rss_small_workloads_bytes"] = getattr(runner, "rss_small", None)
    out["page_cache_floor_MiB_per_s"] = getattr(runner, "floor", None)
    with open(a.result, "w") as f:
        json.dump(out, f, indent=1)
    return 0 if out["status"] != "error" else 1


if __name__ == "__main__":
    sys.exit(main())
