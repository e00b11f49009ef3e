"""The Database face against its peers, side by side in one run: ops/s and ratios.

Items of ten attributes (strings, numbers, a list, a map), --n items (default 100,000) in
--partitions partitions (default 1,000), fixed seed. Every engine gets the same items and
the same timed loops, one engine after another in this process, each on a fresh file in
--dir (default: a temporary directory); medians of --runs runs.

  put         one put per item (keel: Table.put_item; sqlite3: INSERT OR REPLACE in autocommit
              with a JSON column; lmdb: one write transaction per item, pickled values)
  get         get of --ops random items by key
  query       all 100 items of one partition (n / partitions), --queries times, sort-key order
  scan        every item through a filter that keeps 10 % (keel: FilterExpression in C;
              sqlite3: json_extract in SQL; lmdb: unpickle and test in Python)
  batch       the items again in batches of 100 (keel: batch_write, atomic; sqlite3:
              executemany in one transaction; lmdb: one transaction per batch)
  reopen      close, then open the populated file and read one item (seconds)

Part 2 (conditions, updates, transactions, indexes, PartiQL):

  cond_put    puts conditioned on attribute_not_exists(device) of --ops fresh keys (all
              succeed; sqlite3: INSERT ... ON CONFLICT DO NOTHING and a rowcount check)
  update      SET score = score + :one on --ops random items (sqlite3: UPDATE ... SET doc =
              json_set(doc, '$.score', json_extract(doc, '$.score') + 1))
  transact    transactions of 10 puts of new items (--ops / 10 of them; keel: Database.transact_write;
              sqlite3: BEGIN, 10 INSERT OR REPLACE, COMMIT; moto: transact_write_items)
  gsi_query   --queries queries of a global secondary index on "team" (about 10 items
              each), on a second table of the items holding the index from its creation
              (sqlite3: an index on json_extract(doc, '$.team'))
  partiql     SELECT * FROM "events" WHERE device = ? AND ts = ? on --ops random keys
              (keel: Database.execute; sqlite3: the same SELECT by primary key; moto:
              execute_statement)

An engine without a workload shows n/a (lmdb has none of part 2: it has no conditions,
expressions, indexes or query language to compare).

Durability: keel sync="none" (its default), sqlite3 WAL with synchronous=NORMAL, lmdb
sync=False; none fsyncs per write. moto (boto3's in-process DynamoDB mock, what Python users
test against today) runs the same loops on --moto-n items (default 2,000) and at most
--moto-ops (default 500) calls of each kind, because it takes milliseconds per call (a
transaction or a PartiQL SELECT takes the better part of a second: moto copies its tables
for a transaction's rollback and scans for PartiQL); its rates are per second all the same.

Clocks: wall time by default; --clock cpu times every loop by this process's CPU time
(time.process_time: user and system time of all its threads), for a machine shared with
other work, where a wall-clock rate also measures how often the scheduler ran us. CPU time
leaves out waiting (sqlite3's checkpoints fsync), so it understates keel's write ratios.

Usage: python bench/bench_db.py [--n 100000] [--runs 3] [--moto-n 2000] [--moto-ops 500]
                                [--clock wall|cpu] [--json FILE] [--markdown]
"""

from __future__ import annotations

import argparse
import decimal
import json
import os
import pickle
import platform
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from typing import Any, Callable

import keeldb

try:
    import lmdb
except ImportError:  # pragma: no cover
    lmdb = None

# The clock every timed loop reads: wall time by default; --clock cpu reads this process's
# CPU time (user + system, every thread), which other work on a shared machine leaves
# nearly alone. CPU time leaves out waiting: sqlite3's WAL checkpoints fsync its database
# file even with synchronous=NORMAL, so its writes take more wall time than CPU time, and
# keel's write ratios by CPU time are lower than by wall time on a quiet machine.
now: Callable[[], float] = time.perf_counter

WORKLOADS = ["put", "get", "query", "scan", "batch", "reopen",
             "cond_put", "update", "transact", "gsi_query", "partiql"]


