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


class Reader:
    """Reads raw config values by key (Pulumi.yaml's defaults under them), collecting problems
    instead of raising."""

    def __init__(self, raw: Mapping[str, Any], secret_keys: set[str]):
        self.secret_keys = secret_keys
        self.problems: list[str] = []
        self.secrets: dict[str, Secret] = {}  # every secret setting read, by key: Settings.secrets
        # The CLI hands the program a `secure:` value as a secret, whatever its key. A plain
        # setting would carry it in clear into the plan, the state, the nodes' files and these
        # errors: refused, and read as unset, so that no other check quotes it.
        self.encrypted_plain = [key for key, spec in SCHEMA.items() if key in raw and key in secret_keys
                                and not spec.secret]
        for key in self.encrypted_plain:
            self.problem(key, f"is stored encrypted (a `secure:` value), but {key} is not a secret setting: the "
                         "program would write it in clear into plans, the state and the nodes' files; set it in "
                         f"plain with `pulumi config set {key} <value>` (a password belongs in a secret setting)")
        self.raw = {**project_defaults(), **{k: v for k, v in raw.items() if k not in self.encrypted_plain}}

    def problem(self, key: str, text: str) -> None:
        self.problems.append(f"{key}: {text}")

    def _value(self, key: str) -> Any:
        value = self._typed(key)
        if value is not None and not SCHEMA[key].secret:  # secrets: checked in `secret`
            self._check_strings(key, value)
        return value

    def _check_strings(self, where: str, value: Any) -> None:
        """Every string inside a setting (map keys too): no line break or control character of
        any kind, no null entry in a list: what reaches a file, a URL or an API is one line."""
        if isinstance(value, str):
            if (problem := validate.check_characters(value)):
                self.problem(where, problem)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if item is None:
                    self.problem(f"{where}[{i}]", "is empty (null); remove the entry or give it a value")
                else:
                    self._check_strings(f"{where}[{i}]", item)
        elif isinstance(value, dict):
            for name, item in value.items():
                if (problem := validate.check_characters(str(name))):
                    self.problem(f"{where}.{name!r}", f"the name {problem}")
                    continue
                self._check_strings(f"{where}.{name}", item)

    def _typed(self, key: str) -> Any:
        spec = SCHEMA[key]
        value = self.raw.get(key)
        if value == "" and spec.kind == "string" and project_defaults().get(key) == "":
            value = None  # Pulumi.yaml's "" default: derived from other settings
        if value is None:
            if spec.required and key not in self.encrypted_plain:  # (refused already)
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
        elif isinstance(value, str) and (problem := validate.check_characters(
                value, validate.SECRET_REFUSED_CATEGORIES, allowed="\n\r" if multiline else "", secret=True)):
            # Never the value itself, nor where the character stands: only which character it is.
            self.problem(key, problem)
        self.secrets[key] = Secret(value) if isinstance(value, str) else Secret(json.dumps(value))
        return self.secrets[key]

    # -- typed getters: a setting read and checked, its key named once -----------------------
    # Each returns None (the problem collected) when the value is set but not valid.
    def host(self, key: str, default: Optional[str] = None) -> Optional[str]:
        value = validate.unmapped(self.get(key, default))  # ::ffff:10.0.0.5 is 10.0.0.5 (validate.unmapped)
        if value is not None and validate.check_host(value):
            self.problem(key, validate.check_host(value))
            return None
        return value

    def identifier(self, key: str) -> Optional[str]:
        return self.check_identifier(key, self.get(key))

    def name(self, key: str) -> Optional[str]:
        value = self.get(key)
        if value is not None and not validate.NAME_RE.fullmatch(value):
            self.problem(key, f"{value!r} is not a plain name; use letters, digits, '.', '_', '-' or '@'")
            return None
        return value

    def url(self, key: str, default: Optional[str] = None, credentials_hint: str = "") -> Optional[str]:
        return self.check_url(key, self.get(key, default), credentials_hint)

    def path(self, key: str) -> Optional[str]:
        value = self.get(key)
        if value in (None, ""):
            return None
        if not validate.PATH_RE.fullmatch(value):
            self.problem(key, f"{value!r} is not an absolute path of plain characters; use e.g. /etc/ssl/certs/ca.pem")
            return None
        return value

    def port(self, key: str) -> Optional[int]:
        value = self.get(key)
        if value is not None and not 1 <= value <= 65535:
            self.problem(key, f"{value} is not a TCP port; use a number from 1 to 65535")
            return None
        return value

    # -- checks of a value that is not a setting's own: derived, or inside a structured one ----
    def check_identifier(self, where: str, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        found = validate_identifier(value, where)
        self.problems.extend(found)
        return None if found else value

    def check_url(self, where: str, value: Optional[str], credentials_hint: str = "") -> Optional[str]:
        if value is not None and (problem := validate.check_url(value)):
            if credentials_hint and problem.startswith("holds credentials"):
                problem += f"; {credentials_hint}"
            self.problem(where, problem)
            return None
        return value


def _shown(key: str, value: Any, spec: Key) -> str:
    return "[secret]" if spec.secret else repr(value)


def strip_namespace(raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
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


