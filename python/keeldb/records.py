"""Record files in the Riegeli records container, as Disky writes them (Pisky's API).

RecordWriter/RecordReader for one file, MultiThreadedWriter/MultiThreadedReader for a
directory of shards; records come back as zero-copy ``Bytes`` objects. The C side is
include/keel_records.h; the format is in docs/FORMAT.md.

``RecordReader`` here is a thin Python subclass of the C type: it remembers its path and
corruption strategy so that it pickles as "path plus position" and reopens in the process
that unpickles it (distributed engines ship their sources by pickling). Reading goes
straight to the C methods.

Also Pisky's helpers: ``expand_dirs`` (the shard files of several directories), the
``Globable`` protocol it takes, and ``set_log_level``.
"""
import logging
import os
from typing import Any, Iterator, List, Protocol, Sequence, Tuple, TypeVar

from . import _records
from ._records import (
    BLOCK_SIZE,
    DEFAULT_CHUNK_SIZE,
    Bytes,
    CorruptionStrategy,
    MultiThreadedReader,
    MultiThreadedWriter,
    RecordWriter,
)


def _reopen_reader(path: str, strategy: int, position: int) -> "RecordReader":
    reader = RecordReader(path, strategy)
    if position:
        reader.seek(position)
    return reader


class RecordReader(_records.RecordReader):
    __slots__ = ("_keel_path", "_keel_strategy", "__weakref__")

    def __init__(self, path: Any, corruption_strategy: Any = None) -> None:
        super().__init__(path, corruption_strategy)
        # The C type has parsed both arguments: they are valid here.
        self._keel_path = os.path.abspath(_path_text(path))
        if isinstance(corruption_strategy, str):
            corruption_strategy = 1 if corruption_strategy == "recover" else 0
        self._keel_strategy = int(corruption_strategy or 0)

    def __reduce__(self) -> Tuple[Any, ...]:
        if self.closed:
            raise TypeError("cannot pickle a closed RecordReader")
        return (_reopen_reader, (self._keel_path, self._keel_strategy, self.tell()))


def _path_text(path: Any) -> str:
    """The path as the C type took it: os.PathLike, str, bytes, or an object whose type
    defines its own __str__ (Pisky's "anything that converts to a string path")."""
    if isinstance(path, (str, bytes, os.PathLike)):
        return os.fsdecode(os.fspath(path))
    return str(path)

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
