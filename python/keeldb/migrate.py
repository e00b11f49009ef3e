"""Moving data into keel from other engines: SIMD R Drive files.

``import_simd_r_drive(src, dst, keys)`` copies the newest version of every live key of a
SIMD R Drive file into a new keel store. A SIMD R Drive file keeps only 64-bit hashes of its
keys, so the keys come from the caller; entries whose hash matches none are listed in the
report and skipped, or kept under ``unknown_prefix`` + the 16 hex digits of their hash. The
source is opened read-only and never modified; a damaged entry raises ``CorruptError`` naming
its offset; a torn tail (bytes after the last complete entry) is reported, not imported.
The reader is C (src/migrate/simd.c); this module only gathers the arguments.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

from ._keeldb import DataStore, NamespaceHasher, _simd_import

__all__ = ["import_simd_r_drive"]

_Path = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


def import_simd_r_drive(
    src: _Path,
    dst: _Path,
    keys: Iterable[Any],
    *,
    unknown_prefix: Optional[bytes] = None,
    hasher: Optional[NamespaceHasher] = None,
    alignment: int = 0,
    sync: str = "none",
) -> Dict[str, Any]:
    """Import the SIMD R Drive file ``src`` into a new keel store at ``dst``.

    ``keys``: the keys the file was written with (bytes-like; others are ignored). With
    ``hasher``, each key is stored as ``hasher.namespace(key)``, as code using SIMD R Drive's
    NamespaceHasher wrote and read it. ``alignment``: the payload alignment of the writer's
    version (1 before 0.14, 16 in 0.14, 64 from 0.15), 0 to find it. ``dst`` must not exist;
    it is removed again if the import fails.

    Returns a dict: ``entries``, ``live``, ``imported``, ``deleted``, ``superseded``,
    ``unknown_count``, ``unknown_kept``, ``unknown`` (a list of ``(key_hash, offset,
    length)`` for the live entries no key matched), ``file_size``, ``valid_size``,
    ``torn_bytes`` and ``alignment``.
    """
    key_list: List[bytes] = []
    for k in keys:
        if isinstance(k, str):
            raise TypeError("keys must be bytes-like, not str (encode them first)")
        kb = bytes(k)
        key_list.append(hasher.namespace(kb) if hasher is not None else kb)
    if unknown_prefix is not None:
        unknown_prefix = bytes(unknown_prefix)
    if os.path.lexists(dst):
        raise FileExistsError(f"import_simd_r_drive: {os.fsdecode(dst)!r} already exists; "
                              "the import writes a new store")
    if os.path.realpath(os.fsdecode(src)) == os.path.realpath(os.fsdecode(dst)):
        raise ValueError("import_simd_r_drive: src and dst are the same file")
    store = DataStore(dst, sync=sync)  # type: ignore[arg-type]
    try:
        report = _simd_import(src, store, key_list, unknown_prefix, alignment)
        store.close()
    except BaseException:
        store.close()
        os.unlink(dst)
        raise
    return report
