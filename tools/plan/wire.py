"""Values as they cross the Pulumi wire (a resource's inputs in a RegisterResource request).

One walker, three views: `mask` (secrets shown as [secret], for plans), `unwrap` (secrets
revealed, for tests that check what a command would run) and `secret_paths` (where the secrets
are). Resource references are shown by URN, unknowns as "(known after apply)" when masking.

The markers are Pulumi's published wire protocol (pulumi/pulumi sdk/go/common/resource/
properties.go; the Node.js SDK exports them as `specialSigKey` and so on): a map whose SIG_KEY entry holds one of the signatures below is a
secret, an output value or a resource reference, and UNKNOWN stands for a value not known until
the apply. They are spelled out here, not taken from the Python SDK's private names, which may
change with any release; tests/test_plan_wire.py compares them with the installed SDK's.
"""
from __future__ import annotations

from typing import Any, Callable

SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
OUTPUT_VALUE_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

SECRET_MASK = "[secret]"
UNKNOWN_SHOWN = "(known after apply)"


def _walk(value: Any, on_secret: Callable[[Any, str], Any], path: str, on_unknown: Callable[[], Any]) -> Any:
    if isinstance(value, dict):
        sig = value.get(SIG_KEY)
        if sig == SECRET_SIG:
            return on_secret(value.get("value"), path)
        if sig == OUTPUT_VALUE_SIG:
            if value.get("secret"):
                return on_secret(value.get("value"), path)
            return _walk(value.get("value"), on_secret, path, on_unknown)
        if sig == RESOURCE_SIG:
            return value.get("urn")
        return {k: _walk(v, on_secret, f"{path}.{k}" if path else k, on_unknown) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, on_secret, f"{path}[{i}]", on_unknown) for i, v in enumerate(value)]
    if value == UNKNOWN:
        return on_unknown()
    return value


def mask(value: Any) -> Any:
    """A wire value with every secret replaced by [secret]."""
    return _walk(value, lambda _v, _p: SECRET_MASK, "", lambda: UNKNOWN_SHOWN)


def unwrap(value: Any) -> Any:
    """A wire value with secrets revealed (tests only)."""
    return _walk(value, lambda v, _p: unwrap(v), "", lambda: UNKNOWN)


def secret_paths(value: Any) -> list[str]:
    """The paths (`connection`, `environment.X`, `items[2]`) at which a wire value holds secrets."""
    found: list[str] = []

    def note(_value: Any, path: str) -> str:
        found.append(path)
        return SECRET_MASK

    _walk(value, note, "", lambda: None)
    return found