def make_items(n: int, partitions: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    per = max(1, n // partitions)
    items = []
    for i in range(n):
        items.append({
            "device": f"device-{i // per:05d}",
            "ts": i % per,
            "temp": round(rng.uniform(-10, 40), 2),
            "humidity": rng.randrange(100),
            "status": rng.choice(["ok", "warn", "fail"]),
            "name": f"sensor {rng.randrange(10**6)}",
            "tags": [rng.choice("abcdefgh") * 3 for _ in range(3)],
            "meta": {"fw": f"1.{rng.randrange(20)}", "batt": rng.randrange(100)},
            "score": rng.randrange(1000),
            "active": rng.random() < 0.5,
            "team": f"team-{(i * 7919) % max(1, n // 10):06d}",
        })
    return items


class Engine:
    name = "?"

    def open(self, path: str) -> None: ...
    def close(self) -> None: ...
    def put(self, item: dict[str, Any]) -> None: ...
    def get(self, device: str, ts: int) -> Any: ...
    def query(self, device: str) -> int: ...
    def scan_filtered(self, below: int) -> int: ...
    def batch(self, items: list[dict[str, Any]]) -> None: ...
    # Part 2; an engine that lacks one raises NotImplementedError and shows n/a.
    def cond_put(self, item: dict[str, Any]) -> bool: raise NotImplementedError
    def incr(self, device: str, ts: int) -> None: raise NotImplementedError
    def transact(self, items: list[dict[str, Any]]) -> None: raise NotImplementedError
    def load_gsi(self, items: list[dict[str, Any]]) -> None: raise NotImplementedError
    def gsi_query(self, owner: str) -> int: raise NotImplementedError
    def partiql_get(self, device: str, ts: int) -> Any: raise NotImplementedError


class Keel(Engine):
    name = "keeldb"

    def open(self, path: str) -> None:
        self.db = keeldb.Database(os.path.join(path, "db.keel"))
        names = self.db.list_tables()
        self.t = (self.db.table("events") if "events" in names else
                  self.db.create_table("events", partition_key=("device", "S"),
                                       sort_key=("ts", "N")))

    def close(self) -> None:
        self.db.close()

    def put(self, item: dict[str, Any]) -> None:
        self.t.put_item(item)

    def get(self, device: str, ts: int) -> Any:
        return self.t.get_item({"device": device, "ts": ts})

    def query(self, device: str) -> int:
        return sum(1 for _ in self.t.query("device = :d", values={":d": device}))

    def scan_filtered(self, below: int) -> int:
        return sum(1 for _ in self.t.scan(filter="score < :s", values={":s": below}))

    def batch(self, items: list[dict[str, Any]]) -> None:
        self.t.batch_write(puts=items)

    def cond_put(self, item: dict[str, Any]) -> bool:
        try:
            self.t.put_item(item, condition="attribute_not_exists(device)")
            return True
        except keeldb.ConditionalCheckFailed:
            return False

    def incr(self, device: str, ts: int) -> None:
        self.t.update_item({"device": device, "ts": ts}, "SET score = score + :one",
                           values={":one": 1})

    def transact(self, items: list[dict[str, Any]]) -> None:
        self.db.transact_write([{"Put": {"TableName": "events", "Item": i}} for i in items])

    def load_gsi(self, items: list[dict[str, Any]]) -> None:
        self.g = self.db.create_table(
            "owned", partition_key=("device", "S"), sort_key=("ts", "N"),
            global_indexes=[{"name": "by_team", "partition_key": ("team", "S"),
                             "projection": "ALL"}])
        for i in range(0, len(items), 100):
            self.g.batch_write(puts=items[i:i + 100])

    def gsi_query(self, owner: str) -> int:
        return sum(1 for _ in self.g.query("team = :o", values={":o": owner},
                                           index="by_team"))

    def partiql_get(self, device: str, ts: int) -> Any:
        if not hasattr(self.db, "execute"):
            raise NotImplementedError
        return self.db.execute('SELECT * FROM "events" WHERE device = ? AND ts = ?',
                               [device, ts])


class Sqlite(Engine):
    name = "sqlite3"

    def open(self, path: str) -> None:
        self.c = sqlite3.connect(os.path.join(path, "db.sqlite"), isolation_level=None)
        self.c.execute("PRAGMA journal_mode=WAL")
        self.c.execute("PRAGMA synchronous=NORMAL")
        self.c.execute("CREATE TABLE IF NOT EXISTS events (pk TEXT, sk INTEGER, doc TEXT, "
                       "PRIMARY KEY (pk, sk)) WITHOUT ROWID")

    def close(self) -> None:
        self.c.close()

    def put(self, item: dict[str, Any]) -> None:
        self.c.execute("INSERT OR REPLACE INTO events VALUES (?, ?, ?)",
                       (item["device"], item["ts"], json.dumps(item)))

    def get(self, device: str, ts: int) -> Any:
        row = self.c.execute("SELECT doc FROM events WHERE pk = ? AND sk = ?",
                             (device, ts)).fetchone()
        return json.loads(row[0]) if row else None

    def query(self, device: str) -> int:
        rows = self.c.execute("SELECT doc FROM events WHERE pk = ? ORDER BY sk", (device,))
        return sum(1 for r in rows if json.loads(r[0]))

    def scan_filtered(self, below: int) -> int:
        rows = self.c.execute("SELECT doc FROM events WHERE json_extract(doc, '$.score') < ?",
                              (below,))
        return sum(1 for r in rows if json.loads(r[0]))

    def batch(self, items: list[dict[str, Any]]) -> None:
        self.c.execute("BEGIN")
        self.c.executemany("INSERT OR REPLACE INTO events VALUES (?, ?, ?)",
                           [(i["device"], i["ts"], json.dumps(i)) for i in items])
        self.c.execute("COMMIT")

    def cond_put(self, item: dict[str, Any]) -> bool:
        cur = self.c.execute("INSERT INTO events VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                             (item["device"], item["ts"], json.dumps(item)))
        return cur.rowcount == 1

    def incr(self, device: str, ts: int) -> None:
        self.c.execute("UPDATE events SET doc = json_set(doc, '$.score', "
                       "json_extract(doc, '$.score') + 1) WHERE pk = ? AND sk = ?",
                       (device, ts))

    def transact(self, items: list[dict[str, Any]]) -> None:
        self.c.execute("BEGIN")
        for i in items:
            self.c.execute("INSERT OR REPLACE INTO events VALUES (?, ?, ?)",
                           (i["device"], i["ts"], json.dumps(i)))
        self.c.execute("COMMIT")

    def load_gsi(self, items: list[dict[str, Any]]) -> None:
        self.c.execute("CREATE TABLE owned (pk TEXT, sk INTEGER, doc TEXT, "
                       "PRIMARY KEY (pk, sk)) WITHOUT ROWID")
        self.c.execute("CREATE INDEX owned_team ON owned (json_extract(doc, '$.team'))")
        self.c.execute("BEGIN")
        self.c.executemany("INSERT INTO owned VALUES (?, ?, ?)",
                           [(i["device"], i["ts"], json.dumps(i)) for i in items])
        self.c.execute("COMMIT")

    def gsi_query(self, owner: str) -> int:
        rows = self.c.execute("SELECT doc FROM owned WHERE json_extract(doc, '$.team') = ?",
                              (owner,))
        return sum(1 for r in rows if json.loads(r[0]))

    def partiql_get(self, device: str, ts: int) -> Any:
        row = self.c.execute("SELECT doc FROM events WHERE pk = ? AND sk = ?",
                             (device, ts)).fetchone()
        return json.loads(row[0]) if row else None


class Lmdb(Engine):
    name = "lmdb"

    @staticmethod
    def key(device: str, ts: int) -> bytes:
        return device.encode() + b"\x00" + ts.to_bytes(8, "big")

    def open(self, path: str) -> None:
        self.env = lmdb.open(os.path.join(path, "db.lmdb"), map_size=8 << 30, sync=False)

    def close(self) -> None:
        self.env.close()

    def put(self, item: dict[str, Any]) -> None:
        with self.env.begin(write=True) as txn:
            txn.put(self.key(item["device"], item["ts"]), pickle.dumps(item))

    def get(self, device: str, ts: int) -> Any:
        with self.env.begin() as txn:
            v = txn.get(self.key(device, ts))
            return pickle.loads(v) if v is not None else None

    def query(self, device: str) -> int:
        prefix = device.encode() + b"\x00"
        n = 0
        with self.env.begin() as txn:
            cur = txn.cursor()
            if cur.set_range(prefix):
                for k, v in cur:
                    if not k.startswith(prefix):
                        break
                    pickle.loads(v)
                    n += 1
        return n

    def scan_filtered(self, below: int) -> int:
        n = 0
        with self.env.begin() as txn:
            for _, v in txn.cursor():
                if pickle.loads(v)["score"] < below:
                    n += 1
        return n

    def batch(self, items: list[dict[str, Any]]) -> None:
        with self.env.begin(write=True) as txn:
            for i in items:
                txn.put(self.key(i["device"], i["ts"]), pickle.dumps(i))


def to_dynamo(item: dict[str, Any]) -> dict[str, Any]:
    return {k: (decimal.Decimal(str(v)) if isinstance(v, float) else v) for k, v in item.items()}


class Moto(Engine):
    name = "moto"

    def open(self, path: str) -> None:
        if getattr(self, "mock", None) is None:
            import boto3
            from moto import mock_aws
            os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
            os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
            os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
            self.mock = mock_aws()
            self.mock.start()
            self.res = boto3.resource("dynamodb", region_name="us-east-1")
            self.t = self.res.create_table(
                TableName="events",
                KeySchema=[{"AttributeName": "device", "KeyType": "HASH"},
                           {"AttributeName": "ts", "KeyType": "RANGE"}],
                AttributeDefinitions=[{"AttributeName": "device", "AttributeType": "S"},
                                      {"AttributeName": "ts", "AttributeType": "N"}],
                BillingMode="PAY_PER_REQUEST")

    def close(self) -> None:
        pass  # moto keeps its tables in memory; there is nothing to reopen

    def stop(self) -> None:
        if getattr(self, "mock", None) is not None:
            self.mock.stop()
            self.mock = None

    def put(self, item: dict[str, Any]) -> None:
        self.t.put_item(Item=to_dynamo(item))

    def get(self, device: str, ts: int) -> Any:
        return self.t.get_item(Key={"device": device, "ts": ts}).get("Item")

    def query(self, device: str) -> int:
        from boto3.dynamodb.conditions import Key
        return len(self.t.query(KeyConditionExpression=Key("device").eq(device))["Items"])

    def scan_filtered(self, below: int) -> int:
        from boto3.dynamodb.conditions import Attr
        n, kw = 0, {"FilterExpression": Attr("score").lt(below)}
        while True:
            r = self.t.scan(**kw)
            n += len(r["Items"])
            if "LastEvaluatedKey" not in r:
                return n
            kw["ExclusiveStartKey"] = r["LastEvaluatedKey"]

    def batch(self, items: list[dict[str, Any]]) -> None:
        with self.t.batch_writer() as w:
            for i in items:
                w.put_item(Item=to_dynamo(i))

    def cond_put(self, item: dict[str, Any]) -> bool:
        try:
            self.t.put_item(Item=to_dynamo(item),
                            ConditionExpression="attribute_not_exists(device)")
            return True
        except self.res.meta.client.exceptions.ConditionalCheckFailedException:
            return False

    def incr(self, device: str, ts: int) -> None:
        self.t.update_item(Key={"device": device, "ts": ts},
                           UpdateExpression="SET score = score + :one",
                           ExpressionAttributeValues={":one": 1})

    def transact(self, items: list[dict[str, Any]]) -> None:
        # The resource's client converts Python values to AttributeValues itself.
        self.res.meta.client.transact_write_items(TransactItems=[
            {"Put": {"TableName": "events", "Item": to_dynamo(i)}} for i in items])

    def load_gsi(self, items: list[dict[str, Any]]) -> None:
        self.g = self.res.create_table(
            TableName="owned",
            KeySchema=[{"AttributeName": "device", "KeyType": "HASH"},
                       {"AttributeName": "ts", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "device", "AttributeType": "S"},
                                  {"AttributeName": "ts", "AttributeType": "N"},
                                  {"AttributeName": "team", "AttributeType": "S"}],
            GlobalSecondaryIndexes=[{
                "IndexName": "by_team",
                "KeySchema": [{"AttributeName": "team", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"}}],
            BillingMode="PAY_PER_REQUEST")
        with self.g.batch_writer() as w:
            for i in items:
                w.put_item(Item=to_dynamo(i))

    def gsi_query(self, owner: str) -> int:
        from boto3.dynamodb.conditions import Key
        return len(self.g.query(IndexName="by_team",
                                KeyConditionExpression=Key("team").eq(owner))["Items"])

    def partiql_get(self, device: str, ts: int) -> Any:
        return self.res.meta.client.execute_statement(
            Statement='SELECT * FROM "events" WHERE device = ? AND ts = ?',
            Parameters=[device, ts])["Items"]


def run_engine(engine: Engine, items: list[dict[str, Any]], args: argparse.Namespace,
               workdir: str) -> dict[str, float]:
    rng = random.Random(1)
    n = len(items)
    devices = sorted({i["device"] for i in items})
    probes = [items[rng.randrange(n)] for _ in range(min(args.ops, n * 4))]
    qdevs = [rng.choice(devices) for _ in range(args.queries)]
    if isinstance(engine, Moto):  # milliseconds to seconds a call: fewer of them
        probes, qdevs = probes[:args.moto_ops], qdevs[:args.moto_ops]
    out: dict[str, float] = {}
    path = tempfile.mkdtemp(dir=workdir)
    try:
        engine.open(path)
        t = now()
        for it in items:
            engine.put(it)
        out["put"] = n / (now() - t)
        t = now()
        for p in probes:
            engine.get(p["device"], p["ts"])
        out["get"] = len(probes) / (now() - t)
        t = now()
        got = 0
        for d in qdevs:
            got += engine.query(d)
        out["query"] = len(qdevs) / (now() - t)
        t = now()
        kept = engine.scan_filtered(100)
        out["scan"] = n / (now() - t)
        assert 0.05 * n < kept < 0.15 * n, (engine.name, kept, n)
        t = now()
        for i in range(0, n, 100):
            engine.batch(items[i:i + 100])
        out["batch"] = n / (now() - t)
        if not isinstance(engine, Moto):
            # Before part 2, whose writes and second table would make the file larger.
            engine.close()
            t = now()
            engine.open(path)
            engine.get(items[0]["device"], items[0]["ts"])
            out["reopen"] = now() - t
        out.update(run_part2(engine, items, probes, qdevs, args))
        if isinstance(engine, Moto):
            engine.stop()
        else:
            engine.close()
    finally:
        shutil.rmtree(path, ignore_errors=True)
    return out


def timed(fn: Callable[[], int]) -> float | None:
    """Ops per second of fn (which returns how many it did), None when the engine lacks it."""
    t = now()
    try:
        done = fn()
    except NotImplementedError:
        return None
    return done / (now() - t)


def run_part2(engine: Engine, items: list[dict[str, Any]], probes: list[dict[str, Any]],
              qdevs: list[str], args: argparse.Namespace) -> dict[str, float]:
    n = len(items)
    k = min(len(probes), n)
    rng = random.Random(2)
    fresh = [dict(it, device="fresh-" + it["device"]) for it in items[:k]]
    owners = sorted({i["team"] for i in items})
    qowners = [rng.choice(owners) for _ in qdevs]
    res: dict[str, float | None] = {}

    def cond_put() -> int:
        ok = sum(engine.cond_put(it) for it in fresh)
        assert ok == k, (engine.name, ok, k)
        return k

    def update() -> int:
        for p in probes[:k]:
            engine.incr(p["device"], p["ts"])
        return k

    # Built before the clock starts, like cond_put's items: copying the benchmark's items
    # is no engine's work (inside the loop it took a third of keel's time).
    groups = [[dict(it, device="tx-" + it["device"]) for it in items[i:i + 10]]
              for i in range(0, min(n, k), 10)]

    def transact() -> int:
        for g in groups:
            engine.transact(g)
        return len(groups)

    def gsi_query() -> int:
        engine.load_gsi(items)  # untimed below: only the queries count
        return -1

    def partiql() -> int:
        for p in probes[:k]:
            engine.partiql_get(p["device"], p["ts"])
        return k

    res["cond_put"] = timed(cond_put)
    res["update"] = timed(update)
    res["transact"] = timed(transact)
    if timed(gsi_query) is not None:
        def queries() -> int:
            got = sum(engine.gsi_query(o) for o in qowners)
            assert got >= len(qowners), (engine.name, got)
            return len(qowners)
        res["gsi_query"] = timed(queries)
    res["partiql"] = timed(partiql)
    return {w: v for w, v in res.items() if v is not None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--partitions", type=int, default=1_000)
    ap.add_argument("--ops", type=int, default=100_000, help="random gets")
    ap.add_argument("--queries", type=int, default=2_000)
    ap.add_argument("--moto-n", type=int, default=2_000)
    ap.add_argument("--moto-ops", type=int, default=500,
                    help="at most this many gets, queries, updates, ... for moto")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--engines", default="keeldb,sqlite3,lmdb,moto")
    ap.add_argument("--dir", default=None)
    ap.add_argument("--json", default=None, help="write the results here")
    ap.add_argument("--markdown", action="store_true", help="print the README table")
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                    help="time loops by wall clock or by this process's CPU time")
    args = ap.parse_args()
    global now
    now = time.perf_counter if args.clock == "wall" else time.process_time

    engines: list[Engine] = []
    for name in args.engines.split(","):
        if name == "lmdb" and lmdb is None:
            print("lmdb: not installed, skipped")
            continue
        if name == "moto":
            try:
                import boto3  # noqa: F401
                import moto  # noqa: F401
            except ImportError:
                print("moto: not installed, skipped")
                continue
        engines.append({"keeldb": Keel, "sqlite3": Sqlite, "lmdb": Lmdb, "moto": Moto}[name]())
    items = make_items(args.n, args.partitions, 42)
    moto_items = make_items(args.moto_n, max(1, args.moto_n // 100), 42)
    workdir = args.dir or tempfile.mkdtemp(prefix="keel-bench-db-")
    results: dict[str, dict[str, list[float]]] = {e.name: {w: [] for w in WORKLOADS}
                                                  for e in engines}
    try:
        for run in range(args.runs):
            for e in engines:  # interleaved, so drift on a shared machine hits all alike
                its = moto_items if isinstance(e, Moto) else items
                if isinstance(e, Moto):
                    e.mock = None
                r = run_engine(e, its, args, workdir)
                for w, v in r.items():
                    results[e.name][w].append(v)
                print(f"run {run + 1}: {e.name}: " +
                      ", ".join(f"{w} {v:,.4g}" for w, v in r.items()), flush=True)
    finally:
        if not args.dir:
            shutil.rmtree(workdir, ignore_errors=True)
    med = {e: {w: statistics.median(v) for w, v in ws.items() if v}
           for e, ws in results.items()}
    meta = {"date": time.strftime("%Y-%m-%d"), "machine": platform.machine(),
            "python": platform.python_version(), "n": args.n, "moto_n": args.moto_n,
            "partitions": args.partitions, "runs": args.runs, "cpus": os.cpu_count(),
            "clock": args.clock, "load_average": os.getloadavg()}
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "median": med, "runs": results}, f, indent=1)
    print_table(med, args.markdown)


def print_table(med: dict[str, dict[str, float]], markdown: bool) -> None:
    names = list(med)
    head = "| workload | " + " | ".join(names) + " |"
    print(head)
    print("|---|" + "---:|" * len(names))
    keel = med.get("keeldb", {})
    for w in WORKLOADS:
        cells = []
        for e in names:
            v = med[e].get(w)
            if v is None:
                cells.append("n/a")
                continue
            if w == "reopen":
                cell = f"{v * 1000:,.1f} ms"
                ratio = (v / keel[w]) if e != "keeldb" and keel.get(w) else None
            else:
                cell = f"{v:,.0f}/s"
                ratio = (keel[w] / v) if e != "keeldb" and keel.get(w) else None
            cells.append(f"**{cell}**" if e == "keeldb" else
                         f"{cell} ({ratio:.1f}x)" if ratio else cell)
        print(f"| {w} | " + " | ".join(cells) + " |")
    if markdown:
        print("\n(keel/peer in brackets: keel's rate over the peer's; for reopen, the peer's "
              "time over keel's; n/a: the engine has no such operation)")


if __name__ == "__main__":
    main()
