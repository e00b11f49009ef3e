"""Several processes on one database file, as an outside reliability campaign runs them:

- two writers racing conditional puts (attribute_not_exists): each opens, writes, compacts
  now and then and closes in a loop, retrying on LockedError; every key has exactly one
  winner and the stored item names it;
- a writer killed with SIGKILL at random moments during transactions, batches, table and
  index creation (with backfill), TTL reaping and compaction, under sync="data": after each
  kill the reopened file verifies, every acknowledged operation is there, every atomic one is
  all or nothing, and the secondary indexes equal a model rebuilt from the items;
- readers that open read-only over and over while a writer batches and compacts: every
  open sees whole batches only.
Seeded; a longer run with KEEL_PROC_ROUNDS."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Dict, Set, Tuple

import keeldb

ROUNDS = int(os.environ.get("KEEL_PROC_ROUNDS", "4"))

RACER = textwrap.dedent("""
    import sys, time, keeldb
    p, me, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    wins = []
    for k in range(n):
        while True:
            try:
                db = keeldb.Database.open(p)
                break
            except keeldb.LockedError:
                time.sleep(0.0005)
        try:
            db.table("tab").put_item({"pk": "k%d" % k, "who": me},
                                     condition="attribute_not_exists(pk)")
            wins.append(k)
        except keeldb.ConditionalCheckFailed:
            pass
        if k % 17 == 0:
            db.compact()
        db.close()
    print(" ".join(map(str, wins)))
""")


def test_conditional_puts_from_two_processes_have_one_winner(tmp_path: Path) -> None:
    p = tmp_path / "race.keel"
    with keeldb.Database.create(p) as db:
        db.create_table("tab", partition_key=("pk", "S"))
    n = 80
    procs = [subprocess.Popen([sys.executable, "-c", RACER, str(p), who, str(n)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for who in "AB"]
    outs = [pr.communicate(timeout=120) for pr in procs]
    assert [pr.returncode for pr in procs] == [0, 0], [e for _, e in outs]
    wins = [set(map(int, o.split())) for o, _ in outs]
    assert not wins[0] & wins[1] and wins[0] | wins[1] == set(range(n))
    with keeldb.Database(p, readonly=True) as db:
        t = db.table("tab")
        for k in range(n):
            item = t.get_item({"pk": f"k{k}"})
            assert item is not None and item["who"] == ("A" if k in wins[0] else "B")


WRITER = textwrap.dedent("""
    import sys, keeldb
    p, i = sys.argv[1], int(sys.argv[2])
    db = keeldb.Database.open(p, sync="data")
    t = db.table("tab")
    while True:
        k = i % 6
        if k == 0:
            db.transact_write(
                [{"Put": {"TableName": "tab", "Item": {"pk": "T%d" % i, "sk": j, "c": "c%d" % j}}}
                 for j in range(3)]
                + [{"Update": {"TableName": "tab", "Key": {"pk": "ctr", "sk": 0},
                               "UpdateExpression": "ADD v :one",
                               "ExpressionAttributeValues": {":one": 1}}}])
        elif k == 1:
            t.batch_write(puts=[{"pk": "B%d" % i, "sk": j, "c": "c%d" % (j % 4), "pad": "x" * 2000}
                                for j in range(20)])
        elif k == 2:
            tb = db.create_table("tb%05d" % i, partition_key=("id", "N"))
            tb.batch_write(puts=[{"id": j, "g": "g%d" % (j % 5), "pad": "y" * 300}
                                 for j in range(200)])
            tb.add_index("byg", partition_key=("g", "S"), sort_key=("id", "N"))
        elif k == 3:
            t.batch_write(puts=[{"pk": "E%d" % i, "sk": j, "c": "c9", "exp": 1} for j in range(10)])
            db.reap_expired()
        elif k == 4 and i % 4 == 0:
            db.compact()
        elif k == 5:
            t.put_item({"pk": "C%d" % i, "sk": 0, "c": "c1"}, condition="attribute_not_exists(pk)")
        print("ACK %d" % i, flush=True)
        i += 1
