"""Change review: what `pulumi up` would do to the last planned state, resource by resource.

The last plan of a stack is kept as a state file (out/<stack>/state.json, 0600 in a 0700 folder): each resource's type,
inputs as shown (secrets masked) and a digest of every input, so a later plan can tell changed
from unchanged without the values (secret inputs are digested with scrypt under a per-file salt:
the file never holds a secret, and a guess costs what a scrypt costs).

The operation per resource follows the real engine and providers (pinned versions):
- new URN: create (import when the resource names an id to adopt); gone URN: delete, in reverse
  dependency order (pkg/resource/deploy/step_generator.go);
- changed inputs: the provider's diff decides update or replace. command:remote:Command replaces
  on `triggers` (the SDK sets replaceOnChanges `triggers[*]`) and updates on anything else,
  re-running `create` when it has no `update` (pulumi-command v1.2.1); the bridged openstack
  resources replace on their ForceNew fields (a role assignment cannot be updated at all; users,
  services and endpoints only on `region`); the database provider never replaces (its diff);
  a replace creates the new resource before deleting the old, whose `delete` command runs then.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from tools.plan.files import private_dir, write_private
from tools.plan.recording import STACK_TYPE, Recording, Registration
from tools.plan.wire import unwrap

STATE_FORMAT = 1
COMMAND = "command:remote:Command"
# Inputs whose change replaces the resource, by the provider's own schema (ForceNew).
REPLACE_KEYS: dict[str, frozenset[str]] = {
    COMMAND: frozenset({"triggers"}),
    "openstack:identity/roleAssignment:RoleAssignment": frozenset(
        {"userId", "projectId", "roleId", "domainId", "groupId", "region"}),
    "openstack:identity/user:User": frozenset({"region"}),
    "openstack:identity/serviceV3:ServiceV3": frozenset({"region"}),
    "openstack:identity/endpointV3:EndpointV3": frozenset({"region"}),
}
BOOKKEEPING = ("__defaults",)  # SDK fields that are not inputs a user changes


def digest(value: Any, secret: bool, salt: bytes) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    if secret:
        return "scrypt:" + hashlib.scrypt(canonical, salt=salt, n=2 ** 12, r=8, p=1, dklen=16).hex()
    return "sha256:" + hashlib.sha256(salt + canonical).hexdigest()


def snapshot(rec: Recording, salt: Optional[bytes] = None) -> dict:
    """The state a plan leaves behind: enough to review the next plan against it."""
    salt = salt or os.urandom(16)
    resources = {}
    for r in rec.resources():
        plain = unwrap(r.raw_inputs)
        secret = {path.split(".")[0].split("[")[0] for path in r.secret_inputs}
        resources[r.urn] = {
            "type": r.type, "name": r.name, "custom": r.custom, "inputs": r.inputs,
            "digests": {key: digest(plain[key], key in secret, salt) for key in plain if key not in BOOKKEEPING},
            "secret": sorted(secret), "dependencies": r.dependencies,
            "delete": isinstance(plain.get("delete"), str) and bool(plain.get("delete")),
        }
    return {"format": STATE_FORMAT, "stack": rec.stack, "written": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "salt": salt.hex(), "resources": resources}


def save_state(path: Path, state: dict) -> None:
    """Written 0600, atomically, in a 0700 folder (tools/plan/files.py)."""
    private_dir(path.parent)
    write_private(path, json.dumps(state, indent=1, sort_keys=True) + "\n")


def load_state(path: Path) -> Optional[dict]:
    if not path.exists():
        return None
    state = json.loads(path.read_text())
    if state.get("format") != STATE_FORMAT:
        raise ValueError(f"{path}: state format {state.get('format')!r}, this tool reads {STATE_FORMAT}; plan afresh")
    return state


@dataclass
class Step:
    urn: str
    name: str
    type: str
    op: str  # same, create, import, update, replace, delete
    changed: list[str] = field(default_factory=list)  # input keys
    secret_changed: list[str] = field(default_factory=list)
    replace_keys: list[str] = field(default_factory=list)
    consequence: str = ""


def _replace_keys(r: Registration) -> frozenset[str]:
    declared = {pattern.split("[")[0].split(".")[0] for pattern in r.replace_on_changes}
    return REPLACE_KEYS.get(r.type, frozenset()) | declared


def engine_order(rec: Recording) -> list[Registration]:
    """Registrations as the engine steps through them: each after its parent and dependencies
    (ties by URN, so the order is stable)."""
    done: set[str] = set()
    ordered: list[Registration] = []

    def visit(r: Registration) -> None:
        if r.urn in done:
            return
        done.add(r.urn)
        for urn in sorted({r.parent, *r.dependencies} - {""}):
            if urn in rec.registrations:
                visit(rec.registrations[urn])
        ordered.append(r)

    for r in rec.resources():
        visit(r)
    return ordered


def review(old: Optional[dict], rec: Recording) -> list[Step]:
    """One step per resource of the new plan (engine order), then the deletes (reverse order)."""
    salt = bytes.fromhex(old["salt"]) if old else b""
    olds = old["resources"] if old else {}
    new_state = snapshot(rec, salt) if old else None
    steps = []
    for r in engine_order(rec):
        before = olds.get(r.urn)
        if before is None:
            steps.append(Step(r.urn, r.name, r.type, "import" if r.import_id else "create",
                              consequence=_created(r)))
            continue
        after = new_state["resources"][r.urn]
        changed = sorted(k for k in set(before["digests"]) | set(after["digests"])
                         if before["digests"].get(k) != after["digests"].get(k))
        if not changed or not r.custom:
            steps.append(Step(r.urn, r.name, r.type, "same"))
            continue
        secret = sorted(k for k in changed if k in after["secret"] or k in before["secret"])
        replace = sorted(set(changed) & _replace_keys(r))
        op = "replace" if replace else "update"
        steps.append(Step(r.urn, r.name, r.type, op, changed, secret, replace,
                          _changed(rec, r, op, changed, secret, replace)))
    gone = [urn for urn in olds if urn not in rec.registrations]
    for urn in sorted(gone, key=lambda u: _depth(olds, u), reverse=True):
        before = olds[urn]
        steps.append(Step(urn, before["name"], before["type"], "delete", consequence=_deleted(before)))
    return steps


def _depth(olds: dict, urn: str, seen: frozenset = frozenset()) -> int:
    deps = [d for d in olds[urn]["dependencies"] if d in olds and d not in seen]
    return 1 + max((_depth(olds, d, seen | {urn}) for d in deps), default=0)


def _created(r: Registration) -> str:
    if r.import_id:
        return f"adopts {r.import_id}, then updates whatever differs from the stack"
    return "runs its script" if r.type == COMMAND else ""


def _deleted(before: dict) -> str:
    if before["type"] == COMMAND:
        return "its delete command runs" if before["delete"] else "forgotten: it has no delete command"
    return ""


def _changed(rec: Recording, r: Registration, op: str, changed: list[str], secret: list[str],
             replace: list[str]) -> str:
    shown = ", ".join(f"{k} [secret] changed" if k in secret else f"{k} changed" for k in changed)
    if r.type != COMMAND:
        return f"{op} in place: {shown}" if op == "update" else f"{op}: {shown}"
    if op == "replace":
        triggers = unwrap(r.raw_inputs).get("triggers") or []
        if "triggers" in secret:
            what = ", ".join(_trigger_meaning(rec, r, i) for i in range(len(triggers)))
        else:  # plain triggers (the hypervisor list) are shown as they now are
            what = json.dumps(triggers)
        return f"runs again, triggered by {what}; {shown}"
    return f"runs its script again: {shown}"


def _trigger_meaning(rec: Recording, r: Registration, index: int) -> str:
    """A trigger that is the sha256 of a file another step writes is named by that file."""
    value = (unwrap(r.raw_inputs).get("triggers") or [])[index]
    for other in rec.of_type(COMMAND):
        stdin = unwrap(other.raw_inputs).get("stdin")
        if isinstance(stdin, str) and isinstance(value, str) and hashlib.sha256(stdin.encode()).hexdigest() == value:
            target = _written_path(unwrap(other.raw_inputs).get("create", ""))
            return f"content of {target}" if target else f"stdin of {other.name}"
    return f"triggers[{index}]"


def _written_path(script: str) -> Optional[str]:
    for line in script.splitlines():
        if line.startswith("echo written: "):
            return line.removeprefix("echo written: ").strip("'")
    return None


def counts(steps: list[Step]) -> dict[str, int]:
    ops = ("create", "import", "update", "replace", "delete", "same")
    return {op: sum(1 for s in steps if s.op == op and s.type != STACK_TYPE) for op in ops}
