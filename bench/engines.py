"""Engine adapters: one class per engine, each handing out the engine's most direct callables.

The timed loops in bench/worker.py are the same for every engine (``for k in keys: get(k)``);
an adapter only decides *which* callable ``get`` is. Where the engine's API is a single call we
hand out the bound method itself (``store.read``, ``txn.get``, ``dict.get``) so no engine pays
for a Python wrapper it would not pay in real use. A small closure is used only where the
engine's API needs more than one call per operation (an LMDB write transaction, a SQLite
statement plus ``fetchone``), and that is what a user of that engine would write too.

Durability settings ("no fsync" mode, used by every workload except 1b):
  keeldb        DataStore(path, sync="none")                 (its default)
  simd_r_drive  DataStore(path)                              (its default; it never fsyncs)
  lmdb          lmdb.open(path, sync=False)                  (NOT its default: LMDB fsyncs
                                                              every commit unless told not to)
  rocksdict     Rdict(path, Options(raw_mode=True))          (its default: WAL, no sync)
  sqlite3       WAL journal, synchronous=NORMAL, autocommit  (WAL+NORMAL does not fsync on
                                                              commit; SQLite's own default is a
                                                              rollback journal with FULL)
  dict          in memory
Workload 1b (fsync per 1000 writes): keeldb store.sync(); lmdb env.sync(True); rocksdict
flush_wal(sync=True); sqlite3 synchronous=FULL and COMMIT of a transaction of 1000 writes.
simd_r_drive and dict offer no fsync and are reported "n/a".
"""
from __future__ import annotations

import importlib
import importlib.metadata
import io
import os
import shutil

__all__ = ["ENGINES", "ENGINE_ORDER", "NotOffered"]

LMDB_MAP_SIZE = 1 << 37  # virtual reservation only; the file grows with the data


class NotOffered(Exception):
    """The engine has no API for this operation (reported as "n/a")."""


def _dist_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


class Engine:
    name = "?"
    module = "?"
    config = ""
    on_disk = True  # False: nothing to reopen and no file size (dict)
    #: workload id -> how the engine performs it (printed and stored in latest.json)
    calls: dict[str, str] = {}

    def import_module(self):
        self.mod = importlib.import_module(self.module)

    def version(self) -> str:
        return "?"

    # -- lifecycle; path is a directory owned by the adapter -------------------------------
    def create(self, path: str, fsync_mode: bool = False) -> None:
        os.makedirs(path, exist_ok=True)
        self.open(path, fsync_mode)

    def open(self, path: str, fsync_mode: bool = False) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # -- callables ---------------------------------------------------------------------------
    def writer(self):
        """put(key, value)"""
        raise NotOffered

    def syncer(self):
        """sync() making every write so far durable (used with create(..., fsync_mode=True))"""
        raise NotOffered

    def batch_writer(self):
        """batch(list of (key, value))"""
        raise NotOffered

    def reader(self):
        """get(key) -> bytes | None"""
        raise NotOffered

    def view_reader(self):
        """(get, to_view): to_view(get(key)) is a memoryview of the value (zero-copy where
        the engine can); to_view is None when get(key) already returns one."""
        raise NotOffered

    def batch_reader(self):
        """(get_many, values_of): get_many(list of keys) looks them all up in one call, the
        engine's own multi-get; values_of(its result) is the list of values, for checking."""
        raise NotOffered

    def exister(self):
        """exists(key) -> bool"""
        raise NotOffered

    def itemizer(self):
        """items() -> iterable of (key, value)"""
        raise NotOffered

    def thread_reader(self):
        """called inside a reader thread: (get, cleanup)"""
        return self.reader(), (lambda: None)

    def large_writer(self):
        """put_large(key, data) -- streamed from a reader where the engine offers it"""
        return self.writer()

    def stream_opener(self):
        """open_stream(key) -> object with read(n) -> bytes (b"" at the end)"""
        raise NotOffered


# ---------------------------------------------------------------------------------------------
class _SimdApi(Engine):
    """The calls keeldb and simd_r_drive spell the same way (keeldb's DataStore API is a
    superset of simd_r_drive's), handed out from self.store."""

    def writer(self):
        return self.store.write

    def batch_writer(self):
        return self.store.batch_write

    def reader(self):
        return self.store.read

    def exister(self):
        return self.store.exists

    def large_writer(self):
        write_stream, BytesIO = self.store.write_stream, io.BytesIO

        def put_large(k, data):
            write_stream(k, BytesIO(data))
        return put_large

    def stream_opener(self):
        return self.store.read_stream


