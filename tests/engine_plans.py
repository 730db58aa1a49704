"""What the real engine plans beside what the offline plan (`./dev plan`) says, one row per
resource: its operation, type, parent and dependencies.

The engine's side is the plan file `pulumi preview --save-plan` writes (the Automation API's
`preview(plan=PATH)`): per URN the steps the engine would take and the goal state it registered
(pkg/resource/plan.go in pulumi/pulumi: `ResourcePlan{Goal, Steps}`). The offline side is
tools/plan/diff.review of one recording against the state another left (tools/plan/state.py).
Where the two differ the engine is right, and the test that compares them fails naming each
resource whose row differs."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from tools.plan.diff import review
from tools.plan.recording import Recording
from tools.plan.state import snapshot

# The offline review's secret digests need a key; any fixed one compares a plan with its own
# earlier state (the stack's passphrase is not what is being tested here).
REVIEW_KEY = b"engine-plans: the offline review's digest key"

# The engine's step lists (pkg/resource/deploy/step.go's StepOp names) as one operation, as the
# offline review names it: a create-before-delete replace is three steps of one resource.
ENGINE_OPS = {("same",): "same", ("create",): "create", ("update",): "update", ("delete",): "delete",
              ("import",): "import", ("create-replacement", "replace", "delete-replaced"): "replace"}


@dataclass(frozen=True)
class Planned:
    op: str
    type: str
    parent: Optional[str]  # None for a delete: its goal is the old state, not part of this plan
    dependencies: Optional[frozenset]

    def __str__(self) -> str:
        deps = sorted(u.rsplit("::", 1)[-1] for u in self.dependencies or ())
        parent = (self.parent or "").rsplit("::", 1)[-1]
        return f"{self.op} {self.type} parent={parent or '-'} dependencies={deps}"


def urn_type(urn: str) -> str:
    return urn.split("::")[2].split("$")[-1]


def _default_provider(urn: str) -> bool:
    """The engine's own default providers: the offline plan does not register them."""
    return urn_type(urn).startswith("pulumi:providers:") and urn.rsplit("::", 1)[-1].startswith("default")


def engine_plan(path: Path) -> dict[str, Planned]:
    """The rows of a plan file the engine wrote."""
    rows = {}
    for urn, planned in json.loads(Path(path).read_text())["resourcePlans"].items():
        if _default_provider(urn):
            continue
        steps = tuple(planned.get("steps") or ())
        op = ENGINE_OPS.get(steps, "+".join(steps))
        goal = planned.get("goal") or {}
        if op == "delete":
            rows[urn] = Planned(op, urn_type(urn), None, None)
        else:
            rows[urn] = Planned(op, goal.get("type", urn_type(urn)), goal.get("parent", ""),
                                frozenset(goal.get("dependencies") or ()))
    return rows


def offline_plan(new: Recording, old: Optional[Recording] = None) -> dict[str, Planned]:
    """The rows of the offline review of `new` against the state `old` left (None: a new stack)."""
    state = snapshot(old, REVIEW_KEY) if old is not None else None
    rows = {}
    for step in review(state, new, REVIEW_KEY):
        r = new.registrations.get(step.urn)
        if step.op == "delete" or r is None:
            rows[step.urn] = Planned("delete", step.type, None, None)
        else:
            rows[step.urn] = Planned(step.op, r.type, r.parent, frozenset(r.dependencies))
    return rows


def disagreements(engine: dict[str, Planned], offline: dict[str, Planned]) -> list[str]:
    """One line per resource whose row differs (empty when the two plans agree)."""
    lines = []
    for urn in sorted(set(engine) | set(offline)):
        mine, theirs = offline.get(urn), engine.get(urn)
        if mine != theirs:
            lines.append(f"{urn.rsplit('::', 1)[-1]}: offline {mine or 'absent'}; engine {theirs or 'absent'}")
    return lines
