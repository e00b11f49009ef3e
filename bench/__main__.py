"""keel benchmark harness: keeldb against its peers, same machine, same run, same loops.

    .venv/bin/python -m bench                       # quick: 100k keys, 64 x 1 MiB, ~2 min
    .venv/bin/python -m bench --size full           # 1M keys, 512 x 1 MiB
    .venv/bin/python -m bench --size 200000 --engines keeldb,lmdb --reps 5

Each engine runs in its own subprocess (python -m bench.worker), one after the other, so
peak RSS is per engine and engines do not disturb each other. Outputs: a table per workload
on stdout, latest.json and PNG charts in bench/results/ (a full run: the figures the README
shows) or bench/results/other/ (any other size; not tracked by git).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from . import report
from .common import LARGE_LEN, SEED_KEYS, VAL_LEN, KEY_LEN, BATCH, SYNC_EVERY, resolve_size
from .engines import ENGINE_ORDER, ENGINES


def machine_info(workdir: str) -> dict:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    fs = "?"
    try:  # file system of the work directory: longest matching mount point
        best = ""
        real = os.path.realpath(workdir)
        with open("/proc/mounts") as f:
            for line in f:
                dev, mnt, typ = line.split()[:3]
                if (real == mnt or real.startswith(mnt.rstrip("/") + "/")) and len(mnt) > len(best):
                    best, fs = mnt, f"{typ} ({dev} on {mnt})"
    except OSError:
        pass
    virt = []
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=5)
        for line in out.stdout.splitlines():
            if line.startswith("Hypervisor vendor:"):
                virt.append(line.split(":", 1)[1].strip() + " VM")
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        out = subprocess.run(["systemd-detect-virt", "--container"], capture_output=True,
                             text=True, timeout=5)
        if out.returncode == 0 and out.stdout.strip() not in ("", "none"):
            virt.append(out.stdout.strip() + " container")
    except (OSError, subprocess.SubprocessError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_bytes": mem,
        "virtualization": ", ".join(virt) or None,
        "loadavg_start": _loadavg(),
        "keel_commit": _git_commit(),
        "kernel": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "filesystem": fs,
    }


def _loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def _git_commit() -> str:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                              capture_output=True, text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=5).stdout.strip()
        return (head or "?") + ("+uncommitted changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "?"


def run_engine(name: str, n: int, large: int, reps: int, workdir: str) -> dict:
    """One worker process for one engine; returns its result dict plus peak RSS."""
    result_file = os.path.join(workdir, f"{name}.result.json")
    cmd = [sys.executable, "-m", "bench.worker", "--engine", name, "--n", str(n),
           "--large", str(large), "--reps", str(reps), "--workdir", workdir,
           "--result", result_file]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env)
    _pid, status, rusage = os.wait4(proc.pid, 0)  # this child's own rusage
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    try:
        with open(result_file) as f:
            out = json.load(f)
    except (OSError, ValueError):
        out = {"engine": name, "status": "error",
               "error": f"worker exited with {proc.returncode} and no result", "results": {}}
    out["peak_rss_bytes"] = rusage.ru_maxrss * 1024
    out["wall_seconds"] = wall
    out["exit_code"] = proc.returncode
    try:
        os.unlink(result_file)
    except OSError:
        pass
    return out


def merge(prev: dict | None, new: dict) -> dict:
    """Folds one more repetition (one worker run) of an engine into its accumulated result:
    per-workload rates are appended and the median recomputed; RSS is the max; disk usage
    and versions are the latest; the first error or "missing" sticks."""
    if prev is None:
        return new
    if prev.get("status") in ("missing", "error"):
        return prev
    out = dict(new)
    for key in ("peak_rss_bytes", "rss_small_workloads_bytes", "rss_baseline_bytes"):
        vals = [v for v in (prev.get(key), new.get(key)) if v is not None]
        out[key] = max(vals) if vals else None
    out["wall_seconds"] = prev.get("wall_seconds", 0) + new.get("wall_seconds", 0)
    floors = prev.get("_floors", [prev.get("page_cache_floor_MiB_per_s")]) + \
        [new.get("page_cache_floor_MiB_per_s")]
    out["_floors"] = floors
    fl = [f for f in floors if f]
    out["page_cache_floor_MiB_per_s"] = statistics.median(fl) if fl else None
    results = {}
    for wid in set(prev.get("results", {})) | set(new.get("results", {})):
        a, b = prev["results"].get(wid), new.get("results", {}).get(wid)
        if a is None or b is None or a.get("status") != "ok" or b.get("status") != "ok":
            results[wid] = b or a
            continue
        rates = a["reps_ops_per_s"] + b["reps_ops_per_s"]
        med = statistics.median(rates)
        results[wid] = dict(a, reps_ops_per_s=rates, ops_per_s=med,
                            seconds_median=a["n_ops"] / med)
    out["results"] = results
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", default="quick",
                   help="quick (100k keys, 64 x 1 MiB; default), full (1M keys, 512 x 1 MiB) "
                        "or a number of keys")
    p.add_argument("--large", type=int, default=None, help="number of 1 MiB values (override)")
    p.add_argument("--engines", default=",".join(ENGINE_ORDER),
                   help=f"comma-separated subset of {','.join(ENGINE_ORDER)}")
    p.add_argument("--reps", type=int, default=3, help="repetitions per figure (median; default 3)")
    p.add_argument("--out", default=None,
                   help="output directory (default: bench/results for --size full, the "
                        "published run; bench/results/other/, which git ignores, otherwise)")
    p.add_argument("--workdir", default=None,
                   help="where the stores are created (default: a new temporary directory under "
                        "$TMPDIR or /tmp, removed afterwards)")
    p.add_argument("--no-charts", action="store_true", help="skip the PNG charts")
    p.add_argument("--readme", action="store_true",
                   help="with --replot: print only the README's summary table (Markdown)")
    p.add_argument("--replot", metavar="JSON",
                   help="run nothing: print the tables of a saved latest.json and redraw its "
                        "charts into --out (default: the JSON file's folder)")
    a = p.parse_args(argv)
    if a.out is None:
        if a.replot:
            a.out = os.path.dirname(a.replot) or "."
        else:
            a.out = "bench/results" if a.size == "full" else "bench/results/other"

    if a.replot:
        with open(a.replot) as f:
            doc = json.load(f)
        if a.readme:
            print(report.readme_table(doc))
            return 0
        print(report.header_from_doc(doc))
        print(report.tables(doc))
        if not a.no_charts:
            os.makedirs(a.out, exist_ok=True)
            for png in report.charts(doc, a.out):
                print(f"chart: {png}")
        return 0

    n, large = resolve_size(a.size)
    if a.large is not None:
        large = a.large
    engines = [e.strip() for e in a.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        p.error(f"unknown engine(s) {unknown}; choose from {ENGINE_ORDER}")
    engines = [e for e in ENGINE_ORDER if e in engines]  # fixed order; keel first
    if a.reps < 1:
        p.error("--reps must be >= 1")

    os.makedirs(a.out, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="keel-bench-", dir=a.workdir)
    try:
        date = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        machine = machine_info(workdir)
        print(report.header(machine, date, n, large, a.reps, engines), flush=True)
        # Repetitions are interleaved across engines (repetition 1 of every engine, then
        # repetition 2, ...), each in a fresh process, so slow drifts in the machine's load
        # hit every engine alike instead of whichever engine happened to run at the time.
        runs: dict[str, dict] = {}
        for rep in range(a.reps):
            for name in engines:
                if runs.get(name, {}).get("status") in ("missing", "error"):
                    continue
                print(f"-- {name}, repetition {rep + 1}/{a.reps}", file=sys.stderr, flush=True)
                runs[name] = merge(runs.get(name), run_engine(name, n, large, 1, workdir))
        machine["loadavg_end"] = _loadavg()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    doc = report.build_json(runs, engines, machine, date, n, large, a.reps, {
        "key_bytes": KEY_LEN, "value_bytes": VAL_LEN, "large_value_bytes": LARGE_LEN,
        "batch": BATCH, "fsync_every": SYNC_EVERY, "seed": SEED_KEYS})
    path = os.path.join(a.out, "latest.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(report.tables(doc))
    if not a.no_charts:
        for png in report.charts(doc, a.out):
            print(f"chart: {png}")
    print(f"json:  {path}")
    return 0 if all(r.get("status") != "error" for r in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
