"""Dependencies point down (see DESIGN.md): a cheap check on every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import torchlock

PACKAGE = Path(torchlock.__file__).resolve().parent

# What each part may import from torchlock (besides itself). errors imports nothing.
BASE = {"errors", "target", "artifacts", "credentials", "hosts"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "credentials": set(),
    "hosts": set(),
    "target": {"errors"},
    "artifacts": {"errors"},
    "pipconfig": {"errors", "credentials"},
    "matrix": BASE,
    "index": BASE | {"matrix"},
    "resolver": BASE | {"matrix"},
    "lockfiles": BASE | {"matrix"},
    "system": BASE,
    "envs": BASE | {"matrix", "system"},
    "workflows": BASE | {"matrix", "index", "resolver", "lockfiles", "system", "envs", "pipconfig"},
    "cli": BASE
    | {"matrix", "index", "resolver", "lockfiles", "system", "envs", "workflows", "pipconfig"},
    "__main__": {"console"},
    "console": {"cli"},
    "__init__": set(),
}
HEAVY = {"http", "ssl", "rich", "resolvelib", "rattler", "tomlkit"}
# modules allowed one of them at module level (none: the HTTP stack is torchlock's own,
# on sockets; ssl is imported for the first https connection)
HEAVY_HOME: dict[str, set[str]] = {}


def _part(module_path: Path) -> str:
    rel = module_path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imports(tree: ast.AST) -> list[tuple[str, bool]]:
    """(imported module, at module level?) for each import in the tree."""
    found: list[tuple[str, bool]] = []
    top_level = set(map(id, getattr(tree, "body", [])))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, id(node) in top_level) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, id(node) in top_level))
    return found


def test_parts_import_only_what_is_below_them() -> None:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        part = _part(path)
        for name, _ in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if not name.startswith("torchlock."):
                continue
            target = name.split(".")[1]
            if target != part and target not in ALLOWED[part]:
                problems.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert problems == []


def test_heavy_libraries_are_never_imported_at_module_level() -> None:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for name, top in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            root = name.split(".")[0]
            allowed = HEAVY_HOME.get(path.relative_to(PACKAGE).as_posix(), set())
            if top and root in HEAVY and root not in allowed:
                problems.append(f"{path.relative_to(PACKAGE)} imports {name} at module level")
    assert problems == []
