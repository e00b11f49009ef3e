#!/usr/bin/env python3
"""Checks that keel's layers depend on each other in one direction only.

src/ has one folder per layer. A layer may use the layers listed for it in ALLOWED, never
one above it, and the files of src/ may not call each other in a circle. Two independent
checks, so neither can be dodged by the other's blind spot:

1. Includes (from the sources): a file in src/<layer>/ may include "<other>/..." only for an
   allowed <other>; tools/, python/, bench/ and fuzz/ include the public headers only
   (tests/c may include internal headers: they test them; so may the fuzz targets listed
   in FUZZ_INTERNAL, for decoders that have no public entry point of their own).
2. Symbols (from the built static library, with nm): an object of src/<layer>/ may refer to
   symbols defined only in its own layer or an allowed one; and the graph "file A calls a
   function defined in file B" has no cycle.

Usage: check-layers.py SOURCE_ROOT [LIBKEEL_A]. Exit status 0 when clean, 1 with one line per
violation. Run by `meson test --suite c` (test 'layers') and so by scripts/test.sh.
"""
import os
import re
import subprocess
import sys

# layer -> the layers it may use (besides itself). Keep in step with docs/ARCHITECTURE.md.
ALLOWED = {
    "base": set(),
    "store": {"base"},
    "records": {"base"},
    "migrate": {"base", "store"},
    "db": {"base", "store"},
    "server": {"base", "store", "db"},
}
PUBLIC_ONLY = ["tools", "python", "bench", "fuzz"]
# Fuzz targets of internal input surfaces (they include the internal header like tests/c do).
# fuzz_item compares a key given by value with the same key as a map down to the store key,
# which only db_internal.h (kdb_table, kdb_item_key) shows.
FUZZ_INTERNAL = {"fuzz/fuzz_item.c": {"db/db.h", "db/db_internal.h"},
                 "fuzz/fuzz_expr.c": {"db/db.h", "db/expr.h"},
                 "fuzz/fuzz_hnsw.c": {"db/hnsw.h", "db/vec_kernels.h"}}
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def check_includes(root):
    errors = []
    src = os.path.join(root, "src")
    for layer in sorted(os.listdir(src)):
        ldir = os.path.join(src, layer)
        if not os.path.isdir(ldir):
            errors.append(f"src/{layer}: a file directly in src/ (every file belongs to a layer)")
            continue
        if layer not in ALLOWED:
            errors.append(f"src/{layer}/: unknown layer (add it to ALLOWED in {sys.argv[0]})")
            continue
        for name in sorted(os.listdir(ldir)):
            if not name.endswith((".c", ".h")):
                continue
            text = open(os.path.join(ldir, name), encoding="utf-8").read()
            for inc in INCLUDE_RE.findall(text):
                if "/" not in inc:
                    if not inc.startswith("keel"):  # public headers: keel.h, keel_*.h
                        errors.append(f"src/{layer}/{name}: includes \"{inc}\"; name the layer "
                                      f"(\"{layer}/{inc}\")")
                    continue
                other = inc.split("/", 1)[0]
                if other != layer and other not in ALLOWED[layer]:
                    errors.append(f"src/{layer}/{name}: includes \"{inc}\", but {layer} may "
                                  f"not use {other} (allowed: {sorted(ALLOWED[layer]) or 'none'})")
    for top in PUBLIC_ONLY:
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in files:
                if not name.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, name)
                text = open(path, encoding="utf-8").read()
                rel = os.path.relpath(path, root)
                for inc in INCLUDE_RE.findall(text):
                    if inc in FUZZ_INTERNAL.get(rel, ()):
                        continue
                    if inc.split("/", 1)[0] in ALLOWED:
                        errors.append(f"{os.path.relpath(path, root)}: includes the internal "
                                      f"header \"{inc}\"; use the public API")
    return errors


def object_layer(obj):
    # meson names the objects of src/<layer>/<file>.c "src_<layer>_<file>.c.o".
    m = re.match(r"src_([a-z0-9]+)_(.+)\.c\.o$", obj)
    return (m.group(1), f"src/{m.group(1)}/{m.group(2)}.c") if m else (None, obj)


NM_RE = re.compile(r"^.*:([^:/]+\.o):\s*[0-9a-fA-F]*\s+([A-Za-z])\s+(\S+)$")


def nm(lib, flag):
    out = subprocess.run(["nm", "-A", flag, lib], capture_output=True, text=True, check=True)
    for line in out.stdout.splitlines():
        m = NM_RE.match(line)
        if m:
            yield m.groups()  # object, symbol type, symbol


def check_symbols(lib):
    defined = {sym: obj for obj, kind, sym in nm(lib, "--defined-only") if kind.isupper()}
    edges = {}
    errors = []
    for obj, _, sym in nm(lib, "--undefined-only"):
        target = defined.get(sym)
        if not target or target == obj:
            continue
        la, fa = object_layer(obj)
        lb, fb = object_layer(target)
        if la is None or lb is None:
            continue
        edges.setdefault(fa, set()).add(fb)
        if la != lb and lb not in ALLOWED.get(la, set()):
            errors.append(f"{fa} calls {sym} from {fb}: {la} may not use {lb}")
    # Cycles between files (Tarjan's strongly connected components).
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    for comp in sccs:
        errors.append("files call each other in a circle: " + " <-> ".join(comp))
    return errors


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    errors = check_includes(sys.argv[1])
    if len(sys.argv) == 3:
        errors += check_symbols(sys.argv[2])
    for e in errors:
        print(e)
    print(f"layers: {len(errors)} problem(s)" if errors else "layers: clean")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
