"""Reading raw config values by key, collecting problems instead of raising."""
from __future__ import annotations

import difflib
import json
from typing import Any, Mapping, Optional

from components import validate
from components.config.schema import (
    PROJECT, SCHEMA, Key, Secret, project_defaults,
)
from components.validate import validate_identifier


class _Reader:
    """Reads raw config values by key (Pulumi.yaml's defaults under them), collecting problems
    instead of raising."""

    def __init__(self, raw: Mapping[str, Any], secret_keys: set[str]):
        self.raw = {**project_defaults(), **raw}
        self.secret_keys = secret_keys
        self.problems: list[str] = []

    def problem(self, key: str, text: str) -> None:
        self.problems.append(f"{key}: {text}")

    def _value(self, key: str) -> Any:
        spec = SCHEMA[key]
        value = self.raw.get(key)
        if value == "" and spec.kind == "string" and project_defaults().get(key) == "":
            value = None  # Pulumi.yaml's "" default: derived from other settings
        if value is None:
            if spec.required:
                how = f"pulumi config set --secret {key} <value>" if spec.secret else f"pulumi config set {key} <value>"
                self.problem(key, f"is required but not set; set it with `{how}`")
            return None
        if spec.kind == "string":
            if not isinstance(value, str):
                self.problem(key, f"must be a string, got {type(value).__name__}")
                return None
            return value
        if spec.kind == "integer":
            if isinstance(value, bool):
                self.problem(key, "must be an integer, got a boolean")
                return None
            try:
                number = int(value) if not isinstance(value, float) or value.is_integer() else None
            except (TypeError, ValueError):
                number = None
            if number is None:
                self.problem(key, f"must be an integer, got {_shown(key, value, spec)}")
            return number
        if spec.kind == "boolean":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            self.problem(key, f"must be true or false, got {_shown(key, value, spec)}")
            return None
        # array / object: JSON text (as Pulumi passes structured config) or already parsed
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                self.problem(key, f"must be a {'list' if spec.kind == 'array' else 'map'} (structured config), got a plain string")
                return None
        expected = list if spec.kind == "array" else dict
        if not isinstance(value, expected):
            self.problem(key, f"must be a {'list' if spec.kind == 'array' else 'map'}, got {type(value).__name__}")
            return None
        return value

    def get(self, key: str, default: Any = None) -> Any:
        value = self._value(key)
        return default if value is None else value

    def secret(self, key: str, multiline: bool = False) -> Optional[Secret]:
        value = self._value(key)
        if value is None:
            return None
        if key not in self.secret_keys:
            self.problem(key, f"holds a password in plain text; store it encrypted with `pulumi config set --secret {key} <value>`")
        if value == "":
            self.problem(key, f"is empty; set a real value with `pulumi config set --secret {key} <value>`")
        elif isinstance(value, str) and "\x00" in value:
            self.problem(key, "must not contain NUL characters")
        elif isinstance(value, str) and not multiline and ("\n" in value or "\r" in value):
            self.problem(key, "must not contain newlines")
        return Secret(value) if isinstance(value, str) else Secret(json.dumps(value))

    # -- typed checks ------------------------------------------------------------------------
    def host(self, key: str, value: Optional[str]) -> Optional[str]:
        if value is not None and validate.check_host(value):
            self.problem(key, validate.check_host(value))
            return None
        return value

    def identifier(self, key: str, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        found = validate_identifier(value, key)
        self.problems.extend(found)
        return None if found else value

    def name(self, key: str, value: Optional[str]) -> Optional[str]:
        if value is not None and not validate.NAME_RE.fullmatch(value):
            self.problem(key, f"{value!r} is not a plain name; use letters, digits, '.', '_', '-' or '@'")
            return None
        return value

    def url(self, key: str, value: Optional[str]) -> Optional[str]:
        if value is not None and not validate.URL_RE.fullmatch(value):
            self.problem(key, f"{value!r} is not an http(s) URL; use e.g. http://controller:8774/v2.1")
            return None
        return value

    def path(self, key: str, value: Optional[str]) -> Optional[str]:
        if value in (None, ""):
            return None
        if not validate.PATH_RE.fullmatch(value):
            self.problem(key, f"{value!r} is not an absolute path of plain characters; use e.g. /etc/ssl/certs/ca.pem")
            return None
        return value

    def port(self, key: str, value: Optional[int]) -> Optional[int]:
        if value is not None and not 1 <= value <= 65535:
            self.problem(key, f"{value} is not a TCP port; use a number from 1 to 65535")
            return None
        return value


def _shown(key: str, value: Any, spec: Key) -> str:
    return "[secret]" if spec.secret else repr(value)


def _strip_namespace(raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Keep this project's keys; provider keys (openstack:...) are not ours to check."""
    ours: dict[str, Any] = {}
    for full_key, value in raw.items():
        namespace, _, key = full_key.rpartition(":")
        if namespace in ("", PROJECT):
            ours[key] = value
    unknown = []
    for key in ours:
        if key not in SCHEMA:
            close = difflib.get_close_matches(key, SCHEMA, n=1, cutoff=0.7)
            hint = f"; did you mean `{close[0]}`?" if close else "; known keys are listed in Pulumi.yaml and README"
            unknown.append(f"{key}: is not a setting of {PROJECT}{hint}")
    return ours, unknown


