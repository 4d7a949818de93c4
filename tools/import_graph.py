"""The import graph of ``memgym/``: every ``import`` / ``from ... import`` of a memgym module,
at module level or inside functions, and the circles (strongly connected components) in it.

    python tools/import_graph.py            # circles and the package-level arrows
    python tools/import_graph.py --modules  # every module-level edge

Reads source with :mod:`ast` (nothing is imported), so it sees imports hidden in functions.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """memgym modules ``path`` imports (a ``from pkg import name`` counts ``pkg.name`` when
    that is a module, else ``pkg``)."""
    tree = ast.parse(path.read_text(), str(path))
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                     for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != me:
                out.add(name)
    return out


def graph() -> dict[str, set[str]]:
    files = sorted((ROOT / "memgym").rglob("*.py"))
    known = {module_name(p) for p in files}
    return {module_name(p): imports_of(p, known) for p in files}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    sys.setrecursionlimit(10000)

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
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
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 else module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modules", action="store_true", help="print every module edge")
    args = parser.parse_args()
    edges = graph()
    # the package __init__ re-exports: edges *into* a package's own submodules are not circles
    found = [c for c in circles(edges)]
    print(f"{len(edges)} modules, {sum(map(len, edges.values()))} import edges")
    print(f"{len(found)} circle(s):")
    for comp in found:
        print("  " + " <-> ".join(comp))
    pkg: dict[str, set[str]] = defaultdict(set)
    for a, targets in edges.items():
        for b in targets:
            if package_of(a) != package_of(b):
                pkg[package_of(a)].add(package_of(b))
    print("package arrows:")
    for a in sorted(pkg):
        print(f"  {a} -> {', '.join(sorted(pkg[a]))}")
    if args.modules:
        for a in sorted(edges):
            for b in sorted(edges[a]):
                print(f"{a} -> {b}")


if __name__ == "__main__":
    main()
