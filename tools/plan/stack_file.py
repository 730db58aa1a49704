"""A stack file read as the Pulumi CLI reads it: YAML 1.2's core schema (yaml.v3, the CLI's YAML
library), so the plan gets the values the CLI would hand the program, and a clear error, saying
where, for what the CLI would pass changed or refuse. Finding the file is tools/plan/stack.py's.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Optional

import yaml

from components.config import PROJECT, SCHEMA, project_declarations


class StackConfigError(Exception):
    """The stack cannot run: what the CLI would say, and how to fix it."""


class StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader reading scalars as the Pulumi CLI's YAML library (yaml.v3, YAML 1.2's
    core schema) does, so that the plan gets the values the CLI would hand the program: `yes`,
    `no`, `on` and `off` (and `NO`, `Off`...) are text, not YAML 1.1's booleans, and `1e3` is the
    number 1000, not the text `1e3`. What would still surprise a reader is an error that says where
    it is: a key given twice (the last one would win without a word), integers that are not plain
    decimals (`022` is octal 18, `1:30` is base 60 = 90, `1_000` drops its `_`), floats that would
    not reach the program as written (`4.0` is 4, `.inf` cannot be passed at all) and dates
    (`2001-12-14` reaches the program as a timestamp)."""


_PLAIN_INT_RE = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_PLAIN_FLOAT_RE = re.compile(r"[-+]?((0|[1-9][0-9]*)(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?")
# Which plain scalars are not text: yaml.v3's rules (its booleans and nulls; integers with Go's
# prefixes, 0o17 included; floats with or without a dot), and YAML 1.1's base-60 integers and
# dates, which the constructors below refuse rather than read.
_TIMESTAMP_RE = next(regexp for tag, regexp in yaml.SafeLoader.yaml_implicit_resolvers["2"]
                     if tag.endswith(":timestamp"))
StrictLoader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
        ("bool", r"true|True|TRUE|false|False|FALSE", "tTfF"),
        ("null", r"~|null|Null|NULL|", ["~", "n", "N", ""]),
        ("int", r"[-+]?0[bB][0-1_]+|[-+]?0[oO][0-7_]+|[-+]?0[0-7_]+|[-+]?(0|[1-9][0-9_]*)|[-+]?0[xX][0-9a-fA-F_]+"
                r"|[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+", "-+0123456789"),
        ("float", r"[-+]?(\.[0-9_]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)",
         "-+.0123456789"),
        ("timestamp", _TIMESTAMP_RE.pattern, "0123456789"),
        ("merge", r"<<", "<")):
    _regexp = re.compile(f"^(?:{_pattern})$", re.X if _tag == "timestamp" else 0)  # (PyYAML's own is verbose)
    StrictLoader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", _regexp, list(_first))