class Keel(_SimdApi):
    name = "keeldb"
    module = "keeldb"
    config = 'keeldb.DataStore(path, sync="none")'
    calls = {
        "write": "store.write(k, v)",
        "write_fsync": "store.write(k, v); store.sync() every 1000",
        "batch_write": "store.batch_write(list of 1000)",
        "read": "store.read(k)",
        "read_view": "memoryview(store.read_entry(k))",
        "batch_read": "store.batch_read(list of 1000 keys)",
        "exists_present": "store.exists(k)",
        "exists_absent": "store.exists(k)",
        "iterate": "store.items()",
        "reopen": "DataStore(path) + read(k0)",
        "large_write": "store.write_stream(k, io.BytesIO(value))",
        "large_read": "store.read(k)",
        "large_read_view": "memoryview(store.read_entry(k))",
        "large_read_stream": "store.read_stream(k).read(65536) until b''",
        "threads_read": "store.read(k), store shared",
    }

    def version(self):
        return f"{self.mod.__version__} (engine {getattr(self.mod, 'engine_version', '?')})"

    def open(self, path, fsync_mode=False):
        self.file = os.path.join(path, "store.keel")
        self.store = self.mod.DataStore(self.file, sync="none")

    def close(self):
        self.store.close()
        self.store = None

    def syncer(self):
        return self.store.sync

    def view_reader(self):
        return self.store.read_entry, memoryview

    def batch_reader(self):
        return self.store.batch_read, list

    def itemizer(self):
        return self.store.items


# ---------------------------------------------------------------------------------------------
class SimdRDrive(_SimdApi):
    name = "simd_r_drive"
    module = "simd_r_drive"
    config = "simd_r_drive.DataStore(path) (no fsync API)"
    calls = {
        "write": "store.write(k, v)",
        "batch_write": "store.batch_write(list of 1000)",
        "read": "store.read(k)",
        "read_view": "store.read_entry(k).as_memoryview()",
        "exists_present": "store.exists(k)",
        "exists_absent": "store.exists(k)",
        "reopen": "DataStore(path) + read(k0)",
        "large_write": "store.write_stream(k, io.BytesIO(value))",
        "large_read": "store.read(k)",
        "large_read_view": "store.read_entry(k).as_memoryview()",
        "large_read_stream": "store.read_stream(k).read(65536) until b''",
        "threads_read": "store.read(k), store shared",
    }

    def version(self):
        return _dist_version("simd-r-drive-py")

    def open(self, path, fsync_mode=False):
        self.store = self.mod.DataStore(os.path.join(path, "store.bin"))

    def close(self):
        self.store = None  # no close(): dropping the last reference closes the file

    def view_reader(self):
        return self.store.read_entry, self.mod.EntryHandle.as_memoryview


