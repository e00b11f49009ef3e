"""Pisky's whole public surface (its package's __all__, October 2025), beyond its README:
expand_dirs, Globable, set_log_level, paths given as objects with their own __str__, the
count_records_with_* static methods, the endless random reader, and the read-only bytes
methods of Bytes. Code written for pisky runs after changing only the import."""

from __future__ import annotations

import itertools
import logging
from pathlib import Path
from typing import List

import pytest

import keeldb
from keeldb import (Bytes, CorruptionStrategy, Globable, MultiThreadedReader,
                    MultiThreadedWriter, RecordReader, RecordWriter, expand_dirs,
                    set_log_level)

PISKY_ALL = ["RecordWriter", "RecordReader", "MultiThreadedWriter", "MultiThreadedReader",
             "Bytes", "CorruptionStrategy", "Globable", "set_log_level", "expand_dirs",
             "__version__"]


def test_every_name_of_piskys_all() -> None:
    for name in PISKY_ALL:
        assert name in keeldb.__all__ and hasattr(keeldb, name), name
        assert name in keeldb.records.__all__ or name == "__version__", name


class StrPath:
    """Neither str nor os.PathLike: only its own __str__, as Pisky accepts."""

    def __init__(self, p: Path) -> None:
        self.p = p

    def __str__(self) -> str:
        return str(self.p)


def test_paths_with_their_own_str(tmp_path: Path) -> None:
    f = StrPath(tmp_path / "f.riegeli")
    with RecordWriter(f) as w:  # type: ignore[arg-type]
        w.write_record(b"a")
    assert RecordReader.count_records(f) == 1  # type: ignore[arg-type]
    with RecordReader(f) as r:  # type: ignore[arg-type]
        assert [x.to_bytes() for x in r] == [b"a"]
    d = StrPath(tmp_path / "shards")
    with MultiThreadedWriter.new_with_shards(d, num_shards=2) as mw:  # type: ignore[arg-type]
        mw.write_record(b"b")
    with MultiThreadedReader.new_with_shards(d) as mr:  # type: ignore[arg-type]
        assert [x.to_bytes() for x in mr] == [b"b"]
    paths = [StrPath(p) for p in sorted((tmp_path / "shards").iterdir())]
    assert MultiThreadedReader.count_records_with_shard_paths(paths) == 1  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [42, 4.5, object(), None])
def test_paths_refused(tmp_path: Path, bad: object) -> None:
    with pytest.raises(TypeError, match="path"):
        RecordWriter(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="path"):
        RecordReader(bad)  # type: ignore[arg-type]


def _write_dirs(tmp_path: Path, ndirs: int, per_dir: int) -> List[Path]:
    dirs = []
    for d in range(ndirs):
        out = tmp_path / f"out{d}"
        with MultiThreadedWriter.new_with_shards(out, num_shards=3) as w:
            for i in range(per_dir):
                w.write_record(b"%d:%d" % (d, i))
        dirs.append(out)
    return dirs


def test_expand_dirs(tmp_path: Path) -> None:
    dirs = _write_dirs(tmp_path, 2, 30)
    (dirs[0] / "other_0").write_bytes(b"")
    shards = expand_dirs(dirs)
    assert len(shards) == 6 and all(isinstance(s, Path) for s in shards)
    assert all(s.name.startswith("shard_") for s in shards)
    assert expand_dirs(dirs, prefix="other") == [dirs[0] / "other_0"]
    assert expand_dirs([]) == []
    g: Globable[Path] = dirs[0]  # pathlib.Path satisfies the protocol
    assert list(g.glob("shard_*"))
    got = [r.to_bytes() for r in MultiThreadedReader.new_with_shard_paths(shards)]
    assert sorted(got) == sorted(b"%d:%d" % (d, i) for d in range(2) for i in range(30))


def test_count_records_with_shards(tmp_path: Path) -> None:
    dirs = _write_dirs(tmp_path, 2, 25)
    assert MultiThreadedReader.count_records_with_shards(dirs[0]) == 25
    assert MultiThreadedReader.count_records_with_shards(
        dir_path=str(dirs[1]), prefix="shard", num_shards=4, worker_threads=2,
        queue_size_mb=16, corruption_strategy=CorruptionStrategy.RECOVER) == 25
    assert MultiThreadedReader.count_records_with_shard_paths(expand_dirs(dirs)) == 50
    assert MultiThreadedReader.count_records_with_shard_paths([]) == 0
    with pytest.raises(FileNotFoundError):
        MultiThreadedReader.count_records_with_shards(tmp_path / "missing")
    with pytest.raises(FileNotFoundError):
        MultiThreadedReader.count_records_with_shard_paths([tmp_path / "missing"])


