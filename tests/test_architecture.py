"""The house rules of docs/ARCHITECTURE.md, checked on the source: which package may import
which, Streamlit only in the app, no import cycle, no module over 500 lines, nothing loose at the
package's top level."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "rnnviz"
MAX_LINES = 500
# package -> the packages of rnnviz it may import (besides itself)
ALLOWED = {
    "core": set(),
    "studies": {"core"},
    "charts": {"core", "studies"},
    "serve": {"core", "studies"},
    # measuring scripts: they train and time what the engine and the studies do
    "measure": {"core", "studies"},
    "app": {"core", "studies", "charts", "serve", "cli"},
    "cli": {"core", "studies", "charts", "serve", "app", "measure"},
    # the public register_series puts a data set into the server's registry (serve.uploads)
    "__init__": {"core", "serve"},
    "__main__": {"cli"},
}
TOP_LEVEL = {"__init__.py", "__main__.py", "cli.py"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, at module level or inside a function (absolute names;
    ``from rnnviz import charts`` counts as importing ``rnnviz.charts``)."""
    known = modules()
    found = set()
    package = module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names
                      if f"{base}.{alias.name}" in known}
    return found


def room(module: str) -> str:
    """``rnnviz.core.train`` -> ``core``; ``rnnviz.cli`` -> ``cli``; ``rnnviz`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def internal_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: {m for m in imports_of(path) if m in known and m != name}
            for name, path in known.items()}


def test_packages_import_only_what_the_map_allows():
    wrong = []
    for name, targets in internal_graph().items():
        for target in targets:
            here, there = room(name), room(target)
            if there != here and there not in ALLOWED[here] and target != "rnnviz":
                wrong.append(f"{name} -> {target}")
    assert not wrong, wrong


def test_only_the_app_imports_streamlit():
    users = [name for name, path in modules().items()
             if any(m == "streamlit" or m.startswith("streamlit.") for m in imports_of(path))]
    assert users and all(name.startswith("rnnviz.app") for name in users), users


def test_no_import_cycle():
    graph = internal_graph()
    # a package's __init__ that re-exports its own submodules is not a cycle: drop parent edges
    graph = {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in graph.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, cycles


def test_no_module_over_500_lines():
    long = {name: n for name, path in modules().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, long


def test_nothing_loose_at_the_top_level():
    loose = [p.name for p in PACKAGE.glob("*.py")
             if p.name not in TOP_LEVEL and not p.name.startswith("_")]
    assert not loose, loose
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith("_")} \
        >= {"core", "studies", "charts", "serve", "app"}
