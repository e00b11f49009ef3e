"""Crash tests: cut the database file at every byte of its last entries and reopen. What was
written before the cut is there and intact, a single put is there or absent, and an atomic
batch (KeystoneDB's batch_write on the default table, and a table's batch_write) is all there
or all absent, never half."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable, Dict

import numpy as np

import keeldb


def build(path: Path) -> None:
    with keeldb.Database.create(path) as db:
        t = db.create_table("events", partition_key=("device", "S"), sort_key=("ts", "N"))
        for i in range(5):
            db.put(b"base%d" % i, {"i": i, "vec": np.full(4, i, dtype=np.float32)})
            t.put_item({"device": "d", "ts": i})


def cut_and_check(path: Path, tmp: Path, start: int, check: Callable[[keeldb.Database], str]
                  ) -> Dict[str, int]:
    raw = path.read_bytes()
    outcomes: Dict[str, int] = {}
    for cut in range(start, len(raw) + 1):
        p = tmp / f"cut{cut}.keel"
        p.write_bytes(raw[:cut])
        # Every cut opens read-only (the recovery a reader does, without a fsync per cut);
        # every 8th also writable, which cuts the torn tail off the copy for good.
        writable = cut % 8 == 0 or cut == len(raw)
        with (keeldb.Database.open(p) if writable else keeldb.Database(p, readonly=True)) as db:
            if writable:
                assert p.stat().st_size <= cut
            assert db.verify() > 0
            for i in range(5):  # what came before is intact
                got = db.get(b"base%d" % i)
                assert got is not None and got["i"] == i
                assert got["vec"].tolist() == [i] * 4
                del got
            t = db.table("events")
            assert [x["ts"] for x in t.query("device = :d AND ts < :n",
                                             values={":d": "d", ":n": 5})] == list(range(5))
            outcome = check(db)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        p.unlink()
    return outcomes


def test_kv_batch_is_all_or_nothing(tmp_path: Path) -> None:
    path = tmp_path / "db.keel"
    build(path)
    start = path.stat().st_size
    with keeldb.Database.open(path) as db:
        assert db.batch_write(puts=[(b"b%d" % i, {"n": i, "pad": "x" * 40}) for i in range(6)],
                              deletes=[b"base0x"]) == 7

    def check(db: keeldb.Database) -> str:
        present = [db.get(b"b%d" % i) is not None for i in range(6)]
        assert all(present) or not any(present), present
        return "all" if all(present) else "none"

    out = cut_and_check(path, tmp_path, start, check)
    assert out["all"] == 1 and out["none"] > 100


def test_table_batch_is_all_or_nothing(tmp_path: Path) -> None:
    path = tmp_path / "db.keel"
    build(path)
    start = path.stat().st_size
    with keeldb.Database.open(path) as db:
        t = db.table("events")
        t.batch_write(puts=[{"device": "e", "ts": i, "x": "y" * 30} for i in range(5)],
                      deletes=[{"device": "d", "ts": 99}])

    def check(db: keeldb.Database) -> str:
        t = db.table("events")
        got = [x["ts"] for x in t.query("device = :d", values={":d": "e"})]
        assert got in ([], list(range(5))), got
        assert t.count() in (5, 10)
        return "all" if got else "none"

    out = cut_and_check(path, tmp_path, start, check)
    assert out["all"] == 1 and out["none"] > 100


def test_single_put_is_there_or_absent(tmp_path: Path) -> None:
    path = tmp_path / "db.keel"
    build(path)
    start = path.stat().st_size
    with keeldb.Database.open(path) as db:
        db.put(b"last", {"v": list(range(20))}, sk=b"s")

    def check(db: keeldb.Database) -> str:
        got = db.get(b"last", b"s")
        assert got in (None, {"v": list(range(20))})
        return "there" if got else "absent"

    out = cut_and_check(path, tmp_path, start, check)
    assert out["there"] == 1 and out["absent"] > 20


def test_readonly_open_of_a_torn_file_leaves_it_untouched(tmp_path: Path) -> None:
    path = tmp_path / "db.keel"
    build(path)
    with keeldb.Database.open(path) as db:
        db.put(b"x", {"v": 1})
    raw = path.read_bytes()
    torn = tmp_path / "torn.keel"
    torn.write_bytes(raw[:-5])
    with keeldb.Database(torn, readonly=True) as db:
        assert db.get(b"x") is None and db.get(b"base1") is not None
    assert torn.read_bytes() == raw[:-5]
    shutil.copy(torn, tmp_path / "again.keel")
