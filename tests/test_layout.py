"""The package's shape (issue 14): no import circles, no private names across modules, no
module over 600 lines, imports at the top unless a comment says why."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("dispatch", "dashboard")
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def _imports(path: Path, name: str, top_only: bool) -> list[tuple[str, list[str], int]]:
    """(module imported, names taken from it, line) of a module's imports; ``top_only``: only
    those that run when the module is imported (not inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    in_functions = {id(x) for f in functions for x in ast.walk(f)}
    nodes = [n for n in ast.walk(tree) if (id(n) not in in_functions) == top_only] if top_only else list(ast.walk(tree))
    is_pkg = path.name == "__init__.py"
    out = []
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = name.split(".") if is_pkg else name.split(".")[:-1]
                pkg = pkg[: len(pkg) - node.level + 1]
                base = ".".join(pkg + ([base] if base else []))
            out.append((base, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names]
    return out


def _resolve(target: str, names: list[str], modules: dict[str, Path]) -> list[str]:
    """The project modules an import loads: the module itself and any submodule it names."""
    found = [target] if target in modules else []
    found += [f"{target}.{n}" for n in names if f"{target}.{n}" in modules]
    return found


def test_no_import_circle_among_the_project_modules():
    """No chain of module-level imports leads from a module back to itself."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps = set()
        for target, names, _ in _imports(path, name, top_only=True):
            deps.update(d for d in _resolve(target, names, modules) if d != name)
        graph[name] = deps
    # A package's __init__ importing its own submodules is how a package exposes its API, not a
    # circle: a submodule importing a sibling loads the package first, then the sibling.
    for name in graph:
        graph[name] = {d for d in graph[name] if not (name in modules and d.startswith(name + ".")
                                                       and modules[name].name == "__init__.py")}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for d in sorted(graph.get(n, ())):
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
    assert not cycles, "import circles: " + "; ".join(" -> ".join(c) for c in cycles[:5])


def test_no_private_name_is_imported_from_another_module():
    """A name starting with an underscore is used only in its own module."""
    modules = _modules()
    bad = []
    for name, path in modules.items():
        for target, names, line in _imports(path, name, top_only=False):
            if not target.startswith(PACKAGES):
                continue
            bad += [f"{path.relative_to(ROOT)}:{line} imports {target}.{n}" for n in names
                    if n.startswith("_") and not n.startswith("__")]
    assert not bad, "\n".join(bad)


def test_no_module_is_over_600_lines():
    """Every module of the package and the dashboard stays readable (at most 600 lines)."""
    long = [f"{p.relative_to(ROOT)}: {n} lines" for p in _modules().values()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES]
    assert not long, "\n".join(long)


def test_late_imports_of_project_modules_say_why():
    """An import of a project module inside a function has a comment on its line or the line
    above saying why it cannot be at the top."""
    bad = []
    for name, path in _modules().items():
        lines = path.read_text(encoding="utf-8").splitlines()
        top = {line for _, _, line in _imports(path, name, top_only=True)}
        for target, _, line in _imports(path, name, top_only=False):
            if line in top or not target.startswith(PACKAGES):
                continue
            text = lines[line - 1] + (lines[line - 2] if line >= 2 else "")
            if "#" not in text:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {target} inside a function without saying why")
    assert not bad, "\n".join(bad[:40]) + (f"\n... {len(bad)} in all" if len(bad) > 40 else "")
