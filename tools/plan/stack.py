"""A stack's configuration as the Pulumi CLI hands it to the program, under the CLI's own rules.

The rules, from pulumi/pulumi `sdk/go/common/workspace/config.go` (`mergeConfig`), pinned CLI
3.272, are tools/plan/cli_rules.py's:
- every key declared in Pulumi.yaml's `config:` block without a `default` must be set on the
  stack: "Stack 'dev' is missing configuration values 'a' and 'b'" (sorted, all at once);
- a key declared `secret: true` must be a `secure:` value: "Stack 'dev' with configuration key
  'k' must be encrypted as it's secret"; a declared `type` must match: "... must be of type
  'integer'" (the first such error stops the CLI, before the missing keys are reported).
The stack file is read as the CLI reads it (tools/plan/stack_file.py), and its `secure:` values
decrypted as the passphrase secrets provider does (tools/plan/secure_values.py).

`--placeholder-secrets` is this tool's one departure, and it is announced: it plans a stack
whose secrets are not at hand (not set, or held by another secrets provider) with a placeholder
for each secret, sent as a Pulumi secret. Missing non-secret keys still fail.
"""
from __future__ import annotations

import base64
import hashlib
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from components.config import PROJECT, SCHEMA, project_declarations
from tools.plan.cli_rules import cli_rule_errors, stack_name_problem
from tools.plan.paths import PROJECT_ROOT
from tools.plan.secure_values import decrypt_value, passphrase_key
from tools.plan.stack_file import StackConfigError, parse_stack_file

STACKS_DIR = PROJECT_ROOT / "stacks"
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


def stack_path(stack: str) -> Path:
    problem = stack_name_problem(stack)
    if problem:
        raise StackConfigError(problem)
    return STACKS_DIR / f"Pulumi.{stack}.yaml"


def known_stacks() -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in STACKS_DIR.glob("Pulumi.*.yaml"))


def read_stack_file(stack: str, path: Optional[Path] = None) -> dict[str, Any]:
    """The stack file as a map, or a StackConfigError saying what is wrong with it."""
    path = path or stack_path(stack)
    if not path.exists():
        raise StackConfigError(f"no stack {stack!r}: {path} does not exist (stacks: {', '.join(known_stacks())})")
    return parse_stack_file(path)


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
