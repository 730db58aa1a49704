"""A stack's configuration as the Pulumi CLI hands it to the program, under the CLI's own rules.

The rules, from pulumi/pulumi `sdk/go/common/workspace/config.go` (`mergeConfig`) and the
passphrase secrets provider (`sdk/go/common/resource/config/crypt.go`), pinned CLI 3.272:
- every key declared in Pulumi.yaml's `config:` block without a `default` must be set on the
  stack: "Stack 'dev' is missing configuration values 'a' and 'b'" (sorted, all at once);
- a key declared `secret: true` must be a `secure:` value: "Stack 'dev' with configuration key
  'k' must be encrypted as it's secret"; a declared `type` must match: "... must be of type
  'integer'" (the first such error stops the CLI, before the missing keys are reported);
- `secure:` values are AES-256-GCM under a key derived (PBKDF2-SHA256, 1,000,000 rounds) from
  PULUMI_CONFIG_PASSPHRASE (or the file PULUMI_CONFIG_PASSPHRASE_FILE names) and the stack
  file's `encryptionsalt`, whose own ciphertext of "pulumi" proves the passphrase right.

`--placeholder-secrets` is this tool's one departure, and it is announced: it plans a stack
whose secrets are not at hand (not set, or held by another secrets provider) with a placeholder
for each secret, sent as a Pulumi secret. Missing non-secret keys still fail.
"""
from __future__ import annotations

import argparse
import base64
import errno
import functools
import hashlib
import json
import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import yaml

from components.config import PROJECT, SCHEMA, project_declarations
from tools.plan.cli_rules import cli_rule_errors
from tools.plan.paths import PROJECT_ROOT

STACKS_DIR = PROJECT_ROOT / "stacks"
PBKDF2_ROUNDS = 1_000_000
PLACEHOLDER = "offline-plan-placeholder-{key}"
# Secrets a stack may leave unset (the program then does without them): no placeholder for these.
UNSET_IS_MEANINGFUL = {"sshPrivateKey", "novaConfSecret"}


def placeholder(key: str) -> str:
    """A secret's placeholder. novaSshPrivateKey is read as a key (its public half is derived),
    so its placeholder is one: a fixed ed25519 key derived from the placeholder text, as public
    as the text itself."""
    text = PLACEHOLDER.format(key=key)
    if key != "novaSshPrivateKey":
        return text
    return _openssh_ed25519(hashlib.sha256(text.encode()).digest())


