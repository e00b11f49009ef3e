"""A hypothesis state machine for keeldb.Database against a Python model: puts, deletes and
atomic batches on two tables (an N sort key and an S sort key) and on KeystoneDB's default
table; queries with every sort-key operator in both directions, paginated with limit= and
start_key=; scans paginated and split into segments, with and without a filter; reopen and
compaction (on a file) or the in-memory engine. The "nums" table has TTL (attribute "exp",
a clock the machine moves) and a KEYS_ONLY global index on (v, sk) compared with a model
query after every step; expired items vanish from every read and are reaped (by a rule and
by compaction). Kept to a few seconds."""

from __future__ import annotations

import decimal
import gc
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import keeldb

D = decimal.Decimal
PKS = ["a", "b", "c"]
NUM_SKS = st.one_of(st.integers(-3, 12), st.sampled_from([D("0.5"), D("-1.25"), D("10.0"),
                                                          1.5, D("1e2")]))
STR_SKS = st.sampled_from(["", "a", "ab", "abc", "b", "ba", "item#9", "item#10", "é", "z"])
VALUES = st.integers(-5, 5)
KV_KEYS = st.tuples(st.sampled_from([b"k1", b"k2", "k3"]), st.sampled_from([None, b"", b"s"]))

TABLES = {"nums": NUM_SKS, "strs": STR_SKS}
OPS = ["", "=", "<", "<=", ">", ">=", "BETWEEN", "begins_with"]


def norm(sk: Any) -> Any:
    """The key identity DynamoDB uses: numbers by value."""
    return D(str(sk)) if isinstance(sk, (int, float, D)) else sk


def sort_key(sk: Any) -> Any:
    return sk.encode() if isinstance(sk, str) else sk


class DatabaseMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory()
        self.path = Path(self.tmp.name) / "machine.keel"
        self.db: Optional[keeldb.Database] = None
        self.model: Dict[str, Dict[Tuple[str, Any], Dict[str, Any]]] = {t: {} for t in TABLES}
        self.kv: Dict[Tuple[bytes, Optional[bytes]], Dict[str, Any]] = {}
        self.memory = False
        self.now = 1000

    @initialize(memory=st.booleans())
    def open(self, memory: bool) -> None:
        self.memory = memory
        self.db = (keeldb.Database.create_in_memory() if memory
                   else keeldb.Database.create(self.path))
        nums = self.db.create_table(
            "nums", partition_key=("pk", "S"), sort_key=("sk", "N"),
            global_indexes=[{"name": "by_v", "partition_key": ("v", "N"),
                             "sort_key": ("sk", "N"), "projection": "KEYS_ONLY"}])
        self.db.create_table("strs", partition_key=("pk", "S"), sort_key=("sk", "S"))
        self.db.set_clock(self.now)
        nums.enable_ttl("exp")

    def expired(self, item: Dict[str, Any]) -> bool:
        return "exp" in item and item["exp"] <= self.now

    def live(self, name: str) -> Dict[Tuple[str, Any], Dict[str, Any]]:
        return {k: it for k, it in self.model[name].items() if not self.expired(it)}

    def drop_expired(self) -> int:
        gone = [k for k, it in self.model["nums"].items() if self.expired(it)]
        for k in gone:
            del self.model["nums"][k]
        return len(gone)

    def teardown(self) -> None:
        if self.db is not None:
            gc.collect()
            self.db.close()
        self.tmp.cleanup()

    def table(self, name: str) -> keeldb.Table:
        assert self.db is not None
        return self.db.table(name)

    # ---- writes ----------------------------------------------------------------------------

    @rule(data=st.data(), name=st.sampled_from(sorted(TABLES)), pk=st.sampled_from(PKS),
          v=VALUES)
    def put(self, data: st.DataObject, name: str, pk: str, v: int) -> None:
        sk = data.draw(TABLES[name])
        if name == "strs" and sk == "":
            return  # DynamoDB refuses empty key strings; test_db covers the error
        item: Dict[str, Any] = {"pk": pk, "sk": sk, "v": v}
        if name == "nums":
            exp = data.draw(st.one_of(st.none(), st.integers(self.now - 2, self.now + 8)))
            if exp is not None:
                item["exp"] = exp
        self.table(name).put_item(item)
        self.model[name][(pk, norm(sk))] = item

    @rule(data=st.data(), name=st.sampled_from(sorted(TABLES)), pk=st.sampled_from(PKS))
    def delete(self, data: st.DataObject, name: str, pk: str) -> None:
        sk = data.draw(TABLES[name])
        if name == "strs" and sk == "":
            return
        self.table(name).delete_item({"pk": pk, "sk": sk})
        self.model[name].pop((pk, norm(sk)), None)

    @rule(data=st.data(), name=st.sampled_from(sorted(TABLES)))
    def batch(self, data: st.DataObject, name: str) -> None:
        keys = data.draw(st.lists(st.tuples(st.sampled_from(PKS), TABLES[name]), max_size=6))
        keys = [k for k in keys if k[1] != "" or name != "strs"]
        uniq: Dict[Tuple[str, Any], Tuple[str, Any]] = {}
        for pk, sk in keys:
            uniq.setdefault((pk, norm(sk)), (pk, sk))
        chosen = list(uniq.values())
        split = data.draw(st.integers(0, len(chosen)))
        puts = [{"pk": pk, "sk": sk, "v": i} for i, (pk, sk) in enumerate(chosen[:split])]
        dels = [{"pk": pk, "sk": sk} for pk, sk in chosen[split:]]
        dup = data.draw(st.booleans()) and bool(chosen)
        if dup:  # a second write to one item: refused whole, nothing written
            try:
                self.table(name).batch_write(puts=puts + [puts[0]] if puts else puts,
                                             deletes=dels if puts else dels + [dels[0]])
            except keeldb.ValidationError:
                return
            raise AssertionError("a batch with two writes to one item was accepted")
        assert self.table(name).batch_write(puts=puts, deletes=dels) == len(chosen)
        for it in puts:
            self.model[name][(it["pk"], norm(it["sk"]))] = it
        for k in dels:
            self.model[name].pop((k["pk"], norm(k["sk"])), None)

    @rule(key=KV_KEYS, v=VALUES, delete=st.booleans())
    def kv_write(self, key: Tuple[Any, Optional[bytes]], v: int, delete: bool) -> None:
        assert self.db is not None
        pk, sk = key
        mk = (pk.encode() if isinstance(pk, str) else pk, sk)
        if delete:
            self.db.delete(pk, sk=sk)
            self.kv.pop(mk, None)
        else:
            self.db.put(pk, {"v": v, "f": float(v)}, sk=sk)
            self.kv[mk] = {"v": v, "f": float(v)}

    @rule(dt=st.integers(0, 4))
    def tick(self, dt: int) -> None:
        assert self.db is not None
        self.now += dt
        self.db.set_clock(self.now)

    @rule(limit=st.one_of(st.none(), st.integers(1, 3)))
    def reap(self, limit: Optional[int]) -> None:
        assert self.db is not None
        n = self.db.reap_expired(max=limit)
        if limit is None:
            assert n == self.drop_expired()
        else:
            want = sum(self.expired(it) for it in self.model["nums"].values())
            assert n == min(limit, want)
            if n == want:
                self.drop_expired()
            else:  # which ones went is the reaper's order: ask the table
                self.drop_expired_reaped()

    def drop_expired_reaped(self) -> None:
        assert self.db is not None
        t = self.table("nums")
        for k, it in list(self.model["nums"].items()):
            if self.expired(it):
                self.db.set_clock(0)  # see expired items again to learn which remain
                if t.get_item({"pk": it["pk"], "sk": it["sk"]}) is None:
                    del self.model["nums"][k]
                self.db.set_clock(self.now)

    @rule(v=VALUES)
    def query_index(self, v: int) -> None:
        got = list(self.table("nums").query("v = :v", values={":v": v}, index="by_v"))
        assert all(set(it) == {"pk", "sk", "v"} for it in got)
        sks = [norm(it["sk"]) for it in got]
        assert sks == sorted(sks)
        want = [k for k, it in self.live("nums").items() if it["v"] == v]
        assert sorted(((it["pk"], norm(it["sk"])) for it in got), key=repr) == \
            sorted(want, key=repr)

    # ---- reads -----------------------------------------------------------------------------

    @rule(key=KV_KEYS)
    def kv_read(self, key: Tuple[Any, Optional[bytes]]) -> None:
        assert self.db is not None
        pk, sk = key
        mk = (pk.encode() if isinstance(pk, str) else pk, sk)
        got = self.db.get(pk, sk)
        assert got == self.kv.get(mk)
        if got is not None:
            assert type(got["f"]) is float

    @rule(data=st.data(), name=st.sampled_from(sorted(TABLES)), pk=st.sampled_from(PKS + ["zz"]),
          op=st.sampled_from(OPS), forward=st.booleans(),
          limit=st.one_of(st.none(), st.integers(1, 4)), filtered=st.booleans())
    def query(self, data: st.DataObject, name: str, pk: str, op: str, forward: bool,
              limit: Optional[int], filtered: bool) -> None:
        if op == "begins_with" and name != "strs":
            op = ">="
        a = data.draw(TABLES[name])
        b = data.draw(TABLES[name])
        if name == "strs" and (a == "" or b == ""):
            return
        if op == "BETWEEN" and sort_key(norm(a)) > sort_key(norm(b)):
            a, b = b, a
        values: Dict[str, Any] = {":p": pk}
        cond = "pk = :p"
        pred: Callable[[Any], bool] = lambda s: True
        na, nb = sort_key(norm(a)), sort_key(norm(b))
        if op == "BETWEEN":
            cond += " AND sk BETWEEN :a AND :b"
            values.update({":a": a, ":b": b})
            pred = lambda s: na <= s <= nb
        elif op == "begins_with":
            cond += " AND begins_with(sk, :a)"
            values[":a"] = a
            pred = lambda s: s.startswith(na)
        elif op:
            cond += f" AND sk {op} :a"
            values[":a"] = a
            pred = {"=": lambda s: s == na, "<": lambda s: s < na, "<=": lambda s: s <= na,
                    ">": lambda s: s > na, ">=": lambda s: s >= na}[op]
        flt = None
        if filtered:
            flt, values[":v"] = "v >= :v", 0
        want = sorted(((sort_key(sk), it) for (p, sk), it in self.live(name).items()
                       if p == pk and pred(sort_key(sk))), key=lambda x: x[0],
                      reverse=not forward)
        want_items = [it for _, it in want if not filtered or it["v"] >= 0]
        got: List[Dict[str, Any]] = []
        start = None
        for _ in range(100):
            it = self.table(name).query(cond, values=values, filter=flt, forward=forward,
                                        limit=limit, start_key=start)
            got += list(it)
            start = it.last_key
            if start is None:
                break
        assert got == want_items

    @rule(name=st.sampled_from(sorted(TABLES)), limit=st.one_of(st.none(), st.integers(1, 5)),
          segments=st.integers(1, 4), filtered=st.booleans())
    def scan(self, name: str, limit: Optional[int], segments: int, filtered: bool) -> None:
        kw: Dict[str, Any] = {"filter": "v < :v", "values": {":v": 2}} if filtered else {}
        got: List[Tuple[str, Any]] = []
        for seg in range(segments):
            start = None
            for _ in range(200):
                it = self.table(name).scan(limit=limit, start_key=start, segment=seg,
                                           total_segments=segments, **kw)
                got += [(i["pk"], norm(i["sk"])) for i in it]
                start = it.last_key
                if start is None:
                    break
        want = [k for k, it in self.live(name).items() if not filtered or it["v"] < 2]
        assert sorted(got, key=repr) == sorted(want, key=repr)

    # ---- lifecycle -------------------------------------------------------------------------

    @precondition(lambda self: not self.memory)
    @rule()
    def reopen(self) -> None:
        assert self.db is not None
        self.db.close()
        self.db = keeldb.Database.open(self.path)
        self.db.set_clock(self.now)

    @precondition(lambda self: not self.memory)
    @rule()
    def compact(self) -> None:
        assert self.db is not None
        self.db.compact()  # reaps first
        self.drop_expired()

    @invariant()
    def counts(self) -> None:
        if self.db is None:
            return
        for name in TABLES:
            assert self.table(name).count() == len(self.model[name])


DatabaseMachine.TestCase.settings = settings(
    max_examples=20,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestDatabaseMachine = DatabaseMachine.TestCase
