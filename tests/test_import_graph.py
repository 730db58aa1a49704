"""The import graph of components/ and tools/, read from the source (`ast`, imports inside
functions included): the settings layer imports nothing above it, and no module imports itself
back through others."""
from __future__ import annotations

import ast
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("components", "tools")

# What components/config may import outside itself: the layers below the settings (shared rules,
# release data, the INI syntax, the virt types, SSH keys). A renderer or a component is above it.
BELOW_CONFIG = ("components.validate", "components.ssh_keys", "components.releases", "components.ini",
                "components.virt_types")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (a `from package import name` counts as the
    submodule `name` when there is one, else as the package)."""
    files = {_module_name(path): path for package in PACKAGES for path in (PROJECT_ROOT / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets |= {f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in files else node.module
                            for alias in node.names}
        graph[module] = {target for target in targets if target in files and target != module}
    return graph


def _within(module: str, prefixes) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def test_the_settings_layer_imports_nothing_above_it():
    graph = import_graph()
    above = sorted(f"{module} imports {target}" for module, targets in graph.items()
                   if _within(module, ["components.config"]) for target in targets
                   if not _within(target, ["components.config", *BELOW_CONFIG]))
    assert above == []


def test_the_layers_below_the_settings_do_not_import_them():
    graph = import_graph()
    assert sorted(f"{module} imports {target}" for module, targets in graph.items()
                  if _within(module, BELOW_CONFIG) for target in targets
                  if not _within(target, BELOW_CONFIG)) == []


def test_no_module_imports_itself_back():
    graph = import_graph()
    cycles, done = [], set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycles.append(" -> ".join(path[path.index(module):] + [module]))
            return
        if module in done:
            return
        for target in sorted(graph[module]):
            visit(target, path + [module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    assert cycles == []


def _defined_names(module: str) -> set[str]:
    path = PROJECT_ROOT / (module.replace(".", "/") + ".py")
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
    return {name for name in names if not name.startswith("_")}


def test_the_templates_vocabulary_is_imported_from_where_it_lives():
    """The roles, the secrets by name, the context and the masks are imported from
    components.template_context, never through a module that imports them in turn."""
    vocabulary = _defined_names("components.template_context")
    elsewhere = []
    for path in [*(PROJECT_ROOT / "components").rglob("*.py"), *(PROJECT_ROOT / "tools").rglob("*.py"),
                 *(PROJECT_ROOT / "tests").rglob("*.py"), *(PROJECT_ROOT / "benchmarks").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("components"):
                elsewhere += [f"{path.relative_to(PROJECT_ROOT)}: {alias.name} from {node.module}"
                              for alias in node.names
                              if alias.name in vocabulary and node.module != "components.template_context"]
    assert elsewhere == []


def test_no_two_product_modules_define_one_public_name():
    """A function or class name says which one it is: `render_openrc(settings)` is the admin
    openrc, `scripts.render_exports(variables)` the shell exports it is written as."""
    where: dict[str, list[str]] = {}
    for path in sorted((PROJECT_ROOT / "components").rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                where.setdefault(node.name, []).append(_module_name(path))
    assert {name: found for name, found in where.items() if len(found) > 1} == {}
