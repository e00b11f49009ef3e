"""Constants shared by the parent (bench/__main__.py) and the per-engine worker."""
from __future__ import annotations

import random

KEY_LEN = 16
VAL_LEN = 100
BATCH = 1000
SYNC_EVERY = 1000
LARGE_LEN = 1 << 20
STREAM_CHUNK = 1 << 16
VALUE_POOL = 4096  # distinct 100-byte values; key i gets pool[i % VALUE_POOL]

SEED_KEYS = 0x6B65656C  # "keel"
SEED_ABSENT = SEED_KEYS + 1
SEED_ORDER = SEED_KEYS + 2
SEED_VALUES = SEED_KEYS + 3
SEED_LARGE = SEED_KEYS + 4

SIZES = {  # name -> (small-value keys, 1 MiB values)
    "quick": (100_000, 64),
    "full": (1_000_000, 512),
}

# (id, label, unit of one op). Numbered as in issue 4.
WORKLOADS = [
    ("write", "1a single write, no fsync", "write"),
    ("write_fsync", "1b single write, fsync every 1000", "write"),
    ("batch_write", "2 batch write, 1000 per batch", "entry"),
    ("read", "3a random read -> bytes", "read"),
    ("read_view", "3b random read -> zero-copy view", "read"),
    ("batch_read", "3c random batch read, 1000 keys per call", "read"),
    ("exists_present", "4a exists, present keys", "call"),
    ("exists_absent", "4b exists, absent keys", "call"),
    ("iterate", "5 full iteration (key, value)", "entry"),
    ("reopen", "6 reopen populated store (+1 read)", "open"),
    ("large_write", "7a 1 MiB write (streamed where offered)", "value"),
    ("large_read", "7b 1 MiB read -> bytes", "value"),
    ("large_read_view", "7c 1 MiB read -> zero-copy view", "value"),
    ("large_read_stream", "7d 1 MiB read, streamed (64 KiB reads)", "value"),
    ("threads_read", "8 random read, 2 threads (aggregate)", "read"),
]
WORKLOAD_IDS = [w[0] for w in WORKLOADS]
PLURAL = {"entry": "entries"}


def units(unit: str) -> str:
    return PLURAL.get(unit, unit + "s")


# 7b-7d loop over the 1 MiB keys until at least this many values were read (the timer and
# the noise of a shared machine need more than 64 reads); 7c is cheap where it is zero-copy.
LARGE_READ_MIN_OPS = 512
VIEW_MIN_OPS = 4096
LABELS = {w[0]: w[1] for w in WORKLOADS}


def resolve_size(size: str) -> tuple[int, int]:
    if size in SIZES:
        return SIZES[size]
    n = int(size.replace("_", ""))
    if n < 2 * BATCH or n % BATCH:
        raise ValueError("--size N must be a multiple of 1000 and at least 2000")
    large = max(8, min(512, round(64 * n / 100_000)))
    return n, large


def gen_keys(n: int, seed: int) -> list[bytes]:
    """n distinct 16-byte keys from a fixed seed."""
    blob = random.Random(seed).randbytes(KEY_LEN * n)
    keys = [blob[i:i + KEY_LEN] for i in range(0, KEY_LEN * n, KEY_LEN)]
    if len(set(keys)) != n:  # 2^-100 odds; checked anyway
        raise RuntimeError("duplicate keys")
    return keys


def gen_values() -> list[bytes]:
    blob = random.Random(SEED_VALUES).randbytes(VAL_LEN * VALUE_POOL)
    return [blob[i:i + VAL_LEN] for i in range(0, VAL_LEN * VALUE_POOL, VAL_LEN)]


def gen_order(n: int) -> list[int]:
    order = list(range(n))
    random.Random(SEED_ORDER).shuffle(order)
    return order
