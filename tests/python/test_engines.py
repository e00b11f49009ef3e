"""keeldb on distributed engines: Grain, Ray Data and Dask each read keel record files (and
a store) in two worker processes, and each check proves that two processes other than this
one did the reads.

Marked ``engines``: scripts/test.sh runs this module once, as its own group (engine start-up
costs seconds). Each engine's tests are skipped, with the reason, only when the engine
cannot be imported (requirements-engines.txt installs them into .venv).

Functions run by spawned workers live at module level so that the workers can import them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

import keeldb
from keeldb import DataStore, RecordWriter

pytestmark = pytest.mark.engines


def write_shards(d: Path, nfiles: int, per_file: int, **kw: Any) -> tuple[list[Path], list[bytes]]:
    d.mkdir(parents=True, exist_ok=True)
    paths, recs = [], []
    for f in range(nfiles):
        p = d / f"shard-{f}.riegeli"
        with RecordWriter(p, **kw) as w:
            for i in range(per_file):
                r = b"file %d record %06d" % (f, i)
                w.write_record(r)
                recs.append(r)
        paths.append(p)
    return paths, recs


def tag_pid(record: bytes) -> tuple[int, bytes]:
    return os.getpid(), record


def rendezvous(d: str, want: int = 2, timeout: float = 30.0) -> int:
    """Check in as this process and wait (bounded) until `want` processes have: a scheduler
    that would run every task in one worker then gets no chance to."""
    pid = os.getpid()
    Path(d, str(pid)).touch()
    end = time.monotonic() + timeout
    while len(os.listdir(d)) < want and time.monotonic() < end:
        time.sleep(0.02)
    return pid


# ---- Grain ---------------------------------------------------------------------------------


def test_grain_mp_prefetch_two_workers(tmp_path: Path) -> None:
    grain = pytest.importorskip("grain", reason="grain is not installed (pip install keeldb[grain])")
    from keeldb.grain import RecordsDataSource

    paths, recs = write_shards(tmp_path, 2, 600, array_record=True, group_size=1)
    src = RecordsDataSource(paths)
    assert len(src) == len(recs) and src[0] == recs[0] and src[-1] == recs[-1]
    assert src._getitems([5, 700, 5]) == [recs[5], recs[700], recs[5]]
    assert "RecordsDataSource(" in repr(src)

    opts = grain.multiprocessing.MultiprocessingOptions(num_workers=2)
    ds = grain.MapDataset.source(src).map(tag_pid).to_iter_dataset().mp_prefetch(opts)
    out = list(ds)
    pids = {pid for pid, _ in out}
    assert [r for _, r in out] == recs                  # every record once, in order
    assert len(pids) == 2 and os.getpid() not in pids

    def shuffled(seed: int) -> list[bytes]:
        d = grain.MapDataset.source(src).shuffle(seed=seed).map(tag_pid)
        return [r for _, r in d.to_iter_dataset().mp_prefetch(opts)]

    a, b = shuffled(7), shuffled(7)
    assert a == b and a != recs and sorted(a) == sorted(recs)


def test_grain_data_loader(tmp_path: Path) -> None:
    grain = pytest.importorskip("grain", reason="grain is not installed (pip install keeldb[grain])")
    from keeldb.grain import RecordsDataSource

    paths, recs = write_shards(tmp_path, 2, 300, array_record=True, group_size=16)
    src = RecordsDataSource(paths)
    sampler = grain.samplers.IndexSampler(num_records=len(src), shuffle=True, seed=3,
                                          num_epochs=1,
                                          shard_options=grain.sharding.NoSharding())
    loader = grain.DataLoader(data_source=src, sampler=sampler, worker_count=2)
    got = list(loader)
    assert sorted(got) == sorted(recs) and got != recs


# ---- Ray Data ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_session() -> Iterator[Any]:
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install keeldb[ray])")
    pytest.importorskip("ray.data", reason="ray.data is not installed (pip install keeldb[ray])")
    # Ray's workers import this module by name for the functions the tests ship.
    here = str(Path(__file__).resolve().parent)
    pythonpath = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False, runtime_env={"env_vars": {"PYTHONPATH": pythonpath}})
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        yield ray
    finally:
        ray.shutdown()


def _tag_batch(batch: dict[str, Any], barrier: str) -> dict[str, Any]:
    pid = rendezvous(barrier)
    batch["pid"] = [pid] * len(batch["record"])
    return batch


def test_ray_reads_ranges_in_two_workers(tmp_path: Path, ray_session: Any) -> None:
    import keeldb.ray as kray

    paths, recs = write_shards(tmp_path / "in", 4, 2500, array_record=True, group_size=100)
    ranges = keeldb.plan_splits(paths, min_splits=8)
    assert len(ranges) >= 8 and len(ranges) > len(paths)

    barrier = tmp_path / "barrier"
    barrier.mkdir()
    ds = kray.read_records(paths, override_num_blocks=8)
    assert ds.count() == len(recs)
    rows = ds.map_batches(_tag_batch, fn_kwargs={"barrier": str(barrier)},
                          batch_format="numpy").take_all()
    got = sorted(bytes(r["record"]) for r in rows)
    assert got == sorted(recs) and len(set(got)) == len(recs)   # each record exactly once
    pids = {int(r["pid"]) for r in rows}
    assert len(pids) == 2 and os.getpid() not in pids, pids

    with_paths = kray.read_records(paths[:1], include_paths=True, target_bytes=10_000).take_all()
    # Ray Data hands blocks out as tasks finish (no preserve_order): on a busy machine a later
    # range can come first, so the indexes are compared as a set of positions.
    assert sorted(r["index"] for r in with_paths) == list(range(2500))
    assert {r["path"] for r in with_paths} == {str(paths[0])}


def test_ray_read_tasks_per_cpu_by_default(tmp_path: Path, ray_session: Any) -> None:
    import keeldb.ray as kray

    # 4 files of 20 chunks: Ray alone would ask for 200 tasks and cut their output into
    # 200 blocks; read_records plans READ_TASKS_PER_CPU per CPU (2 CPUs here) at chunk
    # boundaries, and each task yields one block (its range is under BLOCK_BYTES).
    paths, recs = write_shards(tmp_path / "in", 4, 2000, array_record=True, group_size=100)
    want = 2 * kray.READ_TASKS_PER_CPU
    mat = kray.read_records(paths).materialize()
    assert mat.num_blocks() == want
    assert sorted(bytes(r["record"]) for r in mat.take_all()) == sorted(recs)
    # Blocks are capped by bytes (the read function itself, in this process).
    (r,) = keeldb.plan_splits(paths[0])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kray, "BLOCK_BYTES", 10_000)
        tables = list(kray._record_tables(r, True, "record", None))
    assert len(tables) > 3 and all(t["record"].combine_chunks().buffers()[2].size <= 10_000 for t in tables)
    assert [i for t in tables for i in t["index"].to_pylist()] == list(range(2000))
    assert [bytes(x) for t in tables for x in t["record"].to_pylist()] == recs[:2000]
    with pytest.raises(ValueError, match="min_splits"):
        kray.RecordsDatasource(paths, min_splits=0)
    with pytest.raises(ValueError, match="min_splits"):
        kray.StoreDatasource(tmp_path / "s.keel", min_splits="many")


def test_ray_groups_ranges_when_files_outnumber_tasks(tmp_path: Path, ray_session: Any) -> None:
    import keeldb.ray as kray

    # 12 files, each one range: on 2 CPUs read_records wants 4 tasks, so consecutive
    # ranges share a task (3 files each, about equal bytes), every record read once.
    paths, recs = write_shards(tmp_path / "in", 12, 1200, array_record=True, group_size=100)
    want = 2 * kray.READ_TASKS_PER_CPU
    src = kray.RecordsDatasource(paths, min_splits="auto")
    tasks = src.get_read_tasks(200)
    assert len(tasks) == want
    assert [t.metadata.num_rows for t in tasks] == [3600] * want
    assert [len(t.metadata.input_files) for t in tasks] == [3] * want
    mat = kray.read_records(paths, include_paths=True).materialize()
    rows = mat.take_all()
    assert sorted(bytes(r["record"]) for r in rows) == sorted(recs)
    assert len({(r["path"], r["index"]) for r in rows}) == len(recs)
    # The grouping itself: order kept, never more groups than asked, none empty.
    ranges = keeldb.plan_splits(paths)
    for n in (1, 2, 5, 11, 12, 40):
        groups = kray._group_ranges(ranges, n)
        assert len(groups) == min(n, len(ranges)) and all(groups)
        assert [r for g in groups for r in g] == ranges


def test_ray_task_carries_only_its_ranges(tmp_path: Path, ray_session: Any) -> None:
    import ray.cloudpickle

    import keeldb.ray as kray

    # A task carries its ranges, not the whole plan: the first task's pickle names its own
    # file only (a closure over the source pickled every range and path into every task).
    paths, recs = write_shards(tmp_path / "in", 6, 1000, array_record=True, group_size=100)
    src = kray.RecordsDatasource(paths, min_splits=6)
    tasks = src.get_read_tasks(200)
    assert len(tasks) == 6
    assert sum(t.metadata.num_rows for t in tasks) == len(recs)
    first = ray.cloudpickle.dumps(tasks[0])
    assert str(paths[0]).encode() in first
    assert not any(str(p).encode() in first for p in paths[1:])
    ds = kray.read_records(paths)
    assert sorted(bytes(r["record"]) for r in ds.take_all()) == sorted(recs)


def test_ray_write_records_round_trip(tmp_path: Path, ray_session: Any) -> None:
    import keeldb.ray as kray

    paths, recs = write_shards(tmp_path / "in", 2, 1000)
    out = tmp_path / "out"
    ds = kray.read_records(paths, override_num_blocks=4)
    written = kray.write_records(ds, out, group_size=1)
    assert written and all(Path(p).name.startswith("part-") for p in written)
    assert not [n for n in os.listdir(out) if n.endswith(".tmp")]
    back = [r.to_bytes() for p in written for r in keeldb.RecordReader(p)]
    assert sorted(back) == sorted(recs)
    ar = pytest.importorskip("array_record.python.array_record_module",
                             reason="array_record is not installed")
    via_ar = []
    for p in written:
        reader = ar.ArrayRecordReader(str(p))
        via_ar += reader.read_all()
        reader.close()
    assert sorted(via_ar) == sorted(recs)


def test_ray_read_store(tmp_path: Path, ray_session: Any) -> None:
    import keeldb.ray as kray

    path = tmp_path / "s.keel"
    with DataStore(path) as s:
        s.batch_write([(b"k%05d" % i, b"v%d" % i) for i in range(5000)])
        s.delete(b"k00007")
    rows = kray.read_store(path, override_num_blocks=4).take_all()
    assert len(rows) == 4999
    assert {bytes(r["key"]): bytes(r["value"]) for r in rows}[b"k04999"] == b"v4999"


# ---- Dask ----------------------------------------------------------------------------------


def test_dask_local_cluster_two_processes(tmp_path: Path) -> None:
    pytest.importorskip("dask.bag", reason="dask is not installed (pip install keeldb[dask])")
    distributed = pytest.importorskip("distributed",
                                      reason="distributed is not installed (pip install keeldb[dask])")
    import keeldb.dask as kdask

    paths, recs = write_shards(tmp_path, 2, 3000, chunk_size=4096)
    path = tmp_path / "s.keel"
    with DataStore(path) as s:
        s.batch_write([(b"k%05d" % i, b"v%d" % i) for i in range(3000)])
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        bag = kdask.read_records(paths, npartitions=12)
        assert bag.npartitions >= 12
        tagged = bag.map(tag_pid).compute()
        assert sorted(r for _, r in tagged) == sorted(recs)
        assert [r for _, r in tagged] == recs            # partitions come back in order
        pids = {pid for pid, _ in tagged}
        worker_pids = set(client.run(os.getpid).values())
        assert pids <= worker_pids and len(worker_pids) == 2 and os.getpid() not in pids
        assert len(pids) == 2, pids
        entries = kdask.read_store(path, npartitions=3).compute()
        assert dict(entries) == {b"k%05d" % i: b"v%d" % i for i in range(3000)}


# ---- the README's engine examples -------------------------------------------------------------


def test_readme_engine_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README blocks marked "# needs: ENGINE" run as written (as a script would)."""
    import runpy
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        from test_typing import ENGINE_MODULES, needs, readme_blocks, write_blocks
    finally:
        sys.path.pop(0)
    wanted = {needs(b) for b in readme_blocks()} - {None}
    assert wanted == set(ENGINE_MODULES)
    monkeypatch.chdir(tmp_path)
    files = write_blocks(tmp_path, engines=True)
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():   # the README's block starts its own
        ray.shutdown()
    if not files:
        pytest.skip("no distributed engine is installed (requirements-engines.txt)")
    for p in files:
        runpy.run_path(str(p), run_name="__main__")
