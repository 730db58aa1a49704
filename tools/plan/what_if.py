"""A what-if: a plan with settings changed on the command line (`--set`). It is written to a
folder of its own (out/<stack>/whatif-<keys>/ unless --out names one), says so in every file it
writes, and never touches the kept plan or its state: the user's last real plan stays whole."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Mapping

from components.config import PROJECT

FOLDER_PREFIX = "whatif-"
_NAME_LIMIT = 60  # a folder name people can read in `ls`; longer ones end in a digest
SHOWN_LIMIT = 120  # characters of a set value shown in the files' what-if line


def folder_name(keys: list[str]) -> str:
    """`whatif-<keys>`: the keys set, sorted, joined by `+`, in the characters a stack name may use
    (a namespace's colon becomes a dot); over 60 characters, cut with a digest of the whole."""
    short = sorted({k.removeprefix(f"{PROJECT}:") for k in keys})
    name = re.sub(r"[^A-Za-z0-9_.+-]", "_", "+".join(short).replace(":", "."))
    if len(name) > _NAME_LIMIT:
        name = name[:_NAME_LIMIT - 13] + "-" + hashlib.sha256(name.encode()).hexdigest()[:12]
    return FOLDER_PREFIX + name


@dataclass(frozen=True)
class WhatIf:
    """What a what-if set (a secret's value as [secret]) and where the kept plan it leaves alone is."""
    settings: Mapping[str, Any]
    kept: str  # the folder of the kept plan, as shown to the user

    @classmethod
    def of(cls, overrides: Mapping[str, Any], secret_keys: set[str], kept: str) -> "WhatIf":
        def shown(key: str, value: Any) -> Any:
            full = key if ":" in key else f"{PROJECT}:{key}"
            return "[secret]" if full in secret_keys else value
        return cls({key: shown(key, value) for key, value in sorted(overrides.items())}, kept)

    def line(self) -> str:
        def one(key: str, value: Any) -> str:
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            return f"--set {key}={text if len(text) <= SHOWN_LIMIT else text[:SHOWN_LIMIT] + '...'}"
        sets = " ".join(one(key, value) for key, value in self.settings.items())
        return f"what-if ({sets}): not the kept plan, which stays as it was in {self.kept}"

    def as_json(self) -> dict:
        return {"set": dict(self.settings), "keptPlan": self.kept}
