"""The upstream (simd_r_drive) README examples, verbatim except for the import line.

Seeds 000 and 001 are the two published versions of simd-r-drive-py's README. Each example
runs as a script in a fresh temporary directory, exactly as a user would paste it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

UPSTREAM_IMPORT = "from simd_r_drive import DataStore"
OUR_IMPORT = "from keeldb import DataStore"

# --- seed 000 (README on GitHub) -------------------------------------------------------

SEED0_REGULAR = '''
from simd_r_drive import DataStore

# Create or open a datastore
store = DataStore("mydata.bin")

# Write a key/value pair
store.write(b"username", b"jdoe")

# Read the value
value = store.read(b"username")
print(value)  # b'jdoe'

# Check existence
assert store.exists(b"username")

# Delete the key
store.delete(b"username")
assert store.read(b"username") is None
'''

SEED0_BATCH = '''
from simd_r_drive import DataStore

store = DataStore("batch.bin")

# Prepare entries as a list of (key, value) byte tuples
entries = [
    (b"user:1", b"alice"),
    (b"user:2", b"bob"),
    (b"user:3", b"charlie"),
]

# Write all entries in a single batch
store.batch_write(entries)

# Verify that all entries were written correctly
for key, value in entries:
    assert store.read(key) == value
'''

SEED0_STREAM = '''
from simd_r_drive import DataStore
import io

store = DataStore("streamed.bin")

# Create a large payload
payload = b"x" * (10 * 1024 * 1024)  # 10 MB

# Write the payload using a stream
stream = io.BytesIO(payload)
store.write_stream(b"large-file", stream)

# Read the payload back in chunks
read_stream = store.read_stream(b"large-file")
result = bytearray()

while chunk := read_stream.read(4096):
    result.extend(chunk)

assert result == payload
'''

# --- seed 001 (README on PyPI) ----------------------------------------------------------

SEED1_REGULAR = SEED0_REGULAR  # identical text in both versions
SEED1_BATCH = SEED0_BATCH

SEED1_STREAM = '''
from simd_r_drive import DataStore
import io

store = DataStore("streamed.bin")

# Simulated payload — in practice, this could be any file-like stream,
# including one that does not fit entirely into memory.
payload = b"x" * (10 * 1024 * 1024)  # Example: 10 MB of dummy data
stream = io.BytesIO(payload)
store.write_stream(b"large-file", stream)

# Read the payload back in chunks
read_stream = store.read_stream(b"large-file")
result = bytearray()

for chunk in read_stream:
    result.extend(chunk)

assert result == payload
'''

EXAMPLES = {
    "seed0-regular": SEED0_REGULAR,
    "seed0-batch": SEED0_BATCH,
    "seed0-stream": SEED0_STREAM,
    "seed1-regular": SEED1_REGULAR,
    "seed1-batch": SEED1_BATCH,
    "seed1-stream": SEED1_STREAM,
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_upstream_example(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = EXAMPLES[name]
    assert source.count(UPSTREAM_IMPORT) == 1
    source = source.replace(UPSTREAM_IMPORT, OUR_IMPORT)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__main__"}
    exec(compile(source, f"<{name}>", "exec"), namespace)
    if name.endswith("regular"):
        assert capsys.readouterr().out == "b'jdoe'\n"
    # Each example leaves its store file in the working directory, as upstream's would.
    assert any(p.suffix == ".bin" for p in tmp_path.iterdir())


def test_second_run_reopens_existing_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Running an example twice in the same directory reopens the file it made."""
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        ns: dict[str, object] = {}
        exec(SEED0_BATCH.replace(UPSTREAM_IMPORT, OUR_IMPORT), ns)
        ns.clear()  # drops the store: the next run must be able to take the lock
        import gc

        gc.collect()
