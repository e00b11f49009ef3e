"""The README's Python examples, kept here so the tests run them and type-check them
with ``mypy --strict`` (tests/python/test_typing.py). Keep in sync with the README."""

from __future__ import annotations

import io
import threading

import numpy as np

from keeldb import DataStore, NamespaceHasher, ReadOnlyError


def quick_start() -> None:
    # Open (or create) a store; the context manager closes it.
    with DataStore("example.keel") as store:
        store.write(b"username", b"jdoe")
        assert store.read(b"username") == b"jdoe"
        assert store.read(b"missing") is None
        assert b"username" in store

        # dict-style access
        store[b"greeting"] = b"hello"
        print(store[b"greeting"])  # b'hello'
        print(store.get(b"missing", b"default"))  # b'default'
        del store[b"greeting"]

        # batches are atomic: all or nothing, one write
        store.batch_write([(b"user:1", b"alice"), (b"user:2", b"bob")])
        print(store.batch_read([b"user:1", b"user:3"]))  # [b'alice', None]
        print(len(store), sorted(store.keys()))


def zero_copy() -> None:
    with DataStore("vectors.keel") as store:
        store.write(b"vec", np.arange(1024, dtype=np.float32).tobytes())
        entry = store.read_entry(b"vec")
        assert entry is not None
        # No copy: the array reads the file's mapping, 64-byte aligned.
        # (np.frombuffer(entry, ...) works too; as_memoryview() is the typed spelling.)
        vec = np.frombuffer(entry.as_memoryview(), dtype=np.float32)
        print(vec[:4], entry.address_range()[0] % 64 == 0)
        del vec  # release the view before the store closes (else close() raises BufferError)


def streams() -> None:
    with DataStore("streamed.keel") as store:
        payload = b"x" * (10 * 1024 * 1024)
        store.write_stream(b"large-file", io.BytesIO(payload))
        reader = store.read_stream(b"large-file")
        assert reader is not None
        total = sum(len(chunk) for chunk in reader)
        assert total == len(payload)


def threads_and_maintenance() -> None:
    store = DataStore("shared.keel", sync="data")

    def work(n: int) -> None:
        for i in range(1000):
            store.write(b"t%d-%d" % (n, i), b"value")

    workers = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    print(len(store), store.estimate_compaction_savings())
    store.compact()
    store.verify()
    store.close()

    with DataStore("shared.keel", readonly=True) as ro:
        try:
            ro.write(b"k", b"v")
        except ReadOnlyError as exc:
            print("read-only:", exc)


def namespaces() -> None:
    users = NamespaceHasher(b"users")
    with DataStore("ns.keel") as store:
        store.write(users.namespace(b"alice"), b"admin")
        assert store.read(users.namespace(b"alice")) == b"admin"


def main() -> None:
    quick_start()
    zero_copy()
    streams()
    threads_and_maintenance()
    namespaces()


if __name__ == "__main__":
    main()
