"""Change review: what `pulumi up` would do to the last planned state (tools/plan/state.py),
resource by resource.

The operation per resource follows the real engine and providers (pinned versions):
- new URN: create (import when the resource names an id to adopt); gone URN: delete, in reverse
  dependency order (pkg/resource/deploy/step_generator.go);
- changed inputs: the provider's diff decides update or replace. command:remote:Command replaces
  on `triggers` (the SDK sets replaceOnChanges `triggers[*]`) and updates on anything else,
  re-running `create` when it has no `update` (pulumi-command v1.2.1); the bridged openstack
  resources replace on their ForceNew fields (a role assignment cannot be updated at all; users,
  services and endpoints only on `region`); the database provider never replaces (its diff);
  a replace creates the new resource before deleting the old, whose `delete` command runs then;
- an input computed from a resource that is created or replaced is unknown at preview (the new
  resource's outputs are: a replaced command gets a new id), so it counts as changed, as the
  engine counts it (a hypervisor's verification after the controller's restart is replaced);
  except a new file watch's: its provider (a dynamic one, which does not implement previews) is
  previewed with its checked inputs as outputs, so its `generation` is known (0) and the write,
  restart and verify steps that take it keep their triggers;
- a file watch (components/file_watch.py) updates in place, never replaces. Offline there is no
  refresh, so no drift: what a refresh finds on a node and the next up repairs shows only under
  the engine (`./dev refresh`, then `./dev preview`).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Optional

from tools.plan.recording import STACK_TYPE, Recording, Registration
from tools.plan.state import Digests, snapshot
from tools.plan.wire import unwrap

COMMAND = "command:remote:Command"
FILE_WATCH = "pulumi-python:dynamic/files:FileWatch"
KNOWN_AT_CREATE = frozenset({FILE_WATCH})  # types whose outputs a preview of their create knows
# Inputs whose change replaces the resource, by the provider's own schema (ForceNew).
REPLACE_KEYS: dict[str, frozenset[str]] = {
    COMMAND: frozenset({"triggers"}),
    "openstack:identity/roleAssignment:RoleAssignment": frozenset(
        {"userId", "projectId", "roleId", "domainId", "groupId", "region"}),
    "openstack:identity/user:User": frozenset({"region"}),
    "openstack:identity/serviceV3:ServiceV3": frozenset({"region"}),
    "openstack:identity/endpointV3:EndpointV3": frozenset({"region"}),
}


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


def replace_keys(r: Registration) -> frozenset[str]:
    """The input keys whose change replaces `r`: its provider's (REPLACE_KEYS) and its own
    replaceOnChanges, by top-level key."""
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


def review(old: Optional[dict], rec: Recording, stack_key: Optional[bytes] = None) -> list[Step]:
    """One step per resource of the new plan (engine order), then the deletes (reverse order).
    This plan's inputs are digested as `old`'s were (its salt and, with `stack_key`, its key).
    A resource whose URN moved is compared with its old self through its aliases, as the engine
    does: the same resource, not a create and a delete."""
    olds = old["resources"] if old else {}
    was = {r.urn: next((a for a in [r.urn, r.legacy_urn, *r.aliases] if a in olds), r.urn) for r in rec.resources()}
    new_state = snapshot(rec, digests=Digests.of(old, stack_key), digest_urns=was) if old else None
    steps = []
    runs_anew: dict[str, str] = {}  # URN -> name of each resource created or replaced so far
    for r in engine_order(rec):
        before = olds.get(was[r.urn])
        if before is None:
            if r.type not in KNOWN_AT_CREATE:
                runs_anew[r.urn] = r.name
            steps.append(Step(r.urn, r.name, r.type, "import" if r.import_id else "create",
                              consequence=_created(r)))
            continue
        moved = f"moved from {was[r.urn]} (alias)" if was[r.urn] not in (r.urn, r.legacy_urn) else ""
        after = new_state["resources"][r.urn]
        changed = {k for k in set(before["digests"]) | set(after["digests"])
                   if before["digests"].get(k) != after["digests"].get(k)}
        unknown = {k: sorted(runs_anew[u] for u in urns if u in runs_anew)
                   for k, urns in r.property_dependencies.items() if any(u in runs_anew for u in urns)}
        changed = sorted(changed | set(unknown))
        if not changed or not r.custom:
            steps.append(Step(r.urn, r.name, r.type, "same", consequence=moved))
            continue
        secret = sorted(k for k in changed if k in after["secret"] or k in before["secret"])
        replace = sorted(set(changed) & replace_keys(r))
        op = "replace" if replace else "update"
        if op == "replace":
            runs_anew[r.urn] = r.name
        after_runs = "; ".join(f"{k} known after {', '.join(names)} run again" for k, names in sorted(unknown.items()))
        steps.append(Step(r.urn, r.name, r.type, op, changed, secret, replace,
                          "; ".join(filter(None, [moved, _changed(rec, r, op, changed, secret, replace), after_runs]))))
    claimed = set(was.values())
    gone = [urn for urn in olds if urn not in claimed]
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
    if r.type == FILE_WATCH:
        return "records what the file should be; nothing runs on the node"
    return "runs its script" if r.type == COMMAND else ""


def _deleted(before: dict) -> str:
    if before["type"] == COMMAND:
        return "its delete command runs" if before["delete"] else "forgotten: it has no delete command"
    return ""


def _changed(rec: Recording, r: Registration, op: str, changed: list[str], secret: list[str],
             replace: list[str]) -> str:
    shown = ", ".join(f"{k} [secret] changed" if k in secret else f"{k} changed" for k in changed)
    if r.type == FILE_WATCH:
        return f"records what the file should now be, nothing runs on the node: {shown}"
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
