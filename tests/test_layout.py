"""The layout's mechanical checks (issue 18), read from the source with `ast`:

- no import cycle among thcodec modules, counting imports inside functions (import-linter's
  contracts in pyproject.toml state the layers; this sees what a deferred import hides);
- no function longer than 80 lines and no class longer than 200 outside thcodec/bench.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "thcodec"
MAX_FUNCTION_LINES = 80
MAX_CLASS_LINES = 200


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def imported(tree: ast.AST, name: str, is_package: bool, known: set[str]) -> set[str]:
    """thcodec modules imported anywhere in tree (module level or inside functions)."""
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            # "from thcodec.format import container": the submodule when there is one.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:  # "thcodec.x.y" where y is a name in thcodec.x
                t = t.rpartition(".")[0]
            if t and t != name and t != "thcodec":
                found.add(t)
    return found


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imported(ast.parse(path.read_text()), name, path.name == "__init__.py", known) for name, path in mods.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:  # the graph is a few dozen modules: recursion is fine
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_sees_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_imports_inside_functions_count():
    tree = ast.parse("def f():\n    from thcodec.models import weights\n")
    assert imported(tree, "thcodec.cli", False, {"thcodec.models", "thcodec.models.weights"}) == {"thcodec.models.weights"}


def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_runtime_never_imports_train_or_bench():
    """thcodec.cli, the front door, may: `thc bench` is a thin command over thcodec.bench.run."""
    bad = {
        f"{m} -> {t}"
        for m, targets in import_graph().items()
        if not m.startswith(("thcodec.train", "thcodec.bench", "thcodec.cli"))
        for t in targets
        if t.startswith(("thcodec.train", "thcodec.bench"))
    }
    assert not bad


def oversized() -> list[str]:
    found = []
    for name, path in modules().items():
        if name.startswith("thcodec.bench"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                limit = MAX_FUNCTION_LINES
            elif isinstance(node, ast.ClassDef):
                limit = MAX_CLASS_LINES
            else:
                continue
            lines = node.end_lineno - node.lineno + 1
            if lines > limit:
                found.append(f"{path.relative_to(ROOT.parent)}:{node.lineno} {node.name}: {lines} lines (limit {limit})")
    return found


def test_functions_and_classes_are_short():
    assert oversized() == []
