"""Property values on the provider protocol's wire, decoded as strictly as the real providers
decode them: pulumi-go-provider v1.3.0 (pulumi-command's) unmarshals every request with
`plugin.UnmarshalProperties(KeepUnknowns, KeepSecrets, KeepOutputValues, KeepResources)`
(internal/rpc/rpc.go), whose decoder refuses a secret marker without its value
(sdk/v3 go/propertyrpc/unmarshal.go: `errAt(p, "malformed secret: missing value")`).

Decoded values: plain Python values, `Secret(value)` around secrets, `UNKNOWN` for unknowns."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format, struct_pb2

SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
OUTPUT_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's unknown, as a string on the wire


class DecodeError(ValueError):
    """A request the real provider would refuse; the message is its own."""


@dataclass(frozen=True)
class Secret:
    value: Any


def _path(parent: str, key: Any) -> str:
    return f"{parent}[{key}]" if isinstance(key, int) else (f"{parent}.{key}" if parent else str(key))


def _decode(value: Any, path: str) -> Any:
    if isinstance(value, dict):
        sig = value.get(SIG_KEY)
        if sig == SECRET_SIG:
            if "value" not in value:
                raise DecodeError(f"{path}: malformed secret: missing value")
            return Secret(_decode(value["value"], path))  # the marker is not part of the path
        if sig == OUTPUT_SIG:
            inner = _decode(value["value"], path) if "value" in value else UNKNOWN
            return Secret(inner) if value.get("secret") else inner
        if sig == RESOURCE_SIG:
            return value.get("id") or value.get("urn")
        return {k: _decode(v, _path(path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, _path(path, i)) for i, v in enumerate(value)]
    return value


def decode(struct: struct_pb2.Struct) -> dict:
    return _decode(json_format.MessageToDict(struct), "")


def _encode(value: Any) -> Any:
    if isinstance(value, Secret):
        return {SIG_KEY: SECRET_SIG, "value": _encode(value.value)}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def encode(props: dict) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(_encode(props))
    return struct


def plain(value: Any) -> Any:
    """The value with every secret unwrapped (what a provider uses)."""
    if isinstance(value, Secret):
        return plain(value.value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def has_unknown(value: Any) -> bool:
    if isinstance(value, Secret):
        return has_unknown(value.value)
    if isinstance(value, dict):
        return any(has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(has_unknown(v) for v in value)
    return value == UNKNOWN


def secret(value: Any) -> Any:
    return value if isinstance(value, Secret) else Secret(value)
