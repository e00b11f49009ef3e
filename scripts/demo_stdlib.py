"""Demonstration on real data: store every file of this Python's standard library in a keel
store, read each back and compare, then delete half, compact, and reopen.

Run by scripts/demo.sh as `python scripts/demo_stdlib.py STORE_PATH`. Prints what it did and
how long each step took; exits non-zero if any byte differs.
"""
from __future__ import annotations

import sys
import sysconfig
import time
from pathlib import Path

from keeldb import DataStore


def main() -> int:
    store_path = Path(sys.argv[1])
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.rglob("*") if p.is_file() and "site-packages" not in p.parts)
    total = sum(p.stat().st_size for p in files)
    print(f"source: {root} ({len(files)} files, {total / 2**20:.1f} MiB)")

    t = time.perf_counter()
    with DataStore(store_path) as store:
        batch = []
        for p in files:
            key = str(p.relative_to(root)).encode()
            if p.stat().st_size > 1 << 20:
                with p.open("rb") as f:
                    store.write_stream(key, f)     # large files are streamed
            else:
                batch.append((key, p.read_bytes()))
            if len(batch) >= 1000:
                store.batch_write(batch)
                batch.clear()
        if batch:
            store.batch_write(batch)
        write_s = time.perf_counter() - t

    t = time.perf_counter()
    with DataStore(store_path) as store:
        open_s = time.perf_counter() - t
        t = time.perf_counter()
        bad = [p for p in files if store.read(str(p.relative_to(root)).encode()) != p.read_bytes()]
        read_s = time.perf_counter() - t
        print(f"wrote {len(files)} files in {write_s:.2f} s, reopened in {open_s * 1000:.1f} ms, "
              f"read back and compared in {read_s:.2f} s: {len(bad)} differences")
        if bad:
            return 1
        entry = store.read_entry(b"os.py")
        assert entry is not None
        mv = memoryview(entry)  # zero-copy: the bytes of the mapping itself
        first = bytes(mv[:200]).split(b"\n")[0].decode()
        print(f"os.py through a zero-copy view: {len(mv)} bytes, first line {first!r}")
        mv.release()

        doomed = [str(p.relative_to(root)).encode() for p in files[::2]]
        store.batch_delete(doomed)
        before = store.file_size
        saving = store.estimate_compaction_savings()
        t = time.perf_counter()
        store.compact()
        print(f"deleted {len(doomed)} keys; compaction ({saving / 2**20:.1f} MiB estimated) took "
              f"{time.perf_counter() - t:.2f} s: {before / 2**20:.1f} -> {store.file_size / 2**20:.1f} MiB")
        survivors = files[1::2]
        bad = [p for p in survivors if store.read(str(p.relative_to(root)).encode()) != p.read_bytes()]
        print(f"{len(store)} keys live after compaction, {len(bad)} differences")
        return 1 if bad or len(store) != len(survivors) else 0


if __name__ == "__main__":
    sys.exit(main())
