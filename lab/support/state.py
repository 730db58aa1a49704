"""`<state_dir>/state.json` (0600): the run's generated secrets, the pids of the daemons it
started and what it created, so that `down` undoes exactly what `up` did."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List

from .common import new_password, write_private


class State:
    """`<state_dir>/state.json` (0600): generated secrets, pids, what this lab created."""

    def __init__(self, state_dir: os.PathLike | str):
        self.dir = Path(state_dir)
        self.path = self.dir / "state.json"
        self.data: Dict[str, Any] = {}
        if self.path.exists():
            self.data = json.loads(self.path.read_text())

    def ensure_dir(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        (self.dir / "logs").mkdir(exist_ok=True)

    def log_path(self, name: str) -> Path:
        """A file under `<state_dir>/logs` (a daemon's log or captured output)."""
        return self.dir / "logs" / name

    def save(self) -> None:
        self.ensure_dir()
        write_private(self.path, json.dumps(self.data, indent=2, sort_keys=True))

    def secret(self, name: str) -> str:
        secrets_ = self.data.setdefault("secrets", {})
        if name not in secrets_:
            secrets_[name] = new_password()
            self.save()
        return secrets_[name]

    def created(self, kind: str) -> List[str]:
        return self.data.setdefault("created", {}).setdefault(kind, [])

    def mark_created(self, kind: str, name: str) -> None:
        items = self.created(kind)
        if name not in items:
            items.append(name)
            self.save()

    @property
    def pids(self) -> Dict[str, int]:
        return self.data.setdefault("pids", {})