""")


def check_after_kill(p: Path, acked: Set[int], last: int) -> None:
    with keeldb.Database.open(p) as db:
        db.verify()
        t = db.table("tab")
        items: Dict[Tuple[str, int], dict] = {(it["pk"], it["sk"]): it for it in t.scan()}
        ntx = 0
        for i in range(last + 1):
            if i % 6 == 0:
                got = [(f"T{i}", j) in items for j in range(3)]
                assert got in ([True] * 3, [False] * 3), (i, got)
                ntx += got[0]
                assert got[0] or i not in acked, f"acknowledged transaction {i} lost"
            elif i % 6 == 1:
                got = [(f"B{i}", j) in items for j in range(20)]
                assert all(got) or not any(got), (i, got)
                assert got[0] or i not in acked, f"acknowledged batch {i} lost"
            elif i % 6 == 5 and i in acked:
                assert (f"C{i}", 0) in items, f"acknowledged conditional put {i} lost"
        assert items[("ctr", 0)].get("v", 0) == ntx  # the counter moved with the transactions
        model: Dict[str, Set[Tuple[str, int]]] = {}
        for key, it in items.items():
            if "c" in it:
                model.setdefault(it["c"], set()).add(key)
        for c, keys in model.items():
            got = {(x["pk"], x["sk"]) for x in t.query("c = :c", values={":c": c}, index="byc")}
            assert got == keys, (c, got ^ keys)
        for name in db.list_tables():
            if name == "tab":
                continue
            tb = db.table(name)
            rows = {x["id"]: x["g"] for x in tb.scan()}
            i = int(name[2:])
            assert len(rows) in (0, 200) and (len(rows) == 200 or i not in acked), name
            indexes = tb.describe()["indexes"]
            assert not any(x["creating"] for x in indexes)  # a writable open finishes them
            if any(x["name"] == "byg" for x in indexes):
                for g in range(5):
                    got = {x["id"] for x in tb.query("g = :g", values={":g": f"g{g}"},
                                                     index="byg")}
                    assert got == {k for k, v in rows.items() if v == f"g{g}"}, (name, g)
            else:
                assert i not in acked, f"acknowledged index of {name} lost"
        del items


def test_kill9_during_writes(tmp_path: Path) -> None:
    p = tmp_path / "k.keel"
    with keeldb.Database.create(p) as db:
        t = db.create_table("tab", partition_key=("pk", "S"), sort_key=("sk", "N"))
        t.add_index("byc", partition_key=("c", "S"), sort_key=("sk", "N"))
        t.enable_ttl("exp")
        t.put_item({"pk": "ctr", "sk": 0, "v": 0})
    rng = random.Random(16)
    acked: Set[int] = set()
    start = 0
    for _ in range(ROUNDS):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(p), str(start)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0.4, 1.0))
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate()
        assert proc.returncode == -signal.SIGKILL, err[-2000:]
        acks = [int(line.split()[1]) for line in out.splitlines() if line.startswith("ACK ")]
        acked |= set(acks)
        last = max(acks) + 1 if acks else start  # the operation in flight
        check_after_kill(p, acked, last)
        start = last + 1


READER = textwrap.dedent("""
    import sys, time, keeldb
    p, secs = sys.argv[1], float(sys.argv[2])
    end = time.time() + secs
    opens = 0
    while time.time() < end:
        with keeldb.Database(p, readonly=True) as db:
            groups = {}
            for it in db.table("tab").scan():
                groups.setdefault(it["pk"], []).append(it["sk"])
            bad = {g: v for g, v in groups.items() if sorted(v) != list(range(10))}
            assert not bad and len(groups) <= 5, bad
            opens += 1
    print(opens)
""")

BATCHER = textwrap.dedent("""
    import sys, keeldb
    with keeldb.Database.open(sys.argv[1]) as db:
        t = db.table("tab")
        for g in range(int(sys.argv[2])):
            t.batch_write(puts=[{"pk": "g%d" % g, "sk": j, "pad": "z" * 200} for j in range(10)],
                          deletes=[{"pk": "g%d" % (g - 5), "sk": j} for j in range(10)]
                          if g >= 5 else None)
            if g % 5 == 0:
                db.compact()
""")


def test_readers_reopen_while_a_writer_compacts(tmp_path: Path) -> None:
    p = tmp_path / "r.keel"
    with keeldb.Database.create(p) as db:
        db.create_table("tab", partition_key=("pk", "S"), sort_key=("sk", "N"))
    reader = subprocess.Popen([sys.executable, "-c", READER, str(p), "2.5"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    w = subprocess.run([sys.executable, "-c", BATCHER, str(p), "150"], capture_output=True,
                       text=True, timeout=120)
    assert w.returncode == 0, w.stderr[-2000:]
    out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0 and int(out) > 0, err[-2000:]
