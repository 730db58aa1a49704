"""README's examples are real output: each fenced block whose first line is `$ COMMAND` is run,
command by command, in a copy of the project (its own out/), and the lines the block shows after a
command must be what the command prints on stdout, in order; a `...` line stands for any lines.
So an example cannot drift from what the command prints."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tools.plan import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
COPIED = ("Pulumi.yaml", "__main__.py", "dev", "requirements.txt", "components", "stacks", "tools")
ELIDED = "..."


def examples(text: str) -> list[tuple[int, list[str]]]:
    """(line number, lines) of each fenced block that starts with `$ `."""
    found, block, start = [], None, 0
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            if block is not None and block and block[0].startswith("$ "):
                found.append((start, block))
            block, start = ([], number + 1) if block is None else (None, 0)
        elif block is not None:
            block.append(line)
    return found


def runs(block: list[str]) -> list[tuple[str, list[str]]]:
    """Each command of a block and the lines shown after it."""
    out: list[tuple[str, list[str]]] = []
    for line in block:
        if line.startswith("$ "):
            out.append((line[2:], []))
        else:
            out[-1][1].append(line)
    return out


def matches(shown: list[str], printed: list[str]) -> bool:
    """`shown` is `printed` with `...` lines standing for any number of lines."""
    pattern = "".join(r"(?:[^\n]*\n)*?" if line == ELIDED else re.escape(line) + r"\n" for line in shown)
    return re.fullmatch(pattern + (r"(?:[^\n]*\n)*" if shown and shown[-1] == ELIDED else ""),
                        "".join(p + "\n" for p in printed)) is not None


def test_the_matcher_takes_elisions_and_nothing_else():
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"]) and matches(["a", "..."], ["a", "b"])
    assert matches(["...", "c"], ["a", "b", "c"]) and matches(["..."], [])
    assert not matches(["a", "d"], ["a", "b", "d"]) and not matches(["a", "...", "d"], ["a", "b", "d", "e"])
    assert not matches(["a.c"], ["abc"])  # shown lines are text, not patterns


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory) -> Path:
    """The program and its tools copied (their out/ is the copy's), the venv shared."""
    root = tmp_path_factory.mktemp("readme")
    for name in COPIED:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, root / name)
    (root / "venv").symlink_to(PROJECT_ROOT / "venv")
    return root


BLOCKS = examples(README.read_text())


def test_readme_has_examples_to_check():
    assert len(BLOCKS) >= 2 and all(runs(block) for _, block in BLOCKS)


@pytest.mark.parametrize("line, block", BLOCKS, ids=[f"README.md:{line}" for line, _ in BLOCKS])
def test_readme_example_is_what_the_commands_print(project_copy, line, block):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_CONFIG_PASSPHRASE")}
    for command, shown in runs(block):
        done = subprocess.run(["bash", "-c", command], cwd=project_copy, env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, f"README.md:{line}: `{command}` exited {done.returncode}: {done.stderr}"
        # graph.svg is written where Graphviz is installed: the examples show a machine without it
        printed = [re.sub(r", [^ ,]*/graph\.svg", "", p) for p in done.stdout.splitlines()]
        assert matches(shown, printed), (f"README.md:{line}: `{command}` printed\n" + "\n".join(printed) +
                                         "\n\nwhere README shows\n" + "\n".join(shown))
