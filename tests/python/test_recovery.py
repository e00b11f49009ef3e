"""What opening a DataStore recovers, from Python (issue 16, defects 3 and 4).

A writable open that cuts a torn or damaged tail saves the cut bytes beside the store,
says so through DataStore.recovery and a keeldb.RecoveryWarning naming the saved file; a
read-only open reports without cutting. DataStore.repair() cuts damage a plain open
refuses. `keel stat` shows a recovery line and `keel repair` does what repair() does.
"""

import os
import subprocess
import warnings

import pytest

import keeldb


def _store(path, n=4, sync="data"):
    with keeldb.DataStore(path, sync=sync) as s:
        for i in range(n):
            s.write(b"k%d" % i, b"value %d" % i)
        return s.file_size


def test_clean_open_reports_nothing(tmp_path):
    p = tmp_path / "c.keel"
    _store(p)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with keeldb.DataStore(p) as s:
            assert s.recovery is None


def test_flipped_newest_entry_is_saved_reported_and_warned(tmp_path):
    p = tmp_path / "f.keel"
    _store(p, 3)
    with keeldb.DataStore(p, readonly=True) as s:
        entry = s.read_entry(b"k2")
        off = entry.start_offset
        del entry
    data = bytearray(p.read_bytes())
    data[off] ^= 0x20
    p.write_bytes(bytes(data))

    with keeldb.DataStore(p, readonly=True) as s:
        r = s.recovery
        assert r is not None and r["kind"] == "checksum" and r["cut"] is False
        assert r["saved_path"] is None and r["valid_end"] + r["cut_bytes"] == len(data)

    with pytest.warns(keeldb.RecoveryWarning) as rec:
        s = keeldb.DataStore(p)
    with s:
        r = s.recovery
        assert r["kind"] == "checksum" and r["cut"] is True
        assert r["saved_path"] in str(rec[0].message)
        assert s.get(b"k2") is None and s.read(b"k1") == b"value 1"
        saved = open(r["saved_path"], "rb").read()
        assert saved == bytes(data[r["valid_end"]:])
        assert os.path.getsize(p) == r["valid_end"]


def test_repair_cuts_a_broken_chain(tmp_path):
    p = tmp_path / "r.keel"
    _store(p, 6)
    with keeldb.DataStore(p, readonly=True) as s:
        end4 = s.read_entry(b"k4").entry_end
        end3 = s.read_entry(b"k3").entry_end
    data = bytearray(p.read_bytes())
    data[end4 - 40 + 30] ^= 0x01  # k4's trailer magic: damage right below the last write
    p.write_bytes(bytes(data))
    with pytest.raises(keeldb.CorruptError, match="repair"):
        keeldb.DataStore(p)
    r = keeldb.DataStore.repair(p)
    assert r is not None and r["kind"] == "repaired" and r["valid_end"] == end3
    assert open(r["saved_path"], "rb").read() == bytes(data[end3:])
    with keeldb.DataStore(p) as s:
        assert s.recovery is None
        assert sorted(s.keys()) == [b"k0", b"k1", b"k2", b"k3"]
    assert keeldb.DataStore.repair(p) is None
    with pytest.raises(TypeError):
        keeldb.DataStore.repair()  # type: ignore[call-arg]
    with pytest.raises(keeldb.Error):
        keeldb.DataStore.repair(tmp_path / "missing.keel")


def test_cli_stat_and_repair(tmp_path, cli):
    p = tmp_path / "s.keel"
    _store(p, 2)
    with open(p, "ab") as f:
        f.write(b"x" * 51)
    out = subprocess.run([cli, str(p), "stat"], capture_output=True, text=True, check=True).stdout
    assert "recovery:          torn: 51 bytes" in out
    out = subprocess.run([cli, str(p), "repair"], capture_output=True, text=True, check=True).stdout
    assert "saved in" in out and ".recovered-" in out
    out = subprocess.run([cli, str(p), "stat"], capture_output=True, text=True, check=True).stdout
    assert "recovery:          none" in out