def _strict_mapping(loader: StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *anchor`: a merge, whose keys a map may override
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, (list, dict)):
            break  # not hashable: the base constructor reports it
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {key!r} is given twice (first at line {seen[key] + 1}); keep one", key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


def _strict_int(loader: StrictLoader, node: yaml.ScalarNode) -> int:
    text = node.value
    if not _PLAIN_INT_RE.fullmatch(text):
        raise yaml.constructor.ConstructorError(
            None, None, f"{text!r} is not a plain decimal number (YAML 1.1 reads it as octal, hex, binary or base 60); "
            "write it without leading zeros, e.g. 22, or quote it if it is text", node.start_mark)
    if (passed := str(int(text))) != text:  # `+22`, `-0`
        raise yaml.constructor.ConstructorError(
            None, None, f"{text!r} is the number {passed} to YAML, and the Pulumi CLI passes it so; write {passed}, "
            "or quote it if it is text", node.start_mark)
    return int(text)


def _as_the_cli_passes(text: str) -> int | float:
    """A YAML float as the CLI passes it to the program, in JSON: a whole one without a fraction."""
    number = float(text)
    return int(number) if number.is_integer() and abs(number) < 1e21 else number


def _strict_float(loader: StrictLoader, node: yaml.ScalarNode) -> int | float:
    """A float that reaches the program as it is written. The CLI passes numbers as JSON, so `1e3`,
    `4.0` and `1.10` would reach it as 1000, 4 and 1.1 (a version `2025.10` as 2025.1): refused,
    with the number to write instead, or the advice to quote text."""
    text = node.value
    if not _PLAIN_FLOAT_RE.fullmatch(text):
        raise yaml.constructor.ConstructorError(
            None, None, f"{text!r} is not a plain decimal number (the Pulumi CLI cannot pass infinities or NaN, and "
            "reads `_` and leading zeros its own way); write it as e.g. 1.5, or quote it if it is text",
            node.start_mark)
    number = _as_the_cli_passes(text)
    if (passed := json.dumps(number)) != text:
        raise yaml.constructor.ConstructorError(
            None, None, f"{text!r} is the number {passed} to YAML, and the Pulumi CLI passes it so; write {passed}, "
            "or quote it if it is text", node.start_mark)
    return number


def _refused_timestamp(loader: StrictLoader, node: yaml.ScalarNode) -> None:
    raise yaml.constructor.ConstructorError(
        None, None, f"{node.value!r} is a date to YAML (the Pulumi CLI passes it as a timestamp such as "
        "'2001-12-14 00:00:00 +0000 UTC'); quote it if it is text", node.start_mark)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _strict_mapping)
StrictLoader.add_constructor("tag:yaml.org,2002:int", _strict_int)
StrictLoader.add_constructor("tag:yaml.org,2002:float", _strict_float)
StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _refused_timestamp)

_SCALAR_KINDS = {"tag:yaml.org,2002:int": "a number", "tag:yaml.org,2002:float": "a number",
                 "tag:yaml.org,2002:bool": "a boolean"}


def _cli_text(loader: StrictLoader, node: yaml.ScalarNode) -> Optional[str]:
    """The text the CLI passes for a number or boolean (None: a form the constructors refuse)."""
    if node.tag == "tag:yaml.org,2002:float":
        return json.dumps(_as_the_cli_passes(node.value)) if _PLAIN_FLOAT_RE.fullmatch(node.value) else None
    if node.tag == "tag:yaml.org,2002:int":
        return str(int(node.value)) if _PLAIN_INT_RE.fullmatch(node.value) else None
    return json.dumps(loader.construct_object(node))


def _declared_type_problems(loader: StrictLoader, document: yaml.Node) -> list[str]:
    """Where a value of the stack file is not of its key's declared type although the CLI would
    take it, changed: a number or boolean for a text setting (`region: 1e3` reaches the program
    as '1000', `release: 2025.10` as '2025.1'), in a list of text too, and a key without a value
    (the CLI passes '' for it, and says it will pass null)."""
    if not isinstance(document, yaml.MappingNode):
        return []  # read_stack_file says what the file should be
    config = next((value for key, value in document.value
                   if key.tag == "tag:yaml.org,2002:str" and key.value == "config"), None)
    if not isinstance(config, yaml.MappingNode):
        return []
    problems = []
    for key_node, value_node in config.value:
        if not isinstance(key_node, yaml.ScalarNode):
            continue
        namespace, _, name = key_node.value.rpartition(":")
        if namespace not in ("", PROJECT) or name not in SCHEMA:
            continue
        if value_node.tag == "tag:yaml.org,2002:null":
            at = value_node.start_mark
            problems.append(f"line {at.line + 1}, column {at.column + 1}: {name} has no value: the Pulumi CLI passes "
                            "an empty string for it (and says it will pass null); give it a value, or remove the key "
                            "for its default")
            continue
        declaration = project_declarations().get(name, {})
        if declaration.get("secret"):
            continue  # the CLI's own rule names it: a secret must be a `secure:` value
        texts = ([value_node] if declaration.get("type") == "string" else
                 value_node.value if declaration.get("items", {}).get("type") == "string"
                 and isinstance(value_node, yaml.SequenceNode) else [])
        for node in texts:
            if isinstance(node, yaml.ScalarNode) and node.tag in _SCALAR_KINDS:
                passed = _cli_text(loader, node)
                if passed is None:
                    continue  # a form the constructors refuse, saying why
                at = node.start_mark
                problems.append(f"line {at.line + 1}, column {at.column + 1}: {name}: `{node.value}` is "
                                f"{_SCALAR_KINDS[node.tag]} to YAML, which the Pulumi CLI would pass as the text "
                                f"'{passed}', but {name} takes text; quote it: '{node.value}'")
    return problems


def parse_stack_file(path: Path) -> dict[str, Any]:
    """The stack file at `path` as a map, or a StackConfigError saying what is wrong with it."""
    try:
        loader = StrictLoader(path.read_bytes().decode("utf-8"))  # a SafeLoader
        try:
            node = loader.get_single_node()
            if (problems := _declared_type_problems(loader, node)):
                raise StackConfigError("\n".join(f"{path}: {problem}" for problem in problems))
            document = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except UnicodeDecodeError as err:
        raise StackConfigError(f"{path}: is not UTF-8 text (byte {err.start}); save it as UTF-8") from None
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        raise StackConfigError(f"{path}: is not valid YAML{at}: {getattr(err, 'problem', None) or err}") from None
    document = {} if document is None else document
    if not isinstance(document, dict):
        raise StackConfigError(f"{path}: must be a map with a `config:` key, not a {type(document).__name__}")
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise StackConfigError(f"{path}: `config:` must be a map of keys to values, not a {type(config).__name__}")
    for key in config:
        if not isinstance(key, str):
            raise StackConfigError(f"{path}: config key {key!r} must be a string such as `{PROJECT}:dbHost`")
    malformed = [f"{path}: {key}: {problem}" for key, value in config.items()
                 for problem in [_secure_value_problem(key, value)] if problem]
    if malformed:
        raise StackConfigError("\n".join(malformed))
    return document


def _secure_value_problem(key: str, value: Any) -> Optional[str]:
    """What is wrong with a `secure:` map in the stack file (None: nothing, or not one). The CLI
    reserves a map with a `secure` key for one thing: the ciphertext `pulumi config set --secret`
    writes, a text, alone in its map. What is there instead is never shown: it may be the secret."""
    if not isinstance(value, dict) or "secure" not in value:
        return None
    fix = f"set it again with `pulumi config set --secret {key.removeprefix(PROJECT + ':')}` (the value on its stdin)"
    if len(value) > 1:
        return f"`secure:` shares its map with other keys ({', '.join(sorted(map(str, value)))}); {fix}"
    if isinstance(value["secure"], str):
        return None
    kind = {bool: "true/false", int: "a number", float: "a number", type(None): "empty (null)", list: "a list",
            dict: "a map"}.get(type(value["secure"]), type(value["secure"]).__name__)
    return f"`secure:` must be the encrypted text (v1:...) the CLI writes, not {kind}; {fix}"
