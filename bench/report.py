"""Tables (Markdown, printed), latest.json and PNG charts from the per-engine results."""
from __future__ import annotations

import os

from .common import LARGE_LEN, WORKLOADS, units

KEEL = "keeldb"
MiB = 1 << 20
LARGE_IDS = {"large_write", "large_read", "large_read_view", "large_read_stream"}


def _mb(b):
    return "-" if b is None else f"{b / 1e6:,.1f} MB"


def header(machine: dict, date, n: int, large: int, reps: int, engines: list[str]) -> str:
    mem = machine.get("memory_bytes")
    lines = [
        "# keel benchmark",
        "",
        f"- date: {date.isoformat()}",
        f"- machine: {machine['cpu']}, {machine['cores']} cores"
        + (f", {mem / 2**30:.0f} GiB RAM" if mem else "")
        + (f", {machine['virtualization']} guest" if machine.get("virtualization") else ""),
        f"- system: {machine['kernel']}, {machine['python']}, stores on {machine['filesystem']}",
        f"- load average at start: {machine.get('loadavg_start', '?')}; "
        f"keel commit {machine.get('keel_commit', '?')}",
        f"- size: {n:,} keys of 16 B with 100 B values; {large} values of 1 MiB; "
        f"median of {reps} repetitions, interleaved across engines (one process per engine "
        f"per repetition)",
        f"- engines: {', '.join(engines)}",
    ]
    return "\n".join(lines) + "\n"


def header_from_doc(doc: dict) -> str:
    import datetime as dt
    p = doc["params"]
    return header(doc["machine"], dt.datetime.fromisoformat(doc["date"]), p["keys"],
                  p["large_values"], p["reps"], list(doc["engines"]))


def build_json(runs: dict, engines: list[str], machine: dict, date, n: int, large: int,
               reps: int, params: dict) -> dict:
    keel = runs.get(KEEL, {})
    keel_res = keel.get("results", {}) if keel.get("status") == "ok" else {}
    rows = []
    for wid, label, unit in WORKLOADS:
        for e in engines:
            run = runs[e]
            row = {"engine": e, "workload": wid, "label": label, "unit": f"{units(unit)}/s"}
            if run.get("status") == "missing":
                row["status"] = "missing"
            else:
                r = run.get("results", {}).get(wid)
                if r is None:
                    row["status"] = "error" if run.get("status") == "error" else "n/a"
                else:
                    row.update(r)
            ops = row.get("ops_per_s")
            k = keel_res.get(wid, {}).get("ops_per_s")
            row["keel_ratio"] = (k / ops) if (ops and k) else None
            rows.append(row)
    return {
        "schema": "keel-bench/1",
        "date": date.isoformat(),
        "machine": machine,
        "params": dict(params, keys=n, large_values=large, reps=reps),
        "note": ("ops_per_s is the median over repetitions of n_ops / wall seconds; "
                 "keel_ratio = keeldb ops_per_s / this engine's ops_per_s (>1: keel faster). "
                 "status: ok | n/a (engine offers no such API) | missing (not importable) | error"),
        "engines": {
            e: {k: runs[e].get(k) for k in ("status", "version", "config", "error", "calls",
                                            "peak_rss_bytes", "rss_small_workloads_bytes",
                                            "rss_baseline_bytes", "disk", "wall_seconds",
                                            "page_cache_floor_MiB_per_s", "exit_code")}
            for e in engines
        },
        "results": rows,
    }


def _fmt_ops(v) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:,.2f}"


def _cell(row) -> str:
    if row.get("status") == "ok":
        return _fmt_ops(row["ops_per_s"])
    return row.get("status", "?")


def _ratio(row) -> str:
    r = row.get("keel_ratio")
    if r is None:
        return "-"
    return f"{r:.2f}x" if r >= 0.1 else f"{r:.2g}x"


