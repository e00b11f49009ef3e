"""
keel_format.py: the store file's entry layout, read and re-sealed from Python, as
docs/FORMAT.md states it, for tests that damage files on purpose (test_db_damage.py,
test_vector_gaps.py). Written from the format document, not from keel's code, so a test that
uses it also checks that the document is true.
"""
from __future__ import annotations

import struct
from pathlib import Path
from typing import List, Tuple

_T: List[int] = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ (0x82F63B78 if _c & 1 else 0)
    _T.append(_c)


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc = _T[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


Entry = Tuple[int, int, int, int, int]  # value offset, value length, key offset, key length, trailer


def entries(raw: bytes) -> List[Entry]:
    """The entries of a store file in file order, walking the trailer chain back from the end."""
    out = []
    end = len(raw) & ~7
    align = 1 << raw[12]
    while end > 64:
        t = end - 40
        _, prev, vlen, klen, _, magic = struct.unpack_from("<QQQIHH", raw, t)
        assert magic == 0x546B
        voff = (prev + align - 1) // align * align if vlen else prev
        out.append((voff, vlen, voff + vlen, klen, t))
        end = prev
    return out[::-1]


def reseal(raw: bytearray, e: Entry) -> None:
    """Recompute entry e's CRC after its value was edited (a well-formed, hostile entry)."""
    voff, vlen, koff, klen, t = e
    body = bytes(raw[voff:voff + vlen]) + bytes(raw[koff:koff + klen]) + bytes(raw[t:t + 36])
    struct.pack_into("<I", raw, t + 36, crc32c(body))


def set_kind(path: Path, kind: int) -> None:
    head = bytearray(path.read_bytes()[:64])
    head[13] = kind
    struct.pack_into("<I", head, 60, crc32c(bytes(head[:60])))
    with open(path, "r+b") as f:
        f.write(head)
