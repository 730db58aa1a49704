"""The inputs of a ServiceDatabase (components/mysql_admin.py), declared once as the fields of
ServiceDatabaseArgs: each field says how its value is checked, parsed from the Pulumi wire,
compared by diff, and whether it is secret. The provider's check, parsing and diff all follow
these fields, so a new input is one field here.

Inputs reach the provider as the engine sends them: numbers as floats, lists possibly holding
unknown values at preview, secrets possibly still wrapped; the helpers below take them as such.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Callable, Iterable, Optional, Sequence

import pulumi
from pulumi.runtime import rpc

from components.validate import USER_NAME_MAX, is_host, validate_host_pattern, validate_identifier


class DatabaseSpecError(ValueError):
    """Invalid ServiceDatabase inputs; lists every problem at once."""


def plain(value: Any) -> Any:
    """A value without its secret wrapper: the engine strips secrets before calling a dynamic
    provider, but a wrapped value must not slip through as a dict."""
    return rpc.unwrap_rpc_secret(value) if rpc.is_rpc_secret(value) else value


def is_unknown(value: Any) -> bool:
    """Whether a (preview) value is or contains an unknown Output."""
    value = plain(value)
    return value == rpc.UNKNOWN or (isinstance(value, (list, tuple)) and any(map(is_unknown, value)))


def _as_int(value: Any) -> Optional[int]:
    # Numbers cross the Pulumi wire as floats: accept 3306.0, reject 3306.5, True and "3306".
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _unique(items: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(dict.fromkeys(plain(item) for item in (items or ())))


def host_set(hosts: Iterable[Any]) -> frozenset:
    """Account hosts as the server compares them: it stores host names lower-cased
    (Foo.Example.com -> foo.example.com)."""
    return frozenset(host.lower() if isinstance(host, str) else host for host in hosts)


def _text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _text_or_none(value: Any) -> bool:
    return value is None or isinstance(value, str)


Check = Callable[..., list[str]]  # a field's check(plain value, key, state=, skip_unknown=) -> messages


def _rule(message: str, ok: Callable[[Any], Any]) -> Check:
    """`message`, formatted with the key and the value, unless ok(value)."""
    return lambda value, key, **_: [] if ok(value) else [message.format(key=key, value=value)]


def _check_user(value: Any, key: str, **_: Any) -> list[str]:
    problems = validate_identifier(value, key)
    if not problems and len(value) > USER_NAME_MAX:
        problems.append(f"{key}: {value!r} is longer than {USER_NAME_MAX} characters, "
                        "the MySQL 8 limit for user names; use a shorter name")
    return problems


def _each(validate: Callable[[Any, str], list[str]]) -> Check:
    """A non-empty list of items `validate` accepts; empty is fine in state (read() empties lists)."""
    def check(items: Any, key: str, state: bool = False, skip_unknown: bool = False) -> list[str]:
        if not isinstance(items, (list, tuple)) or not (items or state):
            return [f"{key}: {items!r} must be a non-empty list"]
        return [message for index, item in enumerate(items) if not (skip_unknown and is_unknown(item))
                for message in validate(plain(item), f"{key}[{index}]")]
    return check


def _input(check: Check, parse: Callable[[Any], Any] = lambda v: v, compare: Callable[[Any], Any] = lambda v: v,
           secret: bool = False, **default: Any) -> Any:
    """One input: how it is checked, parsed from the wire, compared by diff, and whether it is secret
    (then also left out of the dataclass' repr)."""
    return field(**default, repr=not secret, metadata={"check": check, "parse": parse, "compare": compare,
                                                        "secret": secret})


@dataclass(frozen=True, kw_only=True)
class ServiceDatabaseArgs:
    """The inputs of a ServiceDatabase, declared once: the provider's input and output keys, its
    parsing, validation and diff all follow these fields. The program fills it with Pulumi inputs
    (secret Outputs for the passwords); the provider's parsed copy holds plain values and tuples."""

    # Host name or IP address of the server, as the admin connects to it (no port, no URL).
    admin_host: str = _input(_rule("{key}: {value!r} is not a host name or IP address",
                                   lambda v: _text(v) and is_host(v)))
    # Its TCP port (1-65535); numbers cross the wire as floats (3306.0).
    admin_port: int = _input(_rule("{key}: {value!r} is not a TCP port (1-65535)",
                                   lambda v: 0 < (_as_int(v) or 0) < 65536), parse=_as_int)
    # An account that may CREATE DATABASE, CREATE USER and GRANT (e.g. root).
    admin_user: str = _input(_rule("{key}: {value!r} must be a non-empty string", _text))
    # Its password, secret; may be empty.
    admin_password: pulumi.Input[str] = _input(_rule("{key}: must be a string (it may be empty)", _text_or_none),
                                               parse=lambda v: v or "", secret=True)
    # CA file that signs the server's TLS certificate; None: no TLS.
    admin_ca_file: Optional[str] = _input(_rule("{key}: {value!r} must be a file path or empty", _text_or_none),
                                          parse=lambda v: v or None, default=None)
    # The service's databases, created if missing (plain identifiers).
    databases: Sequence[str] = _input(_each(validate_identifier), parse=_unique, compare=frozenset)
    # The service's account name (a plain identifier, at most USER_NAME_MAX characters).
    user: str = _input(_check_user)
    # Its password, secret; never echoed in a message.
    password: pulumi.Input[str] = _input(_rule("{key}: must be a non-empty string", _text), secret=True)
    # Account host patterns the user logs in from, e.g. ["localhost", "%"]; each gets ALL PRIVILEGES.
    hosts: Sequence[str] = _input(_each(validate_host_pattern), parse=_unique, compare=host_set)
    # Drop the databases (and their data) on delete; the default keeps them when the stack goes.
    drop_databases_on_delete: bool = _input(
        _rule("{key}: {value!r} must be true or false", lambda v: v is None or isinstance(v, bool)),
        parse=bool, default=False)

    def props(self) -> dict[str, Any]:
        """The inputs as Pulumi properties (lists for sequences): registered inputs and outputs."""
        values = {key: getattr(self, key) for key in INPUT_KEYS}
        return {key: list(v) if isinstance(v, (list, tuple)) else v for key, v in values.items()}

    @property
    def endpoint(self) -> str:
        host = f"[{self.admin_host}]" if ":" in self.admin_host else self.admin_host
        return f"{host}:{self.admin_port}"


_FIELDS = fields(ServiceDatabaseArgs)
INPUT_KEYS = tuple(f.name for f in _FIELDS)
SECRET_KEYS = tuple(f.name for f in _FIELDS if f.metadata["secret"])


def input_problems(props: dict[str, Any], skip_unknown: bool = False, state: bool = False) -> list[tuple[str, str]]:
    """Every problem with the inputs, as (top-level property, message), in field order.
    `state`: props are recorded state, whose lists read() may have emptied (drift), not inputs."""
    return [(f.name, message) for f in _FIELDS if not (skip_unknown and is_unknown(props.get(f.name)))
            for message in f.metadata["check"](plain(props.get(f.name)), f.name, state=state,
                                               skip_unknown=skip_unknown)]


def parse_inputs(props: dict[str, Any], state: bool = False) -> ServiceDatabaseArgs:
    """Validated inputs; raises DatabaseSpecError listing every problem before anything runs."""
    problems = input_problems(props, state=state)
    if problems:
        raise DatabaseSpecError("invalid ServiceDatabase inputs:\n" + "\n".join(f"  - {m}" for _, m in problems))
    return ServiceDatabaseArgs(**{f.name: f.metadata["parse"](plain(props.get(f.name))) for f in _FIELDS})


def diff_view(props: dict[str, Any]) -> dict[str, Any]:
    """Inputs normalised for comparison: order/duplicates of lists, 3306 vs 3306.0, "" vs None."""
    return {f.name: f.metadata["compare"](f.metadata["parse"](plain(props.get(f.name)))) for f in _FIELDS}
