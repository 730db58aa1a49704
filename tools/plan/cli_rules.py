"""The Pulumi CLI's rules: what a stack may be named, and what `pulumi preview` refuses a stack's
config for before the program starts (tools/plan/stack.py applies them; the rules' sources are in
its docstring)."""
from __future__ import annotations

import argparse
import re
from typing import Any, Mapping, Optional

from components.config import PROJECT, project_declarations

# The Pulumi CLI's rule for a stack name (`tokens.ParseStackName`: 1 to 100 of these characters),
# and one of ours: here the name is also a path component (stacks/Pulumi.<stack>.yaml,
# out/<stack>/), so a name may not contain `..` nor be `.`, which would reach out of those folders.
STACK_NAME_CHARS = re.compile(r"[A-Za-z0-9_.-]")
STACK_NAME_MAX = 100


def stack_name_problem(stack: str) -> Optional[str]:
    """What is wrong with `stack` as a stack name (None: nothing), in words that say the rule."""
    rule = (f"a stack name is 1 to {STACK_NAME_MAX} letters, digits, '-', '_' and '.' (the Pulumi CLI's rule), "
            "without '..', as in stacks/Pulumi.<stack>.yaml")
    if not stack:
        return f"the stack name is empty; {rule}"
    if len(stack) > STACK_NAME_MAX:
        return f"the stack name is {len(stack)} characters long; {rule}"
    bad = next((i for i, char in enumerate(stack) if not STACK_NAME_CHARS.fullmatch(char)), None)
    if bad is not None:
        return f"stack name {stack!r} has {stack[bad]!r} at position {bad}; {rule}"
    if ".." in stack or stack == ".":
        return f"stack name {stack!r}: as a path, '..' and '.' name folders other than out/<stack>/; {rule}"
    return None


def stack_argument(text: str) -> str:
    """argparse's `type` for a stack name: a bad one is a usage error (exit 2) saying the rule."""
    problem = stack_name_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def _type_ok(kind: str, items: Optional[Mapping[str, Any]], value: Any) -> bool:
    """`ValidateConfigValue` of the CLI: primitives in a stack file are strings by then."""
    if kind == "string":
        return isinstance(value, str) or isinstance(value, (int, float, bool))
    if kind == "integer":
        if isinstance(value, bool):
            return False
        if isinstance(value, int):
            return True
        # A stack file's scalars reach the CLI as their text: "22.9" and "22.0" fail strconv.Atoi.
        text = value.removeprefix("-").removeprefix("+") if isinstance(value, str) else ""
        return text.isascii() and text.isdigit()
    if kind == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    if kind == "array":
        return isinstance(value, list) and items is not None and all(
            _type_ok(items.get("type"), items.get("items"), item) for item in value)
    return False


def _type_name(declaration: Mapping[str, Any]) -> str:
    items = declaration.get("items")
    if items is not None:
        return f"array<{_type_name(items)}>"
    return declaration.get("type")


def _join_keys(keys: list[str]) -> str:
    keys = sorted(keys)
    if len(keys) == 1:
        return f"'{keys[0]}'"
    return ", ".join(f"'{k}'" for k in keys[:-1]) + f" and '{keys[-1]}'"


def cli_rule_errors(stack: str, config: Mapping[str, Any]) -> list[str]:
    """What `pulumi preview` would refuse the stack for (empty when it would run). `config`
    maps stack-file keys to their values (`{"secure": ...}` for encrypted ones)."""
    missing = []
    for key, declaration in sorted(project_declarations().items()):
        full = f"{PROJECT}:{key}"
        if full not in config and key not in config:
            if "default" not in declaration:
                missing.append(key)
            continue
        value = config.get(full, config.get(key))
        secure = isinstance(value, dict) and set(value) == {"secure"}
        if declaration.get("secret") and not secure:
            return [f"Stack '{stack}' with configuration key '{key}' must be encrypted as it's secret"]
        if not secure and not _type_ok(declaration["type"], declaration.get("items"), value):
            return [f"Stack '{stack}' with configuration key '{key}' must be of type '{_type_name(declaration)}'"]
    if missing:
        how = [f"    pulumi config set{' --secret' if project_declarations()[k].get('secret') else ''} {k} <value>"
               for k in sorted(missing)]
        return [f"Stack '{stack}' is missing configuration value{'s' if len(missing) > 1 else ''} {_join_keys(missing)}",
                f"  set {'each' if len(missing) > 1 else 'it'} with:", *how]
    return []
