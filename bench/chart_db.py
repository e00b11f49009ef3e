"""chart_db.py: the README's Database chart, drawn from a bench_db.py --json result.

One horizontal bar per workload: keel's rate divided by each peer's (sqlite3, lmdb, moto when
present), median of the runs, on a log axis with 1x marked; each run's own ratio is a dot on
its bar, so the spread between runs shows. The goals of the Database issue are drawn as
ticks (5x sqlite3 for get and put, 3x for the rest). Reopen is a time, not a rate, and is left
out. Nothing here measures: it only reads the JSON that bench_db.py wrote.

    python bench/chart_db.py bench/results/db-2026-12-05-cpu-quiet-100k.json \\
        --out bench/results/db_ratio.png
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from typing import Any

WORKLOADS = [
    ("put", "put"), ("get", "get by key"), ("query", "query, 100 of a partition"),
    ("scan", "scan, filter keeps 10 %"), ("batch", "batch write, 100 a call"),
    ("cond_put", "conditional put"), ("update", "update SET x = x + 1"),
    ("transact", "transaction of 10 puts"), ("gsi_query", "query of a GSI"),
    ("partiql", "PartiQL SELECT by key"),
]
GOAL = {"put": 5.0, "get": 5.0}  # against sqlite3; every other workload: 3x
COLORS = {"sqlite3": "#4c72b0", "lmdb": "#dd8452", "moto": "#55a868"}


def ratios(doc: dict[str, Any], peer: str, workload: str) -> list[float]:
    """keel/peer for each run (runs[engine][workload] is a list, one rate per run)."""
    keel = doc["runs"].get("keeldb", {}).get(workload, [])
    other = doc["runs"].get(peer, {}).get(workload, [])
    return [k / o for k, o in zip(keel, other) if o > 0]


def draw(doc: dict[str, Any], out: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    peers = [p for p in ("sqlite3", "lmdb", "moto") if p in doc["runs"]]
    if "keeldb" not in doc["runs"] or not peers:
        raise ValueError("the JSON has no keeldb runs or no peer runs to divide by")
    rows = [(w, label) for w, label in WORKLOADS
            if any(ratios(doc, p, w) for p in peers)]
    height = 0.8 / len(peers)
    fig, ax = plt.subplots(figsize=(10, 0.55 * len(rows) * len(peers) + 1.8))
    for i, (w, _label) in enumerate(rows):
        y0 = len(rows) - 1 - i
        for j, p in enumerate(peers):
            r = ratios(doc, p, w)
            if not r:
                continue
            y = y0 + 0.4 - height * (j + 0.5)
            med = statistics.median(r)
            ax.barh(y, med, height=height * 0.9, color=COLORS[p],
                    label=p if i == 0 else None)
            ax.plot(r, [y] * len(r), "k.", markersize=3)
            ax.text(max(max(r), med) * 1.08, y, f"{med:.1f}x", va="center", fontsize=8)
        if "sqlite3" in peers:
            g = GOAL.get(w, 3.0)
            ax.plot([g, g], [y0 - 0.45, y0 + 0.45], color="#c44e52", linewidth=1.5)
    ax.axvline(1.0, color="#333333", linewidth=0.8)
    ax.set_xscale("log")
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
    lo, hi = ax.get_xlim()
    ticks = [t for t in (0.5, 1, 2, 3, 5, 10, 20, 50, 100, 1000, 10000) if lo <= t <= hi]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}x"))
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([label for _w, label in rows][::-1])
    ax.set_xlabel("keel's rate / the peer's (log scale; bar: median, dots: each run; "
                  "red tick: the goal against sqlite3)", fontsize=9)
    m = doc["meta"]
    load = m.get("load_average") or [0.0]
    ax.set_title(f"keel Database vs peers from Python: {m['n']:,} items, {m['runs']} runs, "
                 f"{m.get('clock', 'wall')} time; {m['date']}, {m['cpus']} CPUs, "
                 f"load {load[0]:.1f}", fontsize=10)
    ax.legend(loc="lower right", fontsize=9)
    ax.grid(axis="x", which="major", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", help="a bench_db.py --json result")
    ap.add_argument("--out", default="bench/results/db_ratio.png")
    a = ap.parse_args(argv)
    try:
        with open(a.json) as f:
            doc = json.load(f)
        draw(doc, a.out)
    except (OSError, ValueError, KeyError) as e:
        print(f"chart_db: {a.json}: {e!r}", file=sys.stderr)
        return 1
    print(f"chart: {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
