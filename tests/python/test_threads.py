"""Sharing one DataStore between threads: mixed reads, writes and streams, and callbacks
that use the store from another thread while write_stream is staging."""

from __future__ import annotations

import io
import random
import threading
import time
from pathlib import Path

import pytest

import keeldb

DURATION = 3.0
THREADS = 8


def _value(key: bytes, version: int, size: int) -> bytes:
    """A self-describing value: any reader can check it is not torn or mixed."""
    head = b"%s|%d|%d|" % (key, version, size)
    body = bytes([version % 251]) * size
    return head + body


def _check(key: bytes, value: bytes) -> int:
    k, ver, size, body = value.split(b"|", 3)
    assert k == key
    assert len(body) == int(size)
    assert body == bytes([int(ver) % 251]) * int(size)
    return int(ver)


def test_threads_mixed_reads_writes_streams(path: Path) -> None:
    store = keeldb.DataStore(path)
    errors: list[BaseException] = []
    models: list[dict[bytes, bytes]] = [{} for _ in range(THREADS)]
    counts = [0] * THREADS
    stop = time.monotonic() + DURATION
    shared_keys = [b"shared%d" % i for i in range(16)]

    def worker(t: int) -> None:
        rng = random.Random(t)
        model = models[t]
        version = 0
        try:
            while time.monotonic() < stop:
                op = rng.random()
                version += 1
                if op < 0.30:
                    k = b"t%d-k%d" % (t, rng.randrange(50))
                    v = _value(k, version, rng.choice([0, 10, 100, 5000]))
                    store.write(k, v)
                    model[k] = v
                elif op < 0.40:
                    items = []
                    for _ in range(rng.randrange(1, 6)):
                        k = b"t%d-k%d" % (t, rng.randrange(50))
                        v = _value(k, version, rng.randrange(200))
                        items.append((k, v))
                        model[k] = v
                    store.batch_write(items)
                elif op < 0.47:
                    k = b"t%d-s%d" % (t, rng.randrange(5))
                    v = _value(k, version, rng.choice([1000, 70_000, 200_000]))
                    store.write_stream(k, io.BytesIO(v))
                    model[k] = v
                elif op < 0.52:
                    k = b"t%d-k%d" % (t, rng.randrange(50))
                    store.delete(k)
                    model.pop(k, None)
                elif op < 0.60:
                    k = rng.choice(shared_keys)
                    store.write(k, _value(k, version, rng.randrange(300)))
                elif op < 0.70:
                    # Someone else's keys or shared keys: whatever is there must be whole.
                    k = rng.choice(shared_keys)
                    v = store.read(k)
                    if v is not None:
                        _check(k, v)
                    e = store.read_entry(k)
                    if e is not None:
                        _check(k, bytes(e))
                        assert e.is_valid_checksum()
                else:
                    # Own keys: must match this thread's model exactly.
                    if model:
                        k = rng.choice(list(model))
                        assert store.read(k) == model[k], k
                    k = b"t%d-k%d" % (t, rng.randrange(50))
                    assert store.get(k) == model.get(k)
                counts[t] += 1
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=DURATION + 60)
        assert not th.is_alive(), "a worker thread hung"
    if errors:
        raise errors[0]
    assert all(c > 0 for c in counts), counts
    # Final state: every thread's keys as its model says, shared keys whole.
    for t, model in enumerate(models):
        for k, v in model.items():
            assert store.read(k) == v
    for k in shared_keys:
        v = store.read(k)
        if v is not None:
            _check(k, v)
    store.verify()
    expected_len = sum(len(m) for m in models) + sum(1 for k in shared_keys if k in store)
    assert len(store) == expected_len
    store.close()
    with keeldb.DataStore(path) as again:
        for model in models:
            for k, v in model.items():
                assert again.read(k) == v


