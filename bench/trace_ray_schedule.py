"""Trace keeldb.ray.read_records executions: when each read task runs, in which worker,
and what Ray Data's streaming executor does meanwhile (not a benchmark: a timeline).

Worker side: every read task is wrapped (in the driver, before Ray pickles it) so that it
logs, with the wall clock and its pid, its start (with the worker's age and the tasks it
ran before), each block it yields, the moment it is resumed after the yield (the gap is
the time the task sat in Ray's streaming-generator back-pressure plus the fused
map_batches), and its end, with its CPU time and page faults. Driver side: each
scheduling-loop step's process_completed_tasks (its length, the active tasks before and
after, the output bytes each operator may read this step), each task dispatch, the global
limits and the operator budgets; and the CPU time of every process of the session. Printed
per execution: a per-task table, the read tasks running at once per 0.5 s, each worker's
idle gaps, what the executor did between each task's end and the next dispatch, and a
summary line (seconds, task CPU, worker idle, driver CPU, load).

Modes (--mode, comma-separated, run in turn --repeat times in one session of 2 CPUs, after
a warm-up of 1, 2 and 2nr): "1" one worker (read and count ask for both CPUs, as in
bench_distributed.py), "2" read_records' default, "2nr" with
DataContext.op_resource_reservation_enabled = False, "2h" read and count asking for half a
CPU each. --prime runs one short task per CPU at once before each execution (as
bench_distributed.py does); --idle sleeps before each.

Usage: python bench/trace_ray_schedule.py [--scale 128] [--mode 1,2,2nr] [--repeat 1]
       [--prime] [--idle S] [--files 4] [--records 1000000] [--dir DIR]
       [--set key=value ...] [--read key=value ...]
--simulate prints the 2/1 ratios a list-scheduling model of the executor gives with the
traced costs (second worker 1.07 s late, 0.2 s a task boundary) for several task shapes.
--set changes DataContext fields for the traced executions (e.g.
--set _max_num_blocks_in_streaming_gen_buffer=4); --read passes keywords to read_records
(JSON values where they parse). The record files are written once into --dir (default
/tmp/keel-ray-trace-data, ~400 MB) and kept for the next run; remove it when done.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import shutil
import tempfile
import time
from typing import Any, Dict, List

import pyarrow as pa
import ray
import ray.data
from ray.data import ExecutionResources

import keeldb.ray as kray
from keeldb import RecordWriter

TRACE_DIR = tempfile.mkdtemp(prefix="keel-ray-trace-")


def _wrap(fn: Any, idx: int, trace_dir: str) -> Any:
    def traced() -> Any:
        import builtins, os as _os, time as _t
        pid = _os.getpid()
        nth = getattr(builtins, "_keel_trace_tasks", 0)
        builtins._keel_trace_tasks = nth + 1        # type: ignore[attr-defined]
        with open("/proc/self/stat") as f:
            born = int(f.read().rsplit(")", 1)[1].split()[19]) / _os.sysconf("SC_CLK_TCK")
        with open("/proc/uptime") as f:
            age = float(f.read().split()[0]) - born
        out = open(f"{trace_dir}/w-{pid}-{idx}", "w")
        def minflt() -> int:
            with open("/proc/self/stat") as f:
                return int(f.read().rsplit(")", 1)[1].split()[7])
        out.write(f"start {idx} {pid} {_t.time()} {_t.process_time()} {nth} {age:.1f} "
                  f"{minflt()}\n")
        n = 0
        for block in fn():
            n += 1
            out.write(f"yield {idx} {pid} {_t.time()} {block.num_rows}\n")
            yield block
            out.write(f"resume {idx} {pid} {_t.time()}\n")
        out.write(f"end {idx} {pid} {_t.time()} {_t.process_time()} {minflt()}\n")
        out.close()
    return traced


def install_driver_hooks(events: List[Any]) -> None:
    from ray.data._internal.execution import streaming_executor as se
    from ray.data._internal.execution import streaming_executor_state as ses
    from ray.data._internal.execution import resource_manager as rm

    orig_pct = se.process_completed_tasks

    def pct(topology: Any, policies: Any, *a: Any, **k: Any) -> Any:
        t0 = time.time()
        active = sum(len(op.get_active_tasks()) for op in topology)
        limits = {}
        for op in topology:
            lim = None
            for p in policies:
                v = p.max_task_output_bytes_to_read(op)
                if v is not None:
                    lim = v if lim is None else min(lim, v)
            limits[op.name] = lim
        r = orig_pct(topology, policies, *a, **k)
        after = sum(len(op.get_active_tasks()) for op in topology)
        events.append(("step", t0, time.time(), active, limits, after))
        return r
    se.process_completed_tasks = pct

    orig_dispatch = ses.OpState.dispatch_next_task

    def dispatch(self: Any) -> None:
        events.append(("dispatch", time.time(), self.op.name))
        return orig_dispatch(self)
    ses.OpState.dispatch_next_task = dispatch

    orig_limits = rm.ResourceManager.get_global_limits

    def limits(self: Any) -> Any:
        v = orig_limits(self)
        events.append(("limits", time.time(), v.cpu, v.object_store_memory))
        # Budgets of each op after the step's update (CPU, object store).
        return v
    rm.ResourceManager.get_global_limits = limits

    orig_upd = rm.ResourceManager._update_allocated_budgets

    def upd(self: Any) -> None:
        orig_upd(self)
        a = self._op_resource_allocator
        if a is not None:
            events.append(("budget", time.time(), {
                op.name: (b.cpu, b.object_store_memory) for op, b in a._op_budgets.items()}))
    rm.ResourceManager._update_allocated_budgets = upd


def install_task_wrap() -> None:
    orig = kray.RecordsDatasource.get_read_tasks

    def get_read_tasks(self: Any, *a: Any, **k: Any) -> Any:
        tasks = orig(self, *a, **k)
        for i, t in enumerate(tasks):
            t._read_fn = _wrap(t._read_fn, i, TRACE_DIR)
        return tasks
    kray.RecordsDatasource.get_read_tasks = get_read_tasks  # type: ignore[method-assign]


def make_files(d: str, files: int, records: int, size: int = 100) -> List[str]:
    import random
    rnd = random.Random(7)
    paths = []
    for i in range(files):
        p = os.path.join(d, f"f{i}.riegeli")
        paths.append(p)
        if os.path.exists(p):
            continue
        payload = rnd.randbytes(size * 1024)
        with RecordWriter(p, array_record=True) as w:
            for j in range(records):
                o = (j * 37) % 1024 * size // 1024
                w.write_record(payload[o:o + size])
    return paths


def tree_cpu() -> Dict[str, float]:
    """CPU seconds (user + system) of this process and all its descendants, by name."""
    kids: Dict[int, List[int]] = collections.defaultdict(list)
    info: Dict[int, Any] = {}
    tck = os.sysconf("SC_CLK_TCK")
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        comm = st[st.index("(") + 1:st.rindex(")")]
        rest = st[st.rindex(")") + 2:].split()
        kids[int(rest[1])].append(int(d))
        info[int(d)] = (comm, cmd, (int(rest[11]) + int(rest[12])) / tck)
    out: Dict[str, float] = collections.defaultdict(float)
    todo = [os.getpid()]
    while todo:
        p = todo.pop()
        todo += kids.get(p, [])
        if p in info:
            comm, cmd, cpu = info[p]
            name = "driver" if p == os.getpid() else comm
            if "ray::" in comm or "ray::" in cmd[:40]:
                name = "worker " + str(p)
            elif "default_worker" in cmd or "IDLE" in comm:
                name = "worker " + str(p)
            out[name] += cpu
    return out


@ray.remote(num_cpus=1)
def _up(t: float) -> int:
    import keeldb.ray  # noqa: F401  (what a read task imports)
    time.sleep(max(0.0, t - time.time()))
    return os.getpid()


def prime_workers(cpus: int = 2) -> None:
    for _ in range(10):
        if len(set(ray.get([_up.remote(time.time() + 0.3) for _ in range(cpus)]))) == cpus:
            return


def count(t: pa.Table) -> pa.Table:
    return pa.table({"n": [t.num_rows]})


def run(paths: List[str], mode: str, sets: Dict[str, Any], read_kw: Dict[str, Any],
        cpus: int = 2) -> int:
    ctx = ray.data.DataContext.get_current()
    saved = {k: getattr(ctx, k) for k in sets}
    for k, v in sets.items():
        setattr(ctx, k, v)
    # "1": every task asks for all CPUs (one at a time); "2h": read and count ask for half a
    # CPU each (so the executor keeps twice as many tasks in flight as CPUs, and fuses).
    kw: Dict[str, Any] = ({"num_cpus": cpus} if mode == "1" else
                          {"num_cpus": 0.5} if mode == "2h" else {})
    ctx.op_resource_reservation_enabled = mode != "2nr"
    limits = ctx.execution_options.resource_limits
    if mode == "1l":
        # One worker by Ray Data's own limit: tasks ask for one CPU as in "2", the
        # executor runs one at a time, and the raylet keeps the idle worker up.
        ctx.execution_options.resource_limits = ExecutionResources.for_limits(cpu=1)
    try:
        ds = kray.read_records(paths, **read_kw, **kw)
    finally:
        ctx.op_resource_reservation_enabled = True
        ctx.execution_options.resource_limits = limits
        for k, v in saved.items():
            setattr(ctx, k, v)
    counts = ds.map_batches(count, batch_format="pyarrow", batch_size=None, **kw)
    return sum(sum(b["n"].to_pylist()) for b in counts.iter_batches(batch_format="pyarrow"))


def parse_kv(items: List[str]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for it in items:
        k, v = it.split("=", 1)
        try:
            out[k] = json.loads(v)
        except ValueError:
            out[k] = v
    return out


def report(t0: float, t1: float, events: List[Any]) -> Dict[str, Any]:
    rows = []
    for name in os.listdir(TRACE_DIR):
        with open(os.path.join(TRACE_DIR, name)) as f:
            rows += [ln.split() for ln in f]
    tasks: Dict[int, Dict[str, Any]] = collections.defaultdict(
        lambda: {"yields": [], "stall": 0.0})
    for r in rows:
        kind, idx, pid, t = r[0], int(r[1]), int(r[2]), float(r[3])
        d = tasks[idx]
        d["pid"] = pid
        if kind == "start":
            d["start"] = t
            d["cpu0"] = float(r[4])
            d["nth"], d["age"], d["flt0"] = int(r[5]), float(r[6]), int(r[7])
        elif kind == "end":
            d["end"] = t
            d["cpu"] = float(r[4]) - d["cpu0"]
            d["flt"] = int(r[5]) - d["flt0"]
        elif kind == "yield":
            d["yields"].append(t)
            d["last_yield"] = t
        elif kind == "resume":
            d["stall"] += t - d["last_yield"]
    pids = sorted({d["pid"] for d in tasks.values()})
    print(f"execution {t1 - t0:.2f} s; tasks {len(tasks)}; workers {pids}")
    disp = [e[1] for e in events if e[0] == "dispatch" and t0 <= e[1] <= t1]
    print("task  pid   dispatch  start    end      secs  blocks  in-yield s  task CPU s  "
          "worker's tasks before / age s  page faults")
    for i in sorted(tasks):
        d = tasks[i]
        dt = disp[i] - t0 if i < len(disp) else float("nan")
        print(f"{i:4d}  {d['pid']:6d}  {dt:6.2f}  {d['start'] - t0:6.2f}  {d.get('end', t1) - t0:6.2f}  "
              f"{d.get('end', t1) - d['start']:6.2f}  {len(d['yields']):5d}  {d['stall']:8.2f}  {d.get('cpu', 0):8.2f}  {d['nth']:3d} / {d['age']:.0f}  {d.get('flt', 0):8d}")
    # Per worker: busy intervals and the gaps between them.
    busy_total = 0.0
    idle_total = 0.0
    for pid in pids:
        iv = sorted((d["start"], d.get("end", t1)) for d in tasks.values() if d["pid"] == pid)
        gaps = [(iv[0][0] - t0, "before first")] + [
            (b[0] - a[1], "between") for a, b in zip(iv, iv[1:])] + [(t1 - iv[-1][1], "after last")]
        busy = sum(b - a for a, b in iv)
        busy_total += busy
        idle_total += sum(g for g, _ in gaps)
        print(f"worker {pid}: busy {busy:.2f} s; gaps " +
              ", ".join(f"{g:.2f} {w}" for g, w in gaps))
    # Concurrency over time (0.5 s bins).
    step = 0.5
    n = int((t1 - t0) / step) + 1
    line = []
    for k in range(n):
        a, b = t0 + k * step, t0 + (k + 1) * step
        c = sum(max(0.0, min(b, d.get("end", t1)) - max(a, d["start"])) for d in tasks.values())
        line.append(str(min(9, round(c / step * 4))))
    print("read tasks at once, per 0.5 s, in quarters (8 = 2 tasks):\n  " + "".join(line))
    steps = [e for e in events if e[0] == "step" and t0 <= e[1] <= t1]
    disp = [e for e in events if e[0] == "dispatch" and t0 <= e[1] <= t1]
    lim = [e for e in events if e[0] == "limits" and t0 <= e[1] <= t1]
    firstcpu = next((e[1] - t0 for e in lim if e[2] and e[2] > 0), None)
    zero_read = [e for e in steps if any(v == 0 for v in e[4].values())]
    print(f"scheduling steps {len(steps)}, mean {1000 * (t1 - t0) / max(1, len(steps)):.1f} ms; "
          f"steps with an op limited to 0 output bytes: {len(zero_read)}; "
          f"dispatches at {[round(e[1] - t0, 2) for e in disp]}; first CPU limit > 0 at "
          f"{firstcpu if firstcpu is None else round(firstcpu, 2)} s")
    # What the executor did between each task's end (in its worker) and the next dispatch.
    ends = sorted(d["end"] for d in tasks.values() if "end" in d)
    for e in ends:
        nxt = [x for x in disp if x[1] > e]
        if not nxt:
            continue
        near = [x for x in steps if e - 0.12 <= x[1] <= nxt[0][1]]
        print(f"  task end at {e - t0:.3f}, next dispatch +{nxt[0][1] - e:.3f} s; steps "
              "(start, length, active before -> after): " + ", ".join(
                  f"({x[1] - e:+.3f}, {x[2] - x[1]:.3f}, {x[3]}->{x[5]})" for x in near))
    lens = sorted(x[2] - x[1] for x in steps)
    if lens:
        q = lambda f: 1000 * lens[min(len(lens) - 1, int(f * len(lens)))]
        print(f"step length ms: p10 {q(0.1):.0f}, median {q(0.5):.0f}, p90 {q(0.9):.0f}")
    # Active-task count seen by the executor over time.
    act = collections.Counter(e[3] for e in steps)
    print(f"active tasks per step: {dict(sorted(act.items()))}")
    bud = [e for e in events if e[0] == "budget" and t0 <= e[1] <= t1]
    if bud:
        print("budgets (cpu, object store MB) sampled: " + "; ".join(
            f"{e[1] - t0:.2f}s " + ",".join(f"{k}:({v[0]:.1f},{v[1] / 2**20:.0f})"
                                              for k, v in e[2].items())
            for e in bud[:: max(1, len(bud) // 8)]))
    stalls = sum(d["stall"] for d in tasks.values())
    return {"secs": t1 - t0, "busy": busy_total, "stall": stalls, "tasks": len(tasks),
            "idle": idle_total, "cpu": sum(d.get("cpu", 0.0) for d in tasks.values())}


def simulate(late: float = 1.07, gap: float = 0.2) -> None:
    """The executor's list scheduling with the traced costs: worker B free ``late`` s after
    A, each task after the first two handed out ``gap`` s after a worker frees; the 2/1
    ratio for one worker's work W of 20 and 40 s cut into equal tasks (1, 2, 3, 4 or 8 per
    CPU) or shrinking ones (each half of what is left, at least 5 % of W)."""
    def makespan(sizes: List[float]) -> float:
        free = [0.0, late]
        for i, x in enumerate(sizes):
            w = min(range(2), key=lambda k: free[k])
            free[w] += x + (gap if i >= 2 else 0.0)
        return max(free)

    def shrinking(w: float) -> List[float]:
        out: List[float] = []
        left = w
        while left > 1e-9:
            x = min(left, max(left / 2, 0.05 * w))
            out.append(x)
            left -= x
        return out
    for w in (20.0, 40.0):
        plans = {f"{k}/CPU": [w / (2 * k)] * (2 * k) for k in (1, 2, 3, 4, 8)}
        plans["shrinking"] = shrinking(w)
        print(f"W = {w:.0f} s: " + ", ".join(
            f"{name} ({len(p)} tasks) {w / makespan(p):.2f}x" for name, p in plans.items()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=int, default=128)
    ap.add_argument("--mode", default="2")
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--records", type=int, default=1000000)
    ap.add_argument("--dir", default="/tmp/keel-ray-trace-data")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--idle", type=float, default=0.0,
                    help="seconds to sleep before each traced execution")
    ap.add_argument("--prime", action="store_true",
                    help="one short task per CPU at once before each traced execution "
                    "(as bench_distributed.py does): every worker process up")
    ap.add_argument("--set", nargs="*", default=[])
    ap.add_argument("--read", nargs="*", default=[])
    ap.add_argument("--simulate", action="store_true",
                    help="print the list-scheduling simulation with the traced costs only")
    a = ap.parse_args()
    if a.simulate:
        simulate()
        return
    os.makedirs(a.dir, exist_ok=True)
    paths = make_files(a.dir, a.files, a.records)
    events: List[Any] = []
    install_task_wrap()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    sets, read_kw = parse_kv(a.set), parse_kv(a.read)
    for m in ("1", "2", "2nr"):                  # warm-up: workers up, imports done
        run(paths, m, {}, {})
    install_driver_hooks(events)
    summary: List[str] = []
    for _ in range(a.repeat):
        for mode in a.mode.split(","):
            for name in os.listdir(TRACE_DIR):
                os.unlink(os.path.join(TRACE_DIR, name))
            time.sleep(a.idle)
            if a.prime:
                prime_workers()
            c0 = tree_cpu()
            t0 = time.time()
            n = run(paths * a.scale, mode, sets, read_kw)
            t1 = time.time()
            c1 = tree_cpu()
            print(f"== mode {mode} sets {sets} read {read_kw}: {n:,} records, "
                  f"{n / (t1 - t0) / 1e6:.1f} M/s, load {os.getloadavg()[0]:.1f}")
            r = report(t0, t1, events)
            d = {k: c1[k] - c0.get(k, 0.0) for k in c1}
            print("CPU s during the execution: " + ", ".join(
                f"{k} {v:.2f}" for k, v in sorted(d.items(), key=lambda kv: -kv[1])
                if v >= 0.01))
            summary.append(f"{mode:4s} {r['secs']:6.2f} s  task CPU {r['cpu']:6.2f} s "
                           f"({1e9 * r['cpu'] / n:.1f} ns/record)  worker idle "
                           f"{r['idle']:5.2f} s  driver CPU {d.get('driver', 0):.2f} s  "
                           f"load {os.getloadavg()[0]:.1f}")
            sys.stdout.flush()
    print("\n".join(summary))
    shutil.rmtree(TRACE_DIR, ignore_errors=True)
    ray.shutdown()


if __name__ == "__main__":
    main()
