"""What every product module (components/, tools/, __main__.py) keeps to: nothing imported only for
the tests to reach (tests import from where code lives), and a size a reader takes in at once."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

PRODUCT_MODULES = sorted([PROJECT_ROOT / "__main__.py", *(PROJECT_ROOT / "components").rglob("*.py"),
                          *(PROJECT_ROOT / "tools").rglob("*.py")])
MAX_LINES = 300
# Over the limit still, to be split along its own concerns (none now).
OVER_THE_LIMIT: set[str] = set()


def relative(path: Path) -> str:
    return path.relative_to(PROJECT_ROOT).as_posix()


def unused_imports(source: str) -> list[str]:
    """Names a module imports at its top level but neither uses nor lists in `__all__`."""
    tree = ast.parse(source)
    imported: dict[str, int] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            imported.update({(alias.asname or alias.name): node.lineno for alias in node.names if alias.name != "*"})
        elif isinstance(node, ast.Import):  # `import a.b` binds `a`
            imported.update({(alias.asname or alias.name.split(".")[0]): node.lineno for alias in node.names})
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    exported: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            exported = set(ast.literal_eval(node.value))
    return [f"line {line}: {name}" for name, line in imported.items() if name not in used | exported]


def test_the_check_finds_an_import_kept_for_the_tests():
    assert unused_imports("from x import a, b as c  # the tests take it from here\nimport os.path\n"
                          "__all__ = ['b']\nprint(a)\n") == ["line 1: c", "line 2: os"]


@pytest.mark.parametrize("path", PRODUCT_MODULES, ids=relative)
def test_a_product_module_imports_only_what_it_uses_or_exports(path):
    assert unused_imports(path.read_text(encoding="utf-8")) == [], (
        f"{relative(path)} imports names it neither uses nor exports in __all__: tests import them from "
        "the module that defines them")


@pytest.mark.parametrize("path", [p for p in PRODUCT_MODULES if relative(p) not in OVER_THE_LIMIT], ids=relative)
def test_a_product_module_is_at_most_300_lines(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{relative(path)} has {lines} lines: split it along its concerns"
