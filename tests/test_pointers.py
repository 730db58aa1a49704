"""Every file or module the README, the product's docstrings and comments and the tests'
docstrings point a reader at exists: `components/scripts/files.py`, `components/releases/`, `components.ini.oslo_section`."""
from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# A project path ending in a file name or a folder's slash (not a pattern such as test_scripts_*.py).
PATH_RE = re.compile(r"(?<![\w/.])((?:components|tools|tests|benchmarks|stacks)/(?:[\w.-]+/)*(?:[\w-]+\.(?:py|sh|yaml))?)"
                     r"(?![\w*<])")
# A dotted name under the project's packages: a module, then at most a name it defines.
DOTTED_RE = re.compile(r"(?<![\w./])((?:components|tools)(?:\.[A-Za-z_]\w*)+)")


def _prose(source: str, comments: bool) -> str:
    """A module's docstrings (and comments): what it tells a reader, not its code."""
    tree = ast.parse(source)
    text = [ast.get_docstring(node) or "" for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
    if comments:
        text += [token.string for token in tokenize.generate_tokens(io.StringIO(source).readline)
                 if token.type == tokenize.COMMENT]
    return "\n".join(text)


def _texts() -> list[tuple[str, str]]:
    texts = [("README.md", (PROJECT_ROOT / "README.md").read_text())]
    for package in ("components", "tools", "benchmarks", "tests"):
        # the tests' comments may name what must not exist (a file that was removed)
        texts += [(str(path.relative_to(PROJECT_ROOT)), _prose(path.read_text(), comments=package != "tests"))
                  for path in (PROJECT_ROOT / package).rglob("*.py")]
    return texts


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for length in range(len(parts), 0, -1):
        base = PROJECT_ROOT.joinpath(*parts[:length])
        source = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
        if source.is_file():
            rest = parts[length:]
            return not rest or (len(rest) == 1 and re.search(rf"\b{re.escape(rest[0])}\b", source.read_text()) is not None)
    return False


def test_every_path_and_module_named_exists():
    dangling = []
    for where, text in _texts():
        dangling += [f"{where}: {path}" for path in PATH_RE.findall(text) if not (PROJECT_ROOT / path).exists()]
        dangling += [f"{where}: {name}" for name in DOTTED_RE.findall(text) if not _resolves(name.rstrip("."))]
    assert dangling == []
