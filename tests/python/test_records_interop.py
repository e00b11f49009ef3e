"""Interoperability with array_record (PyPI), the reference implementation built on Riegeli.

Skipped, with the reason, only when array_record cannot be imported (no wheel for this
platform or Python). Proves in both directions that our files are Riegeli/records files:
  - every file ArrayRecordWriter writes (uncompressed, zstd, brotli; several group sizes)
    reads back through our RecordReader as exactly the records written, footer excluded;
  - files we write with array_record=True open in ArrayRecordReader, by index and
    sequentially, for the three compressions;
  - our uncompressed output is byte-identical to array_record's.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from keeldb import RecordReader, RecordWriter

ar = pytest.importorskip(
    "array_record.python.array_record_module",
    reason="array_record is not installed (pip install array_record); no wheel for this platform?",
)

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "records"


def sample(n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        size = rng.choice([0, 1, 7, 127, 128, 1000, 5000, 70_000]) if i % 50 else 200_000
        out.append(bytes(rng.getrandbits(8) for _ in range(min(size, 64))) * (size // 64 + 1))
        out[-1] = out[-1][:size]
    return out


@pytest.mark.parametrize("compression", ["uncompressed", "zstd", "brotli", "zstd:1", "brotli:2"])
@pytest.mark.parametrize("group", [None, 1, 7, 1000])
def test_array_record_files_read_back(tmp_path, compression, group):
    recs = sample(300, hash((compression, group)) & 0xFFFF)
    p = tmp_path / "ar.rec"
    opts = compression + (f",group_size:{group}" if group else "")
    w = ar.ArrayRecordWriter(str(p), opts)
    for r in recs:
        w.write(r)
    w.close()
    with RecordReader(p) as r:
        got = [x.to_bytes() for x in r]
    assert got == recs
    assert RecordReader.count_records(p) == len(recs)
    r = RecordReader(p)
    assert len(r) == len(recs)
    for i in (0, len(recs) // 2, len(recs) - 1):
        assert r[i] == recs[i]


def test_array_record_default_options(tmp_path):
    p = tmp_path / "ar.rec"
    w = ar.ArrayRecordWriter(str(p))      # zstd:3, group_size 65536
    recs = [b"record %d" % i for i in range(10_000)]
    for x in recs:
        w.write(x)
    w.close()
    assert [x.to_bytes() for x in RecordReader(p)] == recs


@pytest.mark.parametrize("compression", [None, "zstd", "brotli"])
@pytest.mark.parametrize("group", [1, 3, 64, 65536])
def test_our_files_open_in_array_record(tmp_path, compression, group):
    recs = sample(200, group)
    p = tmp_path / "ours.rec"
    with RecordWriter(p, compression=compression, array_record=True, group_size=group) as w:
        for x in recs:
            w.write_record(x)
    reader = ar.ArrayRecordReader(str(p))
    assert reader.num_records() == len(recs)
    assert reader.read_all() == recs
    idx = [len(recs) - 1, 0, 57, 58, 3]
    assert reader.read(idx) == [recs[i] for i in idx]
    reader.seek(10)
    assert [reader.read() for _ in range(5)] == recs[10:15]
    assert reader.read(5, 9) == recs[5:9]
    reader.close()
    # and we still read it (the footer is not a record)
    assert [x.to_bytes() for x in RecordReader(p)] == recs
    assert RecordReader.count_records(p) == len(recs)


def test_array_record_append_keeps_footer_valid(tmp_path):
    p = tmp_path / "ours.rec"
    with RecordWriter(p, array_record=True, group_size=4) as w:
        for i in range(8):
            w.write_record(b"a%d" % i)
    with RecordWriter(p, append=True, array_record=True, group_size=4) as w:
        for i in range(3):
            w.write_record(b"b%d" % i)
    want = [b"a%d" % i for i in range(8)] + [b"b%d" % i for i in range(3)]
    assert ar.ArrayRecordReader(str(p)).read_all() == want
    assert [x.to_bytes() for x in RecordReader(p)] == want


def test_uncompressed_output_is_byte_identical(tmp_path):
    recs = [b"rec%d" % i for i in range(5)]
    theirs = tmp_path / "theirs"
    w = ar.ArrayRecordWriter(str(theirs), "uncompressed,group_size:2")
    for x in recs:
        w.write(x)
    w.close()
    ours = tmp_path / "ours"
    with RecordWriter(ours, array_record=True, group_size=2) as w2:
        for x in recs:
            w2.write_record(x)
    assert ours.read_bytes() == theirs.read_bytes()


@pytest.mark.parametrize("name", ["one_record.riegeli", "record_127.riegeli",
                                  "spanning_blocks.riegeli"])
def test_golden_files_match_array_record(tmp_path, name):
    # array_record writes the same chunk for the same records; its footer follows.
    recs = [x.to_bytes() for x in RecordReader(GOLDEN / name)]
    p = tmp_path / "ar"
    w = ar.ArrayRecordWriter(str(p), "uncompressed,group_size:1000")
    for x in recs:
        w.write(x)
    w.close()
    golden = (GOLDEN / name).read_bytes()
    assert p.read_bytes()[: len(golden)] == golden


def test_padded_chunks_both_ways(tmp_path):
    p = tmp_path / "ours"
    with RecordWriter(p, compression="zstd", array_record=True, group_size=70_000) as w:
        for _ in range(70_001):
            w.write_record(b"")
    rd = ar.ArrayRecordReader(str(p))
    assert rd.num_records() == 70_001 and rd.read([70_000]) == [b""]
    q = tmp_path / "theirs"
    w2 = ar.ArrayRecordWriter(str(q), "zstd,group_size:70000")
    for _ in range(70_001):
        w2.write(b"")
    w2.close()
    assert len(RecordReader(q)) == 70_001 and sum(1 for _ in RecordReader(q)) == 70_001