def tables(doc: dict) -> str:
    engines = list(doc["engines"])
    by = {(r["workload"], r["engine"]): r for r in doc["results"]}
    out = []
    for wid, label, unit in WORKLOADS:
        n_ops = next((by[wid, e].get("n_ops") for e in engines if by[wid, e].get("n_ops")), None)
        extra = ""
        if wid in LARGE_IDS:
            extra = "MiB/s"
        elif wid == "reopen":
            extra = "seconds"
        title = f"### {label}"
        if n_ops:
            title += f" ({n_ops:,} {units(unit)} per repetition)"
        out.append(title)
        out.append("")
        head = f"| engine | {units(unit)}/s | keel/peer |" + (f" {extra} |" if extra else "")
        out.append(head)
        out.append("|---|---:|---:|" + ("---:|" if extra else ""))
        for e in engines:
            row = by[wid, e]
            line = f"| {e} | {_cell(row)} | {_ratio(row)} |"
            if extra:
                if row.get("status") != "ok":
                    line += " - |"
                elif wid == "reopen":
                    line += f" {row['seconds_median']:.4f} |"
                else:
                    line += f" {row['ops_per_s'] * LARGE_LEN / MiB:,.0f} |"
            out.append(line)
        out.append("")

    floors = [(e, doc["engines"][e].get("page_cache_floor_MiB_per_s")) for e in engines]
    floors = [(e, f) for e, f in floors if f]
    if floors:
        out.append("Page-cache write floor for 7a, measured in each worker just before its 1 MiB "
                   "writes (os.write of the same 1 MiB buffers to a new file, no fsync; median "
                   "MiB/s): " + ", ".join(f"{e} {f:,.0f}" for e, f in floors) + ".")
        out.append("")

    out.append("### Disk and memory")
    out.append("")
    out.append("| engine | version | on disk after 1a | after 2 (batch) | after 7a (1 MiB) "
               "| peak RSS | RSS after small workloads |")
    out.append("|---|---|---:|---:|---:|---:|---:|")
    for e in engines:
        info = doc["engines"][e]
        disk = info.get("disk") or {}
        cells = [_mb((disk.get(k) or {}).get("allocated_bytes"))
                 for k in ("after_single_writes", "after_batch_writes", "after_large_writes")]
        ver = info.get("version") or info.get("status")
        out.append(f"| {e} | {ver} | {' | '.join(cells)} | {_mb(info.get('peak_rss_bytes'))} "
                   f"| {_mb(info.get('rss_small_workloads_bytes'))} |")
    out.append("")
    base = next((doc["engines"][e].get("rss_baseline_bytes") for e in engines
                 if doc["engines"][e].get("rss_baseline_bytes")), None)
    out.append("On disk = allocated blocks of the store's files after closing it. RSS includes "
               "the harness (keys, values and loop lists: "
               f"{_mb(base)} before any store is opened) and pages of memory-mapped files "
               "that were touched; peak RSS includes the 1 MiB workloads.")
    out.append("")

    out.append("### Summary: keel/peer ratio (>1 means keel is faster)")
    out.append("")
    peers = [e for e in engines if e != KEEL]
    out.append("| workload | " + " | ".join(peers) + " |")
    out.append("|---|" + "---:|" * len(peers))
    for wid, label, _unit in WORKLOADS:
        cells = []
        for e in peers:
            row = by[wid, e]
            cells.append(_ratio(row) if row.get("keel_ratio") else
                         (row.get("status") if row.get("status") != "ok" else "-"))
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    out.append("")

    le = doc["machine"].get("loadavg_end")
    if le:
        out.append(f"Load average at the end: {le} (at the start: "
                   f"{doc['machine'].get('loadavg_start')}).")
        out.append("")
    probs = [(e, i) for e, i in doc["engines"].items() if i.get("status") in ("missing", "error")]
    for e, i in probs:
        out.append(f"**{e}: {i['status']}** ({i.get('error')})")
    return "\n".join(out)


def readme_table(doc: dict) -> str:
    """The one-table summary the README shows: ops/s (MiB/s for 1 MiB transfers, ms for
    reopen) per engine, keel/peer ratio in brackets, keel in bold."""
    engines = list(doc["engines"])
    by = {(r["workload"], r["engine"]): r for r in doc["results"]}
    out = ["| workload (ops/s; keel/peer in brackets) | " + " | ".join(engines) + " |",
           "|---|" + "---:|" * len(engines)]
    for wid, label, _unit in WORKLOADS:
        mib = wid in LARGE_IDS and wid != "large_read_view"
        title = label + (" (MiB/s)" if mib else " (values/s)" if wid == "large_read_view" else "")
        cells = []
        for e in engines:
            row = by.get((wid, e), {})
            if row.get("status") != "ok":
                st = row.get("status", "n/a")
                cells.append("–" if st == "n/a" and wid in LARGE_IDS else st)
                continue
            v = row["ops_per_s"]
            if e == "dict" and wid in LARGE_IDS:
                cells.append("–")   # a dict stores and returns references: no transfer
                continue
            if wid == "reopen":
                ms = row["seconds_median"] * 1e3
                txt = f"{ms:.1f} ms" if ms >= 10 else f"{ms:.2g} ms"
            elif mib:
                txt = f"{v * LARGE_LEN / (1 << 20):,.0f}"
            else:
                txt = _human(v)
            if e == KEEL:
                txt = f"**{txt}**"
            elif row.get("keel_ratio"):
                txt += f" ({_short_ratio(row['keel_ratio'])})"
            cells.append(txt)
        out.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(out)


# ---- charts -----------------------------------------------------------------------------------
COLORS = {"keeldb": "#d62728", "simd_r_drive": "#1f77b4", "lmdb": "#2ca02c",
          "rocksdict": "#9467bd", "sqlite3": "#8c564b", "dict": "#7f7f7f"}


def _short_ratio(r: float) -> str:
    """Two significant digits, at least one decimal below 10: 0.17x, 1.0x, 6.8x, 23x."""
    if r >= 10:
        return f"{r:,.0f}x"
    t = f"{r:.2g}"
    return (t if "." in t or "e" in t else t + ".0") + "x"


def _human(v: float) -> str:
    """Three significant digits with a k/M/G suffix, trailing zeros kept: 1.20M, 785k."""
    for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1, "")):
        if v >= div or div == 1:
            x = v / div
            dec = 0 if x >= 100 else 1 if x >= 10 else 2
            return f"{x:.{dec}f}{suf}"
    return str(v)