def _openssh_ed25519(seed: bytes) -> str:
    """The ed25519 key of `seed` in OpenSSH's own format (PROTOCOL.key, unencrypted), the one an
    ed25519 key is accepted in (OpenSSH 9.2 reads no other), with its check integers derived
    from the key where cryptography draws them at random: the same text at every plan."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    raw = serialization.Encoding.Raw
    key = Ed25519PrivateKey.from_private_bytes(seed)
    public_raw = key.public_key().public_bytes(raw, serialization.PublicFormat.Raw)

    def string(data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + data

    public = string(b"ssh-ed25519") + string(public_raw)
    check = hashlib.sha256(public_raw).digest()[:4]  # any value, twice: a passphrase check when encrypted
    private = check + check + public + string(seed + public_raw) + string(b"")  # no comment
    private += bytes(range(1, 1 + (-len(private)) % 8))  # padded to the cipher "none"'s block of 8
    blob = (b"openssh-key-v1\0" + string(b"none") + string(b"none") + string(b"") + struct.pack(">I", 1)
            + string(public) + string(private))
    body = base64.b64encode(blob).decode()
    lines = [body[i:i + 70] for i in range(0, len(body), 70)]
    return "\n".join(["-----BEGIN OPENSSH PRIVATE KEY-----", *lines, "-----END OPENSSH PRIVATE KEY-----", ""])


class StackConfigError(Exception):
    """The stack cannot run: what the CLI would say, and how to fix it."""


@dataclass
class StackConfig:
    values: dict[str, str]  # `openstack-nova:key` -> string or JSON, as the program receives it
    secret_keys: set[str]  # full keys whose values are secrets
    placeholders: list[str] = field(default_factory=list)  # keys planned with a placeholder
    # The passphrase secrets provider's key when the stack's `secure:` values were decrypted
    # (None: no passphrase was needed); the plan's state keys its secret digests with it.
    secrets_key: Optional[bytes] = field(default=None, repr=False)

    def __iter__(self):  # `config, secret_keys = stack_config(...)`
        return iter((self.values, self.secret_keys))


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


def stack_path(stack: str) -> Path:
    problem = stack_name_problem(stack)
    if problem:
        raise StackConfigError(problem)
    return STACKS_DIR / f"Pulumi.{stack}.yaml"


def known_stacks() -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in STACKS_DIR.glob("Pulumi.*.yaml"))


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


def read_stack_file(stack: str, path: Optional[Path] = None) -> dict[str, Any]:
    """The stack file as a map, or a StackConfigError saying what is wrong with it."""
    path = path or stack_path(stack)
    if not path.exists():
        raise StackConfigError(f"no stack {stack!r}: {path} does not exist (stacks: {', '.join(known_stacks())})")
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


# ---------------------------------------------------------------------------------------------
# The passphrase secrets provider
# ---------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def derive_key(passphrase: str, salt: bytes) -> bytes:
    """The passphrase secrets provider's key: PBKDF2-SHA256 of the passphrase and the stack file's
    `encryptionsalt` (cached: a million rounds take a while). The passphrase's bytes are the CLI's
    (Go strings are bytes): bytes that are not UTF-8 come as surrogate escapes (passphrase_from,
    os.environ) and go back to the same bytes here."""
    return hashlib.pbkdf2_hmac("sha256", passphrase.encode("utf-8", "surrogateescape"), salt, PBKDF2_ROUNDS, 32)


# What Go's strings.TrimSpace takes off both ends (unicode.IsSpace): the CLI trims a passphrase
# file's content with it.
GO_WHITE_SPACE = ("\t\n\v\f\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
                  + "\u2028\u2029\u202f\u205f\u3000")


def passphrase_from(env: Mapping[str, str]) -> Optional[str]:
    """The passphrase as the CLI reads it (pkg/secrets/passphrase, `readPassphrase`):
    PULUMI_CONFIG_PASSPHRASE when it is set (even empty), else the content of the file a non-empty
    PULUMI_CONFIG_PASSPHRASE_FILE names, white space trimmed, byte for byte (what is not UTF-8 is
    kept as surrogate escapes, as os.environ keeps it). None when neither is set. A file that
    cannot be read is a StackConfigError naming the variable and the file, never its content."""
    if "PULUMI_CONFIG_PASSPHRASE" in env:
        return env["PULUMI_CONFIG_PASSPHRASE"]
    name = env.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    if not name:
        return None
    try:
        content = Path(name).read_bytes()
    except OSError as err:
        why = {errno.ENOENT: "does not exist", errno.EISDIR: "is a folder, not a file"}.get(
            err.errno, f"cannot be read ({err.strerror})")
        raise StackConfigError(f"PULUMI_CONFIG_PASSPHRASE_FILE: {name} {why}; point it at the file that holds the "
                               "stacks' passphrase, or set PULUMI_CONFIG_PASSPHRASE") from None
    return content.decode("utf-8", "surrogateescape").strip(GO_WHITE_SPACE)


def decrypt_value(key: bytes, ciphertext: str) -> str:
    """A `secure:` value (`v1:<nonce>:<AES-256-GCM ciphertext>`, base64) decrypted; ValueError when
    it is not one or the key is not its key."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # only when a secret is read

    parts = ciphertext.split(":") if isinstance(ciphertext, str) else []
    if len(parts) != 3 or parts[0] != "v1":
        raise ValueError("bad value")
    try:
        return AESGCM(key).decrypt(base64.b64decode(parts[1]), base64.b64decode(parts[2]), None).decode()
    except (InvalidTag, ValueError):
        raise ValueError("bad value") from None


def passphrase_key(stack: str, document: Mapping[str, Any], passphrase: Optional[str]) -> bytes:
    if document.get("secretsprovider") not in (None, "passphrase"):
        raise StackConfigError(
            f"stack {stack!r} keeps its secrets with {document['secretsprovider']!r}, which needs the Pulumi CLI; "
            "plan it with --placeholder-secrets")
    salt_text = document.get("encryptionsalt")
    if not isinstance(salt_text, str) or not salt_text.startswith("v1:") or salt_text.count(":") != 4:
        raise StackConfigError(f"stack {stack!r} has secure values but no valid `encryptionsalt`")
    if passphrase is None:
        passphrase = passphrase_from(os.environ)
    if passphrase is None:
        raise StackConfigError(
            f"stack {stack!r} has secure values: set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE "
            "to its passphrase (or plan with --placeholder-secrets)")
    _, salt_b64, check = salt_text.split(":", 2)
    key = derive_key(passphrase, base64.b64decode(salt_b64))
    try:
        if decrypt_value(key, check) != "pulumi":
            raise ValueError
    except ValueError:
        raise StackConfigError(f"stack {stack!r}: incorrect passphrase") from None
    return key


@dataclass
class StackValues:
    """A stack's config as given, before the CLI's rules and decryption: full key -> the stack
    file's value, a secret as `{"secure": ciphertext}` or, given in the clear (`secrets`,
    overrides of secrets, placeholders), `{"secure": value, "plain": True}`."""
    stack: str
    document: dict[str, Any]  # the stack file (its `encryptionsalt` decrypts the secure values)
    raw: dict[str, Any]
    placeholders: list[str] = field(default_factory=list)  # keys given a placeholder

    def as_the_cli_sees(self) -> dict[str, Any]:
        """What cli_rule_errors checks: secure values as `{"secure": ...}`, never decrypted."""
        return {k: ({"secure": ""} if isinstance(v, dict) and "secure" in v else v) for k, v in self.raw.items()}


