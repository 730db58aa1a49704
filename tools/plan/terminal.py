"""What `./dev plan` prints by default: a summary as `pulumi preview` prints one (what changes
and why, the counts, the program's warnings), ending with where the whole plan is. The whole plan
(every resource, its inputs and scripts) is in plan.txt; `--full` prints it instead."""
from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Optional

from tools.plan.diff import Step
from tools.plan.recording import STACK_TYPE, Recording
from tools.plan.render import SYMBOLS, counts_line, summary, top_component
from tools.plan.what_if import WhatIf

LISTED_LIMIT = 40  # changes listed one per line; beyond it, counted per component


def _grouped(rec: Recording, changes: list[Step]) -> list[str]:
    """One line per kind of component and operation: `controller: 7 to create`, and for a kind
    with many components (one per hypervisor) `30 HypervisorNode components (cmp0000 ... cmp0029)`."""
    members: dict[str, set[str]] = defaultdict(set)
    ops: dict[str, Counter] = defaultdict(Counter)
    for step in changes:
        r = rec.registrations.get(step.urn)  # None: a deleted step's, gone from the program
        top = top_component(rec, r) if r is not None else None
        kind = top.type.rsplit(":", 1)[-1] if top is not None else "(deleted)"
        members[kind].add(top.name if top is not None else step.name)
        ops[kind][step.op] += 1
    lines = []
    for kind in sorted(members, key=lambda k: sorted(members[k])[0]):
        names = sorted(members[kind])
        label = names[0] if len(names) == 1 else f"{len(names)} {kind} components ({names[0]} ... {names[-1]})"
        lines.append(f"  {label}: " + ", ".join(f"{n} to {op}" for op, n in sorted(ops[kind].items())))
    return lines


def summary_text(rec: Recording, steps: list[Step], against: Optional[str], shown_files: list[Path],
                 what_if: Optional[WhatIf] = None) -> str:
    changes = [s for s in steps if s.op != "same" and s.type != STACK_TYPE]
    lines = [f"{'What-if plan' if what_if else 'Plan'} of stack {rec.stack!r}, "
             + (f"compared with {against}" if against else "compared with nothing: every resource is new")]
    if what_if:
        lines.append(what_if.line())
    if len(changes) <= LISTED_LIMIT:
        for step in changes:
            lines.append(f"{SYMBOLS[step.op]} {step.type}  {step.name}" + (f"  ({step.op})" if step.op != "create" else ""))
            if step.consequence and step.op != "create":
                lines.append(f"    {step.op}: {step.consequence}")
    else:  # hundreds of hypervisors: one line per kind of component and operation
        lines += _grouped(rec, changes)
    lines.append("Summary")
    lines.append(counts_line(steps))
    critical = summary(rec)["critical_path"]
    lines.append(f"  critical path ({len(critical)} steps): {' -> '.join(critical)}")
    lines += [d["message"].rstrip("\n") for d in rec.diagnostics]
    whole = next((p for p in shown_files if p.name == "plan.txt"), None)
    if whole is not None:
        lines.append(f"the whole plan (every resource, its inputs and scripts): {whole}; --full prints it")
    return "\n".join(lines) + "\n"