def charts(doc: dict, outdir: str) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    engines = list(doc["engines"])
    by = {(r["workload"], r["engine"]): r for r in doc["results"]}
    m = doc["machine"]
    stamp = (f"{m['cpu']}, {m['cores']} cores; {doc['date'][:10]}; "
             f"{doc['params']['keys']:,} keys x 100 B, {doc['params']['large_values']} x 1 MiB; "
             f"median of {doc['params']['reps']}")
    written = []

    # 1: small multiples, one panel per workload, log x axis
    ncols = 3
    nrows = -(-(len(WORKLOADS) + 1) // ncols)  # one panel left for the legend
    fig, axes = plt.subplots(nrows, ncols, figsize=(17, 4.2 * nrows))
    axes = axes.ravel()
    ypos = list(range(len(engines)))[::-1]
    for ax, (wid, label, unit) in zip(axes, WORKLOADS):
        vals = []
        for y, e in zip(ypos, engines):
            row = by[wid, e]
            if row.get("status") == "ok":
                v = row["ops_per_s"]
                vals.append(v)
                ax.barh(y, v, color=COLORS.get(e, "k"), height=0.7)
        if vals:
            lo, hi = min(vals), max(vals)
            ax.set_xscale("log")
            ax.set_xlim(lo / 4, max(hi * 6, lo * 40))
            for y, e in zip(ypos, engines):
                row = by[wid, e]
                if row.get("status") == "ok":
                    v = row["ops_per_s"]
                    txt = _human(v)
                    if wid == "reopen":
                        txt = f"{1e3 / v:.3g} ms"
                    if row.get("keel_ratio") and e != KEEL:
                        txt += f"  (keel {_short_ratio(row['keel_ratio'])})"
                    ax.text(v * 1.08, y, txt, va="center", fontsize=9)
                else:
                    ax.text(lo / 3.6, y, row.get("status", "?"), va="center", fontsize=9,
                            color="#555555", style="italic")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_ylim(-0.7, len(engines) - 0.3)
        ax.set_yticks(ypos)
        ax.set_yticklabels(engines, fontsize=10)
        ax.set_title(label, fontsize=11, fontweight="bold")
        ax.set_xlabel(f"{units(unit)}/s (log scale)", fontsize=9)
        ax.grid(axis="x", which="major", alpha=0.3)
    for ax in axes[len(WORKLOADS):]:
        ax.axis("off")
    axes[len(WORKLOADS)].text(
        0.0, 0.9, "ops/s per engine, higher is better.\n"
        "\"(keel Nx)\" = keeldb ops/s divided by that engine's.\n"
        "n/a = the engine has no such API;\nmissing = not importable.\n\n" + stamp.replace("; ", "\n"),
        fontsize=10, va="top", transform=axes[len(WORKLOADS)].transAxes)
    fig.suptitle("keel (keeldb) vs peers from Python: ops/s per workload", fontsize=15,
                 fontweight="bold")
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    path = os.path.join(outdir, "ops_per_sec.png")
    fig.savefig(path, dpi=80)
    plt.close(fig)
    written.append(path)

    # 2: heat map of keel/peer ratios
    peers = [e for e in engines if e != KEEL]
    if peers and KEEL in engines:
        import math
        data, ann = [], []
        for wid, label, _unit in WORKLOADS:
            drow, arow = [], []
            for e in peers:
                row = by[wid, e]
                r = row.get("keel_ratio")
                drow.append(math.log10(r) if r else float("nan"))
                arow.append(_ratio(row) if r else row.get("status", "-")
                            if row.get("status") != "ok" else "-")
            data.append(drow)
            ann.append(arow)
        fig, ax = plt.subplots(figsize=(2.0 * len(peers) + 4.5, 0.55 * len(WORKLOADS) + 2.2))
        lim = max([abs(v) for r in data for v in r if v == v] + [0.5])
        im = ax.imshow(data, cmap="RdYlGn", vmin=-lim, vmax=lim, aspect="auto")
        ax.set_xticks(range(len(peers)))
        ax.set_xticklabels(peers, fontsize=10)
        ax.set_yticks(range(len(WORKLOADS)))
        ax.set_yticklabels([w[1] for w in WORKLOADS], fontsize=10)
        for i, arow in enumerate(ann):
            for j, t in enumerate(arow):
                ax.text(j, i, t, ha="center", va="center", fontsize=9)
        cb = fig.colorbar(im, ax=ax, fraction=0.04)
        ticks = [t for t in (-3, -2, -1, 0, 1, 2, 3) if abs(t) <= lim]
        cb.set_ticks(ticks)
        cb.set_ticklabels([f"{10 ** t:g}x" for t in ticks])
        ax.set_title("keel/peer throughput ratio (>1x: keel faster; green = keel ahead)\n"
                     + stamp, fontsize=10)
        fig.tight_layout()
        path = os.path.join(outdir, "keel_ratio.png")
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
    return written
