"""The package's shape (docs/architecture.md): imports inside bntune form no cycle (module
level, function level or type-only), and only the storage package writes SQL."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import bntune

PACKAGE = Path(bntune.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.Module, name: str, is_package: bool) -> set[str]:
    """Modules of bntune this module imports: at module level, inside functions, and under
    ``TYPE_CHECKING`` too (a type-only import back is still a layer pointing up)."""
    found = set()
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in found if m == "bntune" or m.startswith("bntune.")}


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        imports = _imports(tree, name, path.name == "__init__.py")
        # "from bntune.tune import study" names a module; "from bntune.tune.x import f" names x
        graph[name] = {m for m in imports if m in files and m != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _without_packages(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    # a package's __init__ re-exports its modules; importing one of them runs the __init__
    # first, which is not an edge back from the module
    return {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}


def test_no_import_cycle_inside_bntune():
    cycles = _cycles(_without_packages(_graph()))
    assert cycles == [], f"import cycles: {cycles}"


def test_the_cycle_check_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# SQL keywords are upper case in this code base: prose ("select the best ... from") is not SQL
_SQL = re.compile(
    r"\b(SELECT\s+\S.*\bFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|"
    r"DELETE\s+FROM|CREATE\s+TABLE|PRAGMA\s+\w+)\b"
)


def test_only_the_storage_package_writes_sql():
    storage = PACKAGE / "tune" / "storage"
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if storage in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and _SQL.search(text):
                offenders.append(f"{path.relative_to(PACKAGE)}: {node.value[:60]!r}")
        if re.search(r"^\s*import sqlite3|^\s*from sqlite3", path.read_text(), re.M):
            offenders.append(f"{path.relative_to(PACKAGE)}: imports sqlite3")
    assert offenders == []


def test_the_sql_check_recognises_sql():
    assert _SQL.search("SELECT id FROM trials WHERE x = ?")
    assert _SQL.search("INSERT OR REPLACE INTO curves (a) VALUES (?)")
    assert not _SQL.search("select the best trials from the study")  # prose: no table after