def test_random_shard_paths_repeat_forever_in_random_orders(tmp_path: Path) -> None:
    paths = []
    for s in range(6):
        p = tmp_path / f"shard_{s}"
        with RecordWriter(p) as w:
            for i in range(5):
                w.write_record(b"%d" % s)
        paths.append(p)
    with MultiThreadedReader.new_with_random_shard_paths(paths, num_shards=1,
                                                         worker_threads=1) as r:
        got = [x.to_bytes() for x in itertools.islice(r, 30 * 8)]
    # eight whole passes, each record of each pass once
    assert len(got) == 240
    passes = [got[i:i + 30] for i in range(0, 240, 30)]
    for p in passes:
        assert sorted(p) == sorted(b"%d" % s for s in range(6) for _ in range(5))
    # with one shard open at a time a pass reads the shards one after another: its order
    orders = {tuple(p[i] for i in range(0, 30, 5)) for p in passes}
    assert len(orders) > 1, "every pass read the shards in the same order"


def test_random_shard_paths_edge_cases(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="empty"):
        MultiThreadedReader.new_with_random_shard_paths([])
    empty = tmp_path / "shard_0"
    RecordWriter(empty).close()
    # a pass that finds no record ends the reader instead of spinning forever
    with MultiThreadedReader.new_with_random_shard_paths([empty]) as r:
        assert r.next_record() is None


def test_set_log_level() -> None:
    for level in ("trace", "debug", "info", "warn", "error", "off"):
        set_log_level(level)
    assert logging.getLogger("keeldb").level > logging.CRITICAL
    set_log_level("info")
    assert logging.getLogger("keeldb").level == logging.INFO
    with pytest.raises(OSError, match="log level"):
        set_log_level("loud")


def _one_record(tmp_path: Path, data: bytes) -> Bytes:
    p = tmp_path / "r"
    with RecordWriter(p) as w:
        w.write_record(data)
    with RecordReader(p) as r:
        rec = r.next_record()
    assert rec is not None
    return rec


def test_bytes_has_the_read_only_methods_of_bytes(tmp_path: Path) -> None:
    data = b"Hello World 42\tend"
    rec = _one_record(tmp_path, data)
    names = [n for n in dir(bytes) if not n.startswith("_") and n not in ("fromhex", "maketrans")]
    for name in names:
        assert name in dir(Bytes), name
    calls = [
        ("isalnum", ()), ("isalpha", ()), ("isascii", ()), ("isdigit", ()), ("islower", ()),
        ("isspace", ()), ("isupper", ()), ("istitle", ()), ("lower", ()), ("upper", ()),
        ("capitalize", ()), ("swapcase", ()), ("title", ()), ("removeprefix", (b"Hello ",)),
        ("removesuffix", (b"end",)), ("split", ()), ("rsplit", (b" ", 1)), ("strip", (b"Hd",)),
        ("lstrip", ()), ("rstrip", (b"dn",)), ("find", (b"o",)), ("rfind", (b"o",)),
        ("index", (b"W",)), ("rindex", (b"o", 0, 10)), ("count", (b"o",)),
        ("startswith", (b"Hell",)), ("endswith", ((b"x", b"end"),)), ("hex", ()),
        ("hex", (":", 2)), ("decode", ()), ("expandtabs", (4,)), ("center", (30, b"*")),
        ("ljust", (25,)), ("rjust", (25,)), ("zfill", (25,)), ("partition", (b" ",)),
        ("rpartition", (b" ",)), ("replace", (b"o", b"0")), ("splitlines", (True,)),
        ("join", ([b"a", b"b"],)), ("translate", (None, b"lo")),
    ]
    for name, args in calls:
        want = getattr(data, name)(*args)
        got = getattr(rec, name)(*args)
        assert got == want and type(got) is type(want), (name, got, want)
    assert rec.hex(sep=None) == data.hex()
    assert rec.decode(errors="strict", encoding="ascii") == data.decode("ascii")
    assert rec.split(sep=b" ", maxsplit=1) == data.split(b" ", 1)
    with pytest.raises(ValueError):
        rec.index(b"absent")
    with pytest.raises(TypeError):
        rec.startswith("str")  # type: ignore[arg-type]