def stack_config(stack: str, secrets: Optional[Mapping[str, str]] = None,
                 overrides: Optional[Mapping[str, Any]] = None, *, placeholder_secrets: bool = False,
                 passphrase: Optional[str] = None, path: Optional[Path] = None) -> StackConfig:
    """The config the CLI would hand the program for `stack`: Pulumi.yaml's defaults under the
    stack file's values, `secure:` values decrypted. `secrets` are set as secrets, as
    `pulumi config set --secret` would; `overrides` (None removes a key) plan a what-if. A stack
    the CLI would refuse (tools/plan/cli_rules.py) raises StackConfigError with its messages."""
    values = stack_values(stack, secrets, overrides, placeholder_secrets=placeholder_secrets, path=path)
    errors = cli_rule_errors(stack, values.as_the_cli_sees())
    if errors:
        raise StackConfigError("\n".join(errors))
    return program_config(values, passphrase)


def stack_values(stack: str, secrets: Optional[Mapping[str, str]] = None,
                 overrides: Optional[Mapping[str, Any]] = None, *, placeholder_secrets: bool = False,
                 path: Optional[Path] = None) -> StackValues:
    """The stack file's config with `secrets`, `overrides` and (with `placeholder_secrets`) a
    placeholder for each secret not at hand: what stack_config checks and hands over."""
    document = read_stack_file(stack, path)
    raw: dict[str, Any] = {}
    for key, value in (document.get("config") or {}).items():
        raw[key if ":" in key else f"{PROJECT}:{key}"] = value
    for key, value in (secrets or {}).items():
        raw[key if ":" in key else f"{PROJECT}:{key}"] = {"secure": value, "plain": True}
    removed = set()
    for key, value in (overrides or {}).items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if value is None:
            raw.pop(full, None)
            removed.add(full)
        elif _is_secret(full) or (not _is_setting(full) and isinstance(raw.get(full), dict) and "secure" in raw[full]):
            # A setting of ours that is not a secret becomes plain, as `pulumi config set KEY VALUE`
            # makes a `secure:` value plain again.
            raw[full] = {"secure": value if isinstance(value, str) else json.dumps(value), "plain": True}
        else:
            raw[full] = value

    placeholders: list[str] = []
    if placeholder_secrets:
        for key, spec in SCHEMA.items():
            full = f"{PROJECT}:{key}"
            value = raw.get(full)
            stored = isinstance(value, dict) and "secure" in value and not value.get("plain")
            if spec.secret and key not in UNSET_IS_MEANINGFUL and full not in removed and (value is None or stored):
                raw[full] = {"secure": placeholder(key), "plain": True}
                placeholders.append(key)
            elif stored and not spec.secret:  # `secure:` under a plain setting: a secret (the program refuses it)
                raw[full] = {"secure": placeholder(key), "plain": True}
                placeholders.append(key)
    return StackValues(stack, document, raw, sorted(placeholders))


def program_config(given: StackValues, passphrase: Optional[str] = None) -> StackConfig:
    """What the program receives for `given`: Pulumi.yaml's defaults under it, `secure:` values
    decrypted (with `passphrase`, else PULUMI_CONFIG_PASSPHRASE[_FILE]), every value a string."""
    values: dict[str, Any] = {f"{PROJECT}:{k}": v for k, v in _defaults().items()}
    secret_keys: set[str] = set()
    key: Optional[bytes] = None
    for full, value in given.raw.items():
        if isinstance(value, dict) and "secure" in value:
            if not value.get("plain"):
                key = key or passphrase_key(given.stack, given.document, passphrase)
                try:
                    value = decrypt_value(key, value["secure"])
                except ValueError:
                    raise StackConfigError(
                        f"stack {given.stack!r}: {full} cannot be decrypted with this passphrase") from None
            else:
                value = value["secure"]
            secret_keys.add(full)
        values[full] = value
    as_strings = {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
    return StackConfig(as_strings, secret_keys, given.placeholders, key)


def _is_secret(full_key: str) -> bool:
    namespace, _, key = full_key.rpartition(":")
    return namespace == PROJECT and key in SCHEMA and SCHEMA[key].secret


def _is_setting(full_key: str) -> bool:
    namespace, _, key = full_key.rpartition(":")
    return namespace == PROJECT and key in SCHEMA


def set_value(key: str, text: str) -> Any:
    """What `pulumi config set KEY TEXT` stores: the text as it is (the CLI keeps a top-level value
    as a string, `1e3`, `NO` and `0x1f` included; the declared types are checked after). A map or
    list setting takes JSON, as the CLI's `--path` would build it."""
    namespace, _, name = key.rpartition(":")
    if namespace in ("", PROJECT) and name in SCHEMA and SCHEMA[name].kind in ("array", "object"):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text  # the program says what it expected
    return text


def _defaults() -> dict[str, Any]:
    return {key: decl["default"] for key, decl in project_declarations().items() if "default" in decl}
