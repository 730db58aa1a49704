"""The settings a stack can have: what Pulumi.yaml declares (types, secrecy, defaults, the one
place defaults live) plus what it cannot declare (structured values, optional secrets)."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROJECT = "openstack-nova"
PULUMI_YAML = Path(__file__).resolve().parents[2] / "Pulumi.yaml"
SEED_DEFAULT_PASSWORD = "openstack"


class Secret:
    """A secret config value. Prints as [secret]; `.value` is read only where it is used."""

    __slots__ = ("value",)

    def __init__(self, value: str):
        self.value = value

    def __repr__(self) -> str:
        return "Secret([secret])"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other.value == self.value

    def __hash__(self) -> int:
        return hash(("Secret", self.value))


class ConfigError(Exception):
    """Every problem of a stack's config, each naming the key, what is wrong and the fix."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            f"{len(problems)} problem(s) in the stack configuration:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


# ---------------------------------------------------------------------------------------------
# Schema: key -> (kind, secret, required). Kinds: string, integer, boolean, array, object.
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Key:
    kind: str
    secret: bool = False
    required: bool = False


@functools.lru_cache(maxsize=1)
def project_declarations() -> dict[str, dict[str, Any]]:
    """Pulumi.yaml's `config:` block: key -> {type, description, secret, default, items}."""
    declared = yaml.safe_load(PULUMI_YAML.read_text()).get("config") or {}
    return {key: decl for key, decl in declared.items() if isinstance(decl, dict)}


# What Pulumi.yaml cannot declare: structured values (its types are string, integer, boolean
# and array of those) and optional secrets (a declared key without a default is one the CLI
# requires, and a secret must not carry a plain default).
UNDECLARED: dict[str, Key] = {
    "controller": Key("object", required=True),
    "hypervisors": Key("array"),  # of node maps
    "dashboard": Key("object"),
    "endpointUrls": Key("object"),
    "adoptIds": Key("object"),
    "serviceExtraRoleIds": Key("object"),  # role name -> id, for the release's extra service roles
    "novaConf": Key("object"),
    "novaConfSecret": Key("object", secret=True),
    "sshPrivateKey": Key("string", secret=True),  # unset: the SSH agent
    "placementPassword": Key("string", secret=True),  # required by modern releases (checked below)
    "metadataSecret": Key("string", secret=True),
    "placement": Key("object"),  # {deploy, dbName, dbUser}
    "placementDbPassword": Key("string", secret=True),  # required when the program deploys placement
    "migration": Key("object"),  # {enabled, scheme, caFile, certFile, keyFile}: instances move between hypervisors
    "novaSshPrivateKey": Key("string", secret=True),  # nova's own SSH key between hypervisors (migration)
}


def _schema() -> dict[str, Key]:
    declared = {key: Key(decl["type"], secret=bool(decl.get("secret")), required="default" not in decl)
                for key, decl in project_declarations().items()}
    return {**declared, **UNDECLARED}


SCHEMA: dict[str, Key] = _schema()
# Every secret setting that holds one value (a password, a key), in schema order.
SECRET_KEYS: tuple[str, ...] = tuple(key for key, spec in SCHEMA.items() if spec.secret and spec.kind == "string")

INTERFACES = ("public", "internal", "admin")
KNOWN_SERVICE_TYPES = ("compute",)


def project_defaults() -> dict[str, Any]:
    """The defaults Pulumi.yaml declares, by key (without the project namespace)."""
    return {key: decl["default"] for key, decl in project_declarations().items() if "default" in decl}

