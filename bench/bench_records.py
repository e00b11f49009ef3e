"""Record-file throughput: keeldb.RecordWriter/RecordReader against array_record, same run.

For 100-byte and 10 KiB records (fixed seed, random bytes), uncompressed and zstd:3,
measures write and read throughput (MB/s of record bytes and records/s) as the median of
--runs runs, in a fresh file each run, in --dir (default: a temporary directory; page cache,
no fsync, as both libraries do by default).

  keel write    RecordWriter.write_record per record, then close
  keel read     iterate RecordReader; records are zero-copy Bytes (len() touched)
  keel read+copy  the same, with to_bytes() per record (what Pisky's benchmark did)
  ar write      ArrayRecordWriter.write per record, group_size chosen for ~1 MiB chunks
                (its default 65536 records would make 640 MiB chunks of 10 KiB records)
  ar read       ArrayRecordReader.read() per record (sequential), and read_all() (its
                parallel bulk read) for reference

Usage: python bench/bench_records.py [--runs 5] [--mb 256] [--dir DIR] [--json | --markdown]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from typing import Callable

from keeldb import RecordReader, RecordWriter

try:
    from array_record.python import array_record_module as ar
except ImportError:  # pragma: no cover
    ar = None


def make_records(size: int, total_mb: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    n = max(1, total_mb * 1024 * 1024 // size)
    pool = [rng.randbytes(size) for _ in range(min(n, 1024))]
    return [pool[i % len(pool)] for i in range(n)]


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mb", type=int, default=256, help="MiB of records per case")
    ap.add_argument("--dir", default=None)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--markdown", action="store_true",
                    help="print the README's table (MB/s, keel/array_record in brackets)")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory(dir=args.dir)
    path = os.path.join(tmp.name, "bench.rec")
    results = []
    for size in (100, 10 * 1024):
        mb = args.mb if size > 1000 else max(1, args.mb // 4)
        recs = make_records(size, mb, seed=size)
        nbytes = sum(map(len, recs))
        for comp in (None, "zstd"):
            ar_opts = ("uncompressed" if comp is None else "zstd:3") + \
                f",group_size:{max(1, (1 << 20) // size)}"

            def keel_write() -> None:
                with RecordWriter(path, compression=comp) as w:
                    wr = w.write_record
                    for r in recs:
                        wr(r)

            def keel_read() -> None:
                n = 0
                for r in RecordReader(path):
                    n += len(r)
                assert n == nbytes

            def keel_read_copy() -> None:
                n = 0
                for r in RecordReader(path):
                    n += len(r.to_bytes())
                assert n == nbytes

            def ar_write() -> None:
                w = ar.ArrayRecordWriter(path, ar_opts)
                wr = w.write
                for r in recs:
                    wr(r)
                w.close()

            def ar_read() -> None:
                rd = ar.ArrayRecordReader(path)
                n = 0
                for _ in range(rd.num_records()):
                    n += len(rd.read())
                rd.close()
                assert n == nbytes

            def ar_read_all() -> None:
                rd = ar.ArrayRecordReader(path)
                n = sum(map(len, rd.read_all()))
                rd.close()
                assert n == nbytes

            cases: list[tuple[str, Callable[[], None], Callable[[], None] | None]] = [
                ("keel write", keel_write, None),
                ("keel read", keel_read, keel_write),
                ("keel read+copy", keel_read_copy, keel_write),
            ]
            if ar is not None:
                cases += [
                    ("ar write", ar_write, None),
                    ("ar read", ar_read, ar_write),
                    ("ar read_all", ar_read_all, ar_write),
                ]
            times: dict[str, float] = {}
            for name, fn, prep in cases:
                if prep is not None:
                    prep()
                runs = []
                for _ in range(args.runs):
                    if prep is None and os.path.exists(path):
                        os.unlink(path)
                    runs.append(timed(fn))
                t = statistics.median(runs)
                times[name] = t
                results.append({
                    "case": name, "record_size": size, "compression": comp or "none",
                    "records": len(recs), "mb_per_s": nbytes / t / 1e6,
                    "records_per_s": len(recs) / t, "seconds": t,
                })
            if ar is not None:
                for a, b in (("keel write", "ar write"), ("keel read", "ar read"),
                             ("keel read", "ar read_all")):
                    results.append({"case": f"ratio {a} / {b}", "record_size": size,
                                    "compression": comp or "none",
                                    "ratio": times[b] / times[a]})
    meta = {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d"), "runs": args.runs}
    if args.json:
        print(json.dumps({"meta": meta, "results": results}, indent=1))
        return
    if args.markdown:
        print(markdown(results))
        return
    print(f"# {meta}")
    for r in results:
        if "ratio" in r:
            print(f"{r['case']:38s} {r['record_size']:>6} {r['compression']:>5}  "
                  f"{r['ratio']:.2f}x")
        else:
            print(f"{r['case']:38s} {r['record_size']:>6} {r['compression']:>5}  "
                  f"{r['mb_per_s']:9.1f} MB/s {r['records_per_s']:12.0f} rec/s")


def markdown(results: list[dict]) -> str:
    """One row per record size and compression: MB/s of keel and array_record for writes and
    sequential reads, keel/array_record in brackets."""
    by = {(r["case"], r["record_size"], r["compression"]): r for r in results}
    out = ["| records | keel write | array_record write | keel read | array_record read |",
           "|---|---:|---:|---:|---:|"]
    for size, comp in sorted({(r["record_size"], r["compression"]) for r in results}):
        def mbs(case: str) -> str:
            r = by.get((case, size, comp))
            return f"{r['mb_per_s']:,.0f}" if r else "missing"

        def ratio(a: str, b: str) -> str:
            r = by.get((f"ratio {a} / {b}", size, comp))
            return f" ({r['ratio']:.2f}x)" if r else ""

        label = f"{size:,} B, {'uncompressed' if comp == 'none' else comp}"
        out.append(f"| {label} | **{mbs('keel write')}**{ratio('keel write', 'ar write')} | "
                   f"{mbs('ar write')} | **{mbs('keel read')}**{ratio('keel read', 'ar read')} | "
                   f"{mbs('ar read')} |")
    return "\n".join(out)


if __name__ == "__main__":
    main()
