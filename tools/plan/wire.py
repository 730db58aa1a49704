"""Values as they cross the Pulumi wire (a resource's inputs in a RegisterResource request).

One walker, three views: `mask` (secrets shown as [secret], for plans), `unwrap` (secrets
revealed, for tests that check what a command would run) and `secret_paths` (where the secrets
are). Resource references are shown by URN, unknowns as "(known after apply)" when masking.
"""
from __future__ import annotations

from typing import Any, Callable

from pulumi.runtime import rpc

SECRET_MASK = "[secret]"
UNKNOWN_SHOWN = "(known after apply)"


def _walk(value: Any, on_secret: Callable[[Any, str], Any], path: str, on_unknown: Callable[[], Any]) -> Any:
    if isinstance(value, dict):
        sig = value.get(rpc._special_sig_key)
        if sig == rpc._special_secret_sig:
            return on_secret(value.get("value"), path)
        if sig == rpc._special_output_value_sig:
            if value.get("secret"):
                return on_secret(value.get("value"), path)
            return _walk(value.get("value"), on_secret, path, on_unknown)
        if sig == rpc._special_resource_sig:
            return value.get("urn")
        return {k: _walk(v, on_secret, f"{path}.{k}" if path else k, on_unknown) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, on_secret, f"{path}[{i}]", on_unknown) for i, v in enumerate(value)]
    if value == rpc.UNKNOWN:
        return on_unknown()
    return value


def mask(value: Any) -> Any:
    """A wire value with every secret replaced by [secret]."""
    return _walk(value, lambda _v, _p: SECRET_MASK, "", lambda: UNKNOWN_SHOWN)


def unwrap(value: Any) -> Any:
    """A wire value with secrets revealed (tests only)."""
    return _walk(value, lambda v, _p: unwrap(v), "", lambda: rpc.UNKNOWN)


def secret_paths(value: Any) -> list[str]:
    """The paths (`connection`, `environment.X`, `items[2]`) at which a wire value holds secrets."""
    found: list[str] = []

    def note(_value: Any, path: str) -> str:
        found.append(path)
        return SECRET_MASK

    _walk(value, note, "", lambda: None)
    return found
