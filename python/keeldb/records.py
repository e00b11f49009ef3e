"""Record files in the Riegeli records container, as Disky writes them (Pisky's API).

RecordWriter/RecordReader for one file, MultiThreadedWriter/MultiThreadedReader for a
directory of shards; records come back as zero-copy ``Bytes`` objects. The C side is
include/keel_records.h; the format is in docs/FORMAT.md.

Also Pisky's helpers: ``expand_dirs`` (the shard files of several directories), the
``Globable`` protocol it takes, and ``set_log_level``.
"""
import logging
from typing import Any, Iterator, List, Protocol, Sequence, TypeVar
from ._records import (
    BLOCK_SIZE,
    DEFAULT_CHUNK_SIZE,
    Bytes,
    CorruptionStrategy,
    MultiThreadedReader,
    MultiThreadedWriter,
    RecordReader,
    RecordWriter,
)

_T_co = TypeVar("_T_co", covariant=True)

_LOG_LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "off": logging.CRITICAL + 1,
}


class Globable(Protocol[_T_co]):
    """Anything with a ``glob(pattern)`` method returning paths, such as ``pathlib.Path``."""

    def glob(self, pattern: str) -> Iterator[_T_co]: ...


def expand_dirs(directories: Sequence[Globable[Any]], prefix: str = "shard") -> List[Any]:
    """The ``{prefix}_*`` files of each directory, in the order the directories are given.

    As Pisky's: each directory's own ``glob`` is called (so the result holds objects of the
    directories' type, e.g. ``pathlib.Path``), and the matches of one directory come in the
    order its ``glob`` yields them.
    """
    result: List[Any] = []
    for directory in directories:
        result.extend(directory.glob(f"{prefix}_*"))
    return result


def set_log_level(level_str: str) -> None:
    """Set the level of the ``keeldb`` logger: "trace", "debug", "info", "warn", "error" or
    "off" (Pisky's names; keel's C core itself never logs, it returns errors).

    An unknown name raises OSError, as Pisky does.
    """
    try:
        level = _LOG_LEVELS[level_str.lower()]
    except (KeyError, AttributeError):
        raise OSError(f"invalid log level {level_str!r}: use one of "
                      + ", ".join(_LOG_LEVELS)) from None
    logging.getLogger("keeldb").setLevel(level)


__all__ = [
    "Bytes",
    "Globable",
    "expand_dirs",
    "set_log_level",
    "CorruptionStrategy",
    "MultiThreadedReader",
    "MultiThreadedWriter",
    "RecordReader",
    "RecordWriter",
    "BLOCK_SIZE",
    "DEFAULT_CHUNK_SIZE",
]