# ---------------------------------------------------------------------------------------------
class Lmdb(Engine):
    name = "lmdb"
    module = "lmdb"
    config = "lmdb.open(path, map_size=128 GiB, sync=False); one read txn for the read loops"
    calls = {
        "write": "with env.begin(write=True) as t: t.put(k, v)",
        "write_fsync": "one txn per write as above; env.sync(True) every 1000",
        "batch_write": "with env.begin(write=True) as t: t.cursor().putmulti(list of 1000)",
        "read": "txn.get(k)",
        "batch_read": "txn.cursor().getmulti(list of 1000 keys)",
        "read_view": "txn.get(k) with txn = env.begin(buffers=True) (returns a memoryview)",
        "exists_present": "cursor.set_key(k) (no exists API; positions without copying)",
        "exists_absent": "cursor.set_key(k)",
        "iterate": "txn.cursor().iternext()",
        "reopen": "lmdb.open(path) + begin() + get(k0)",
        "large_write": "with env.begin(write=True) as t: t.put(k, value) (no streaming API)",
        "large_read": "txn.get(k)",
        "large_read_view": "txn.get(k), buffers=True",
        "threads_read": "txn.get(k), one read txn per thread",
    }

    def version(self):
        return f"{self.mod.__version__} (LMDB {'.'.join(map(str, self.mod.version()))})"

    def open(self, path, fsync_mode=False):
        self.env = self.mod.open(path, map_size=LMDB_MAP_SIZE, sync=False, metasync=False,
                                 max_readers=16)
        self.txns = []

    def close(self):
        for t in self.txns:
            t.abort()
        self.txns = []
        self.env.close()
        self.env = None

    def _rtxn(self, buffers=False):
        t = self.env.begin(buffers=buffers)
        self.txns.append(t)
        return t

    def writer(self):
        begin = self.env.begin

        def put(k, v):
            with begin(write=True) as t:
                t.put(k, v)
        return put

    def syncer(self):
        env = self.env
        return lambda: env.sync(True)

    def batch_writer(self):
        begin = self.env.begin

        def batch(items):
            with begin(write=True) as t:
                t.cursor().putmulti(items)
        return batch

    def reader(self):
        return self._rtxn().get

    def view_reader(self):
        return self._rtxn(buffers=True).get, None

    def batch_reader(self):
        return self._rtxn().cursor().getmulti, lambda pairs: [v for _k, v in pairs]

    def exister(self):
        return self._rtxn().cursor().set_key

    def itemizer(self):
        t = self._rtxn()
        return lambda: t.cursor().iternext(keys=True, values=True)

    def thread_reader(self):
        t = self.env.begin()
        return t.get, t.abort

    def large_writer(self):
        return self.writer()


# ---------------------------------------------------------------------------------------------
class Rocks(Engine):
    name = "rocksdict"
    module = "rocksdict"
    config = "Rdict(path, Options(raw_mode=True)) (RocksDB defaults: WAL on, no sync)"
    calls = {
        "write": "db.put(k, v)",
        "write_fsync": "db.put(k, v); db.flush_wal(sync=True) every 1000",
        "batch_write": "WriteBatch(raw_mode=True).put x1000; db.write(wb)",
        "read": "db.get(k)",
        "batch_read": "db.get(list of 1000 keys) (RocksDB MultiGet)",
        "exists_present": "db.__contains__(k)",
        "exists_absent": "db.__contains__(k)",
        "iterate": "db.items()",
        "reopen": "Rdict(path, opts) + get(k0)",
        "large_write": "db.put(k, value) (no streaming API)",
        "large_read": "db.get(k)",
        "threads_read": "db.get(k), db shared",
    }

    def version(self):
        return _dist_version("rocksdict")

    def open(self, path, fsync_mode=False):
        self.db = self.mod.Rdict(os.path.join(path, "db"), self.mod.Options(raw_mode=True))

    def close(self):
        self.db.close()
        self.db = None

    def writer(self):
        return self.db.put

    def syncer(self):
        db = self.db
        return lambda: db.flush_wal(True)

    def batch_writer(self):
        db, WriteBatch = self.db, self.mod.WriteBatch

        def batch(items):
            wb = WriteBatch(raw_mode=True)
            put = wb.put
            for k, v in items:
                put(k, v)
            db.write(wb)
        return batch

    def reader(self):
        return self.db.get

    def batch_reader(self):
        return self.db.get, list  # Rdict.get(list of keys) is RocksDB's MultiGet

    def exister(self):
        return self.db.__contains__

    def itemizer(self):
        return self.db.items