def test_stream_reader_using_store_from_another_thread_does_not_deadlock(path: Path) -> None:
    """Upstream deadlocks here: its write_stream holds an engine mutex while calling the
    reader, and the reader's helper thread blocks on that mutex while holding the GIL."""
    store = keeldb.DataStore(path)
    store.write(b"existing", b"value")
    results: list[object] = []

    class Reader:
        def __init__(self) -> None:
            self.calls = 0

        def read(self, n: int) -> bytes:
            self.calls += 1
            if self.calls > 3:
                return b""

            def other() -> None:
                store.write(b"from-thread-%d" % self.calls, b"x" * 1000)
                results.append(store.read(b"existing"))
                store.batch_write([(b"batch-%d" % self.calls, b"y")])
                store.sync()

            th = threading.Thread(target=other)
            th.start()
            th.join(timeout=30)
            assert not th.is_alive(), "deadlock: the helper thread could not use the store"
            return b"z" * n

    done = threading.Event()

    def run() -> None:
        store.write_stream(b"streamed", Reader())
        done.set()

    runner = threading.Thread(target=run)
    runner.start()
    runner.join(timeout=60)
    assert done.is_set(), "write_stream did not finish"
    assert results == [b"value"] * 3
    assert store.read(b"streamed") == b"z" * (3 << 20)
    for i in (1, 2, 3):
        assert store.read(b"from-thread-%d" % i) == b"x" * 1000
        assert store.read(b"batch-%d" % i) == b"y"
    store.close()


def test_concurrent_streams_and_close(path: Path) -> None:
    """Several streams at once; close() waits for none of them to break: it refuses."""
    store = keeldb.DataStore(path)
    gate = threading.Barrier(4)
    errors: list[BaseException] = []

    class SlowReader:
        def __init__(self, tag: bytes) -> None:
            self.tag = tag
            self.n = 0

        def read(self, n: int) -> bytes:
            self.n += 1
            if self.n == 1:
                gate.wait(timeout=10)
            if self.n > 20:
                return b""
            time.sleep(0.001)
            return self.tag * 1000

    def run(i: int) -> None:
        try:
            store.write_stream(b"s%d" % i, SlowReader(b"%d" % i))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    ths = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for th in ths:
        th.start()
    gate.wait(timeout=10)
    with pytest.raises(BufferError, match="write_stream"):
        store.close()
    for th in ths:
        th.join(timeout=30)
    assert not errors, errors
    for i in range(3):
        assert store.read(b"s%d" % i) == (b"%d" % i) * 20_000
    store.close()


def test_close_waits_for_writes_in_flight(path: Path) -> None:
    """close() from one thread while others write: every call either completes or raises
    ValueError (closed); nothing crashes and the file reopens clean."""
    store = keeldb.DataStore(path)
    errors: list[BaseException] = []
    started = threading.Barrier(5)

    def writer(t: int) -> None:
        started.wait(timeout=10)
        i = 0
        while True:
            try:
                store.write(b"w%d-%d" % (t, i), b"v" * 4096)
                store.batch_write([(b"b%d-%d" % (t, i), b"x")])
                store.read(b"w%d-%d" % (t, i))
            except ValueError as exc:
                assert "closed" in str(exc)
                return
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
                return
            i += 1

    ths = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    for th in ths:
        th.start()
    started.wait(timeout=10)
    time.sleep(0.2)
    store.close()
    for th in ths:
        th.join(timeout=30)
        assert not th.is_alive()
    assert not errors, errors
    with keeldb.DataStore(path) as again:
        n = again.verify()
        assert n == len(again) > 0


def test_readers_during_compaction(path: Path) -> None:
    store = keeldb.DataStore(path)
    for i in range(2000):
        store.write(b"k%d" % (i % 200), _value(b"k%d" % (i % 200), i, 500))
    expected = {k: store[k] for k in store}
    stop = threading.Event()
    errors: list[BaseException] = []

    def reader() -> None:
        rng = random.Random(1)
        keys = list(expected)
        try:
            while not stop.is_set():
                k = rng.choice(keys)
                assert store.read(k) == expected[k]
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    ths = [threading.Thread(target=reader) for _ in range(3)]
    for th in ths:
        th.start()
    for _ in range(3):
        store.compact()
    stop.set()
    for th in ths:
        th.join(timeout=30)
    assert not errors, errors
    assert {k: store[k] for k in store} == expected
    store.close()
