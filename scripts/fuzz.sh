#!/bin/sh
# scripts/fuzz.sh [SECONDS]: build the libFuzzer targets (clang, ASan + UBSan) in build-fuzz/,
# regenerate the seed corpus in fuzz/corpus/ (gitignored), and fuzz each target (the store
# opener, the record reader, then the SIMD R Drive reader and importer) for SECONDS
# (default 60).
# Exit status: 0 when no crash was found, non-zero otherwise; crash inputs are saved in
# build-fuzz/fuzz-artifacts/ and can be replayed with
#   build-fuzz/fuzz/fuzz_open build-fuzz/fuzz-artifacts/crash-...
# Extra arguments after SECONDS go to libFuzzer (e.g. -jobs=2 -workers=2; the per-job logs
# are then build-fuzz/fuzz-N.log).
set -eu
secs=${1:-60}
[ $# -gt 0 ] && shift
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-fuzz"

if [ ! -f "$build/build.ninja" ]; then
    CC=clang meson setup "$build" "$root" -Dfuzz=true -Db_sanitize=none \
        -Dbuildtype=debugoptimized -Dbench=false -Dtests=false -Dpython=disabled \
        -Dinstall_c_library=false
fi
ninja -C "$build" fuzz/fuzz_open fuzz/fuzz_make_corpus fuzz/fuzz_records fuzz/fuzz_simd

corpus="$root/fuzz/corpus"
mkdir -p "$corpus" "$corpus-records" "$build/fuzz-artifacts"
"$build/fuzz/fuzz_make_corpus" "$corpus"
# Two SIMD R Drive files: unpadded (the engine on PyPI) and 64-byte aligned (its 0.15 on),
# each with a write, an overwrite and a delete.
mkdir -p "$corpus-simd"
python3 - "$corpus-simd" <<'PY'
import struct, sys, zlib
def simd(align):
    out = bytearray()
    for h, payload in ((1, b"value1"), (2, b"value2"), (1, b"\x00"), (3, b"abc" * 30)):
        tail = len(out)
        if payload != b"\x00":
            out += b"\x00" * ((align - tail % align) % align)
        out += payload + struct.pack("<QQI", h, tail, zlib.crc32(payload))
    return bytes(out)
for align in (1, 64):
    open(f"{sys.argv[1]}/seed-align{align}.bin", "wb").write(simd(align))
PY

run() {  # name, then libFuzzer arguments
    name=$1
    shift
    set +e
    "$build/fuzz/$name" -max_total_time="$secs" -timeout=20 -rss_limit_mb=4096 \
        -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$name-" "$@"
    status=$?
    set -e
    if [ "$status" -ne 0 ]; then
        echo "fuzz.sh: $name stopped with status $status; inputs in $build/fuzz-artifacts/" >&2
        exit "$status"
    fi
    echo "fuzz.sh: $name: no crash in $secs s"
}

# The store opener (arbitrary bytes opened as a keel store), then the record reader.
run fuzz_open -max_len=16384 -dict="$root/fuzz/keel.dict" "$@" "$corpus"
ASAN_OPTIONS=allocator_may_return_null=1 run fuzz_records -max_len=262144 "$@" "$corpus-records"
run fuzz_simd -max_len=16384 "$@" "$corpus-simd"