# ---------------------------------------------------------------------------------------------
class Sqlite(Engine):
    name = "sqlite3"
    module = "sqlite3"
    config = ("kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID; journal_mode=WAL, "
              "synchronous=NORMAL, autocommit (1b: synchronous=FULL, COMMIT per 1000)")
    calls = {
        "write": "execute('INSERT OR REPLACE ...', (k, v)) in autocommit",
        "write_fsync": "same INSERT inside BEGIN; COMMIT every 1000 with synchronous=FULL",
        "batch_write": "BEGIN; executemany(INSERT, list of 1000); COMMIT",
        "read": "execute('SELECT v FROM kv WHERE k=?', (k,)).fetchone()",
        "exists_present": "execute('SELECT 1 FROM kv WHERE k=?', (k,)).fetchone()",
        "exists_absent": "execute('SELECT 1 FROM kv WHERE k=?', (k,)).fetchone()",
        "iterate": "execute('SELECT k, v FROM kv')",
        "reopen": "connect + PRAGMAs + SELECT of k0",
        "large_write": "INSERT of the 1 MiB value (blob I/O needs a rowid table)",
        "large_read": "SELECT v ...",
        "threads_read": "SELECT v ..., one connection per thread",
    }
    INSERT = "INSERT OR REPLACE INTO kv(k, v) VALUES (?, ?)"
    SELECT = "SELECT v FROM kv WHERE k = ?"
    EXISTS = "SELECT 1 FROM kv WHERE k = ?"

    def version(self):
        return f"SQLite {self.mod.sqlite_version} (python sqlite3)"

    def _connect(self, sync="NORMAL"):
        c = self.mod.connect(self.file, isolation_level=None, check_same_thread=False)
        c.execute("PRAGMA journal_mode=WAL")
        c.execute(f"PRAGMA synchronous={sync}")
        return c

    def open(self, path, fsync_mode=False):
        self.file = os.path.join(path, "kv.sqlite")
        self.fsync_mode = fsync_mode
        self.conn = self._connect("FULL" if fsync_mode else "NORMAL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID")
        if fsync_mode:
            self.conn.execute("BEGIN")

    def close(self):
        if self.conn.in_transaction:
            self.conn.execute("COMMIT")
        self.conn.close()
        self.conn = None

    def writer(self):
        ex, q = self.conn.execute, self.INSERT

        def put(k, v):
            ex(q, (k, v))
        return put

    def syncer(self):
        ex = self.conn.execute

        def sync():
            ex("COMMIT")
            ex("BEGIN")
        return sync

    def batch_writer(self):
        ex, exm, q = self.conn.execute, self.conn.executemany, self.INSERT

        def batch(items):
            ex("BEGIN")
            exm(q, items)
            ex("COMMIT")
        return batch

    @staticmethod
    def _getter(conn, q):
        ex = conn.execute

        def get(k):
            r = ex(q, (k,)).fetchone()
            return None if r is None else r[0]
        return get

    def reader(self):
        return self._getter(self.conn, self.SELECT)

    def exister(self):
        ex, q = self.conn.execute, self.EXISTS

        def exists(k):
            return ex(q, (k,)).fetchone() is not None
        return exists

    def itemizer(self):
        ex = self.conn.execute
        return lambda: ex("SELECT k, v FROM kv")

    def thread_reader(self):
        c = self._connect()
        return self._getter(c, self.SELECT), c.close


# ---------------------------------------------------------------------------------------------
class Dict(Engine):
    name = "dict"
    module = "builtins"
    config = "plain dict in memory (the floor; nothing on disk)"
    on_disk = False
    calls = {
        "write": "d.__setitem__(k, v)",
        "batch_write": "d.update(list of 1000)",
        "read": "d.get(k)",
        "batch_read": "list(map(d.get, keys))",
        "exists_present": "d.__contains__(k)",
        "exists_absent": "d.__contains__(k)",
        "iterate": "d.items()",
        "large_write": "d.__setitem__(k, value) (stores a reference, no copy)",
        "large_read": "d.get(k) (returns a reference, no copy)",
        "threads_read": "d.get(k), dict shared",
    }
    _stores: dict[str, dict] = {}

    def version(self):
        import sys
        return f"CPython {sys.version.split()[0]}"

    def create(self, path, fsync_mode=False):
        os.makedirs(path, exist_ok=True)
        self._stores[path] = {}
        self.open(path)

    def open(self, path, fsync_mode=False):
        self.d = self._stores[path]

    def close(self):
        self.d = None

    @classmethod
    def forget(cls, path):
        cls._stores.pop(path, None)

    def writer(self):
        return self.d.__setitem__

    def batch_writer(self):
        return self.d.update

    def reader(self):
        return self.d.get

    def batch_reader(self):
        get = self.d.get

        def get_many(keys):
            return list(map(get, keys))
        return get_many, list

    def exister(self):
        return self.d.__contains__

    def itemizer(self):
        return self.d.items


ENGINE_ORDER = ["keeldb", "simd_r_drive", "lmdb", "rocksdict", "sqlite3", "dict"]
ENGINES = {cls.name: cls for cls in (Keel, SimdRDrive, Lmdb, Rocks, Sqlite, Dict)}
assert list(ENGINES) == ENGINE_ORDER


def remove_store(path: str) -> None:
    Dict.forget(path)
    shutil.rmtree(path, ignore_errors=True)
