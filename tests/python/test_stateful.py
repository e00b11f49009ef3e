"""A hypothesis state machine: random writes, batch writes, deletes, renames, reopen and
compaction against a dict model. Every step is checked against the model."""

from __future__ import annotations

import gc
import shutil
import tempfile
from pathlib import Path

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import keeldb

# A small key space so that overwrites, deletes of present keys and renames onto existing
# keys happen often; a few binary keys (empty, NUL, long) mixed in.
KEYS = st.one_of(
    st.sampled_from([b"a", b"b", b"c", b"d", b"", b"\x00", b"k" * 300]),
    st.binary(min_size=0, max_size=12),
)
VALUES = st.one_of(
    st.binary(min_size=0, max_size=64),
    st.sampled_from([b"", b"\x00"]),
    st.integers(min_value=0, max_value=20_000).map(lambda n: bytes([n % 251]) * n),
)


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # full_check's gc.collect() is meant for what the machine made (dropped entries,
        # handles, buffers): objects older than this example, the rest of the test run's,
        # are set aside so that each collection does not walk them again (in the full
        # suite that walk took most of this test's 40 s). teardown puts them back.
        gc.freeze()
        self.dir = Path(tempfile.mkdtemp(prefix="keeldb-state-"))
        self.path = self.dir / "state.keel"
        self.store = keeldb.DataStore(self.path)
        self.model: dict[bytes, bytes] = {}

    def teardown(self) -> None:
        try:
            self.store.close()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
            gc.unfreeze()

    @rule(key=KEYS, value=VALUES)
    def write(self, key: bytes, value: bytes) -> None:
        self.store.write(key, value)
        self.model[key] = value

    @rule(key=KEYS, value=VALUES)
    def setitem(self, key: bytes, value: bytes) -> None:
        self.store[bytearray(key)] = memoryview(value)
        self.model[key] = value

    @rule(items=st.lists(st.tuples(KEYS, VALUES), max_size=8))
    def batch_write(self, items: list[tuple[bytes, bytes]]) -> None:
        self.store.batch_write(items)
        for k, v in items:
            self.model[k] = v

    @rule(key=KEYS)
    def delete(self, key: bytes) -> None:
        self.store.delete(key)
        self.model.pop(key, None)

    @rule(keys=st.lists(KEYS, max_size=5))
    def batch_delete(self, keys: list[bytes]) -> None:
        n = self.store.batch_delete(keys)
        present = {k for k in keys if k in self.model}
        assert n == len(present)
        for k in present:
            del self.model[k]

    @rule(old=KEYS, new=KEYS)
    def rename(self, old: bytes, new: bytes) -> None:
        if old == new:
            return
        if old not in self.model:
            try:
                self.store.rename(old, new)
            except KeyError:
                return
            raise AssertionError("rename of a missing key did not raise KeyError")
        self.store.rename(old, new)
        self.model[new] = self.model.pop(old)

    @rule()
    def reopen(self) -> None:
        self.store.close()
        self.store = keeldb.DataStore(self.path)

    @rule()
    def compact(self) -> None:
        self.store.compact()
        assert self.store.estimate_compaction_savings() == 0

    @precondition(lambda self: len(self.model) > 0)
    @rule(data=st.data())
    def entry_handle(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.model)))
        e = self.store.read_entry(key)
        assert e is not None
        assert e == self.model[key]
        assert e.key == key
        assert e.is_valid_checksum()
        del e

    @rule(key=KEYS)
    def read(self, key: bytes) -> None:
        assert self.store.read(key) == self.model.get(key)
        assert (key in self.store) == (key in self.model)

    @invariant()
    def length_matches(self) -> None:
        assert len(self.store) == len(self.model)

    def check_all(self) -> None:
        assert dict(self.store.items()) == self.model
        assert self.store.batch_read(list(self.model)) == list(self.model.values())

    @rule()
    def full_check(self) -> None:
        self.check_all()
        gc.collect()


StoreMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestStoreMachine = StoreMachine.TestCase


def test_model_survives_reopen_after_machine(tmp_path: Path) -> None:
    """A deterministic pass of the same operations, then a reopen and full comparison."""
    p = tmp_path / "det.keel"
    model: dict[bytes, bytes] = {}
    with keeldb.DataStore(p) as s:
        for i in range(300):
            k = b"k%d" % (i % 37)
            v = bytes([i % 256]) * (i % 97)
            s.write(k, v)
            model[k] = v
            if i % 5 == 0:
                s.delete(b"k%d" % (i % 11))
                model.pop(b"k%d" % (i % 11), None)
            if i % 50 == 0:
                s.compact()
    with keeldb.DataStore(p) as s:
        assert dict(s.items()) == model
        assert s.verify() >= len(model)  # counts every entry in the file
