from typing import Any, Dict, Iterable, Optional

from _typeshed import ReadableBuffer, StrOrBytesPath
from typing_extensions import Literal

from ._keeldb import NamespaceHasher

__all__ = ["import_simd_r_drive"]

def import_simd_r_drive(
    src: StrOrBytesPath,
    dst: StrOrBytesPath,
    keys: Iterable[ReadableBuffer],
    *,
    unknown_prefix: Optional[bytes] = None,
    hasher: Optional[NamespaceHasher] = None,
    alignment: int = 0,
    sync: Literal["none", "data", "full"] = "none",
) -> Dict[str, Any]: ...
