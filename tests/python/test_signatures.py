"""inspect.signature works on every public function, type and method, and agrees with the stubs.

Every C-level callable carries a text signature (CPython's ``name(...)\\n--\\n\\n`` docstring
convention), so ``help()``, IDEs and Jupyter show its parameters. This test parses the shipped
``.pyi`` files and compares, for every function and method they declare, the parameter
names, kinds (positional-only, keyword-only, ...) and defaults with ``inspect.signature`` of
the runtime object. Annotations are the stubs' business (mypy.stubtest checks them).
"""

from __future__ import annotations

import ast
import inspect
import sys
import types
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

import keeldb
import keeldb.records

STUB_DIR = Path(keeldb.__file__).resolve().parent

# Names a stub declares that have no runtime signature to compare, with the reason.
SKIP = {
    "__buffer__",  # the buffer protocol is a slot; a method only from Python 3.12 (PEP 688)
    "__hash__",
}

Param = Tuple[str, inspect._ParameterKind, bool, Any]  # name, kind, has default, default
NO_VALUE = object()  # the stub's default is `...`: any default will do


def _stub_params(fn: ast.FunctionDef, drop_first: bool) -> List[Param]:
    a = fn.args
    out: List[Param] = []
    positional = list(a.posonlyargs) + list(a.args)
    defaults: List[Optional[ast.expr]] = [None] * (len(positional) - len(a.defaults))
    defaults += list(a.defaults)
    for i, (arg, d) in enumerate(zip(positional, defaults)):
        kind = (inspect.Parameter.POSITIONAL_ONLY if i < len(a.posonlyargs)
                else inspect.Parameter.POSITIONAL_OR_KEYWORD)
        out.append((arg.arg, kind, d is not None, _value(d)))
    if a.vararg is not None:
        out.append((a.vararg.arg, inspect.Parameter.VAR_POSITIONAL, False, None))
    for arg, d in zip(a.kwonlyargs, a.kw_defaults):
        out.append((arg.arg, inspect.Parameter.KEYWORD_ONLY, d is not None, _value(d)))
    if a.kwarg is not None:
        out.append((a.kwarg.arg, inspect.Parameter.VAR_KEYWORD, False, None))
    return out[1:] if drop_first else out


def _value(node: Optional[ast.expr]) -> Any:
    if node is None:
        return None
    if isinstance(node, ast.Constant) and node.value is Ellipsis:
        return NO_VALUE
    return eval(compile(ast.Expression(node), "<stub>", "eval"), {})  # our own stub file


def _runtime_params(sig: inspect.Signature) -> List[Param]:
    return [(p.name, p.kind, p.default is not p.empty,
             None if p.default is p.empty else p.default) for p in sig.parameters.values()]


def _decorators(fn: ast.FunctionDef) -> List[str]:
    names = []
    for d in fn.decorator_list:
        if isinstance(d, ast.Name):
            names.append(d.id)
        elif isinstance(d, ast.Attribute):
            names.append(d.attr)
    return names


def _merge_overloads(fns: List[ast.FunctionDef], drop_first: bool) -> List[Param]:
    """One signature for @overload variants: the longest, with the parameters missing from
    some variant counted as having a default."""
    variants = [_stub_params(f, drop_first) for f in fns]
    longest = max(variants, key=len)
    shortest = min(len(v) for v in variants)
    return [(n, k, d or i >= shortest, NO_VALUE if (not d and i >= shortest) else v)
            for i, (n, k, d, v) in enumerate(longest)]


def _stub_items(stub: Path) -> Dict[str, Any]:
    """{name: [FunctionDef, ...]} for functions and {name: ClassDef} for classes."""
    tree = ast.parse(stub.read_text())
    items: Dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            items.setdefault(node.name, []).append(node)
        elif isinstance(node, ast.ClassDef):
            items[node.name] = node
    return items


def _cases() -> List[Tuple[str, Any, List[Param], bool]]:
    """(label, runtime object, stub parameters, is a slot wrapper) for everything stubbed."""
    cases = []
    modules = [("_keeldb.pyi", keeldb), ("records.pyi", keeldb.records),
               ("__init__.pyi", keeldb)]
    for stub_name, mod in modules:
        for name, item in _stub_items(STUB_DIR / stub_name).items():
            if name.startswith("_") or not hasattr(mod, name):
                continue
            obj = getattr(mod, name)
            if isinstance(item, list):
                cases.append((f"{mod.__name__}.{name}", obj, _merge_overloads(item, False), False))
                continue
            if not isinstance(obj, type) or issubclass(obj, BaseException):
                continue
            if not (isinstance(item, ast.ClassDef)):
                continue
            methods: Dict[str, List[ast.FunctionDef]] = {}
            for node in item.body:
                if isinstance(node, ast.FunctionDef):
                    methods.setdefault(node.name, []).append(node)
            for mname, fns in methods.items():
                if mname in SKIP or "property" in _decorators(fns[0]):
                    continue
                label = f"{mod.__name__}.{name}.{mname}"
                if mname in ("__new__", "__init__"):
                    cases.append((label, obj, _merge_overloads(fns, True), False))
                    continue
                raw = inspect.getattr_static(obj, mname)
                slot = isinstance(raw, (types.WrapperDescriptorType, types.MethodWrapperType))
                cases.append((label, raw if slot else getattr(obj, mname),
                              _merge_overloads(fns, False), slot))
    return cases


CASES = _cases()


def test_the_stubs_cover_the_api() -> None:
    labels = {c[0] for c in CASES}
    for name in ("keeldb.DataStore.__new__", "keeldb.DataStore.write",
                 "keeldb.records.RecordWriter.__init__", "keeldb.records.Bytes.isalnum",
                 "keeldb.records.MultiThreadedReader.new_with_random_shard_paths",
                 "keeldb.records.expand_dirs", "keeldb.key_hash"):
        assert name in labels, name


@pytest.mark.parametrize("label,obj,stub,slot", CASES, ids=[c[0] for c in CASES])
def test_signature_matches_stub(label: str, obj: Any, stub: List[Param], slot: bool) -> None:
    sig = inspect.signature(obj)  # raises ValueError when a text signature is missing
    got = _runtime_params(sig)
    if slot:
        # CPython's own slot wrappers (__len__, __getitem__, ...): their names are CPython's;
        # the count of parameters after self must agree.
        assert len(got) == len(stub), (label, str(sig), stub)
        return
    # self/cls: the stub always names it; the runtime shows it on unbound methods only
    if stub and stub[0][0] in ("self", "cls"):
        stub = stub[1:]
    if got and got[0][0] in ("self", "cls", "type"):
        got = got[1:]
    assert [(n, k) for n, k, _, _ in got] == [(n, k) for n, k, _, _ in stub], (label, str(sig))
    for (n, _, gd, gv), (_, _, sd, sv) in zip(got, stub):
        assert gd == sd, (label, n, "default present" if gd else "no default")
        if sd and sv is not NO_VALUE:
            assert gv == sv, (label, n, gv, sv)


def test_help_shows_parameters() -> None:
    text = inspect.signature(keeldb.DataStore.write)
    assert str(text) == "(self, /, key, data)"
    assert "alignment=64" in str(inspect.signature(keeldb.DataStore))
