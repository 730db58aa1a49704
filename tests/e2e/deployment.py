"""What the scenarios (tests/e2e/scenarios) deploy and how they look at it: the stack, its
hostile secrets, the controller reached over SSH, the engine's plan held against the offline one."""
from __future__ import annotations

import secrets
import subprocess

from tests.engine_plans import disagreements, offline_plan

STACK = "e2e"  # the stack whose addresses and nodes the lab is made of (stacks/Pulumi.e2e.yaml)

# What the test adds to the stack (with the host keys it pins): instances move between the hypervisors.
MIGRATION = {"enabled": True, "scheme": "ssh"}


def hostile(label: str, avoid: str = "") -> str:
    """ASCII (see config: nova's MySQL driver needs it) but full of what breaks shells, SQL,
    URLs and oslo.config: quotes, $, %, ;, spaces, backslash, @, :, /."""
    chars = "".join(c for c in "'\"$x %;\\@:/" if c not in avoid)
    return f"{label}{chars}{secrets.token_urlsafe(8)}"


class Secrets(dict):
    """The stack's secrets; never shown (pytest prints a failing fixture's arguments)."""

    def __repr__(self) -> str:
        return f"Secrets({', '.join(sorted(self))})"


def nova_ssh_key() -> str:
    """A fresh ed25519 key in OpenSSH format, as `ssh-keygen -t ed25519 -N ''` writes it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    return Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                                      serialization.NoEncryption()).decode()


def on_controller(env, command: str) -> subprocess.CompletedProcess:
    return subprocess.run(env.ssh_command(command), capture_output=True, text=True, timeout=600)


def controller_steps(rec) -> list[str]:
    return [r.name for r in rec.resources() if r.type == "command:remote:Command" and r.name.startswith("controller-")]


def assert_planned_as_offline(engine) -> None:
    """The engine's preview of the last apply planned, resource by resource, what the offline
    review (`./dev plan` against the state the previous apply's config left) says: the same
    operations, types, parents and dependencies (tests/engine_plans.py)."""
    applied = engine.history[-1]
    assert disagreements(applied.planned, offline_plan(applied.rec, engine.last_rec())) == []
