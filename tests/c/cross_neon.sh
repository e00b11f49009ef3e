#!/bin/sh
# cross_neon.sh SOURCE_ROOT: build tests/c/test_vec_kernels.c and the kernel sources for arm64
# with the cross compiler (so vec_kernels_neon.c is compiled, with zero warnings, on an x86
# build machine too) and run the result under qemu-user when it is installed. Exit 77 (meson:
# SKIP) with the reason when the cross compiler is missing; a compile warning, an error or a
# failing kernel check fails the test. KEEL_CROSS_CC and KEEL_QEMU_AARCH64 override the tools.
set -u
root=${1:?usage: cross_neon.sh SOURCE_ROOT}
cc=${KEEL_CROSS_CC:-aarch64-linux-gnu-gcc}
if ! command -v "$cc" >/dev/null 2>&1; then
    echo "SKIP: no arm64 cross compiler '$cc' (Debian: apt-get install gcc-aarch64-linux-gnu)"
    exit 77
fi
out=$(mktemp -d "${TMPDIR:-/tmp}/keel-neon.XXXXXX") || exit 1
trap 'rm -rf "$out"' EXIT INT TERM
set -x
"$cc" -std=c11 -O2 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
    -D_GNU_SOURCE -I"$root/src" -I"$root/include" -I"$root/tests/c" -static -pthread \
    -o "$out/test_vec_kernels" "$root/tests/c/test_vec_kernels.c" "$root/src/db/vec_kernels.c" \
    "$root/src/db/vec_kernels_x86.c" "$root/src/db/vec_kernels_neon.c" -lm || exit 1
set +x
qemu=${KEEL_QEMU_AARCH64:-}
[ -n "$qemu" ] || qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
if [ -z "$qemu" ]; then
    echo "compiled cleanly for arm64; not run: no qemu-aarch64 (apt-get install qemu-user-static)"
    exit 0
fi
"$qemu" "$out/test_vec_kernels"
