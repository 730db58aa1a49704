"""The plan's three renderings of a recording: text for people, JSON in the shape of
`pulumi preview --json`, and a Graphviz graph."""
from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from tools.plan.recording import STACK_TYPE, Recording, Registration


def short(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def plan_json(rec: Recording) -> dict:
    steps = []
    for r in rec.resources():
        steps.append({
            "op": "create",
            "urn": r.urn,
            "provider": r.provider or None,
            "newState": {
                "urn": r.urn,
                "type": r.type,
                "custom": r.custom,
                "parent": r.parent or None,
                "protect": r.protect,
                "dependencies": r.dependencies,
                "propertyDependencies": r.property_dependencies,
                "inputs": r.inputs,
                "additionalSecretOutputs": r.additional_secret_outputs,
                "importID": r.import_id or None,
                # as in `pulumi preview --json`: the stack's exports are its resource's outputs
                **({"outputs": rec.outputs} if r.type == STACK_TYPE else {}),
            },
        })
    return {"config": {}, "steps": steps, "changeSummary": {"create": len(steps)}}


def _component_of(rec: Recording, r: Registration) -> str:
    """The top-level component a resource belongs to (its ancestor just under the stack)."""
    node = r
    while node.parent and node.parent in rec.registrations and rec.registrations[node.parent].type != STACK_TYPE:
        node = rec.registrations[node.parent]
    return node.name if node.type != STACK_TYPE else "(stack)"


def summary(rec: Recording) -> dict:
    levels = rec.levels()
    per_component = Counter(_component_of(rec, r) for r in rec.resources() if r.custom)
    by_level: dict[int, list[str]] = defaultdict(list)
    for urn, lvl in levels.items():
        by_level[lvl].append(short(urn))
    return {
        "resources": len(rec.registrations),
        "custom_resources": len(levels),
        "per_component": dict(sorted(per_component.items())),
        "dependency_levels": (max(levels.values()) + 1) if levels else 0,
        "critical_path": [short(u) for u in rec.critical_path()],
        "by_level": {lvl: sorted(names) for lvl, names in sorted(by_level.items())},
    }


def _text_value(value: Any, indent: str) -> list[str]:
    if isinstance(value, str) and "\n" in value:
        return [f"{indent}  | {line}" for line in value.rstrip("\n").split("\n")]
    return []


def _fields(label: str, values: dict) -> list[str]:
    """One line per key; multi-line text (scripts, rendered files) shown in full below its key."""
    lines = []
    for key in sorted(values):
        value = values[key]
        if isinstance(value, str) and "\n" in value:
            lines.append(f"    {label}{key}:")
            lines += _text_value(value, "    ")
        else:
            lines.append(f"    {label}{key}: {json.dumps(value, sort_keys=True)}")
    return lines


def plan_text(rec: Recording) -> str:
    s = summary(rec)
    levels = rec.levels()
    lines = [f"Offline plan of stack {rec.stack!r} ({s['resources']} resources, nothing applied)", ""]
    for r in rec.resources():
        if r.type == STACK_TYPE:
            continue
        lines.append(f"+ {r.type}  {r.name}")
        if r.parent and r.parent in rec.registrations:
            lines.append(f"    parent: {short(r.parent)}")
        if r.custom:
            lines.append(f"    level: {levels.get(r.urn)}")
        if r.dependencies:
            lines.append(f"    depends on: {', '.join(sorted(short(d) for d in r.dependencies))}")
        if r.protect:
            lines.append("    protect: true")
        if r.import_id:
            lines.append(f"    import: {r.import_id}")
        if r.additional_secret_outputs:
            lines.append(f"    secret outputs: {', '.join(r.additional_secret_outputs)}")
        # (__defaults, __provider: SDK bookkeeping, the pickled provider)
        lines += _fields("", {k: v for k, v in r.inputs.items() if k not in ("__defaults", "__provider")})
        lines += _fields("output ", r.outputs) if not r.custom else []
        lines.append("")
    lines.append("Summary")
    lines.append(f"  resources: {s['resources']} ({s['custom_resources']} that do work)")
    for comp, count in s["per_component"].items():
        lines.append(f"  {comp}: {count}")
    lines.append(f"  dependency levels (steps that can run in parallel): {s['dependency_levels']}")
    for lvl, names in s["by_level"].items():
        lines.append(f"    level {lvl}: {', '.join(names)}")
    lines.append(f"  critical path ({len(s['critical_path'])} steps): {' -> '.join(s['critical_path'])}")
    if rec.outputs:
        lines.append("Outputs")
        for key, value in sorted(rec.outputs.items()):
            lines.append(f"  {key}: {json.dumps(value, sort_keys=True)}")
    return "\n".join(lines) + "\n"


def _dot_id(urn: str) -> str:
    return json.dumps(short(urn))


def plan_dot(rec: Recording) -> str:
    lines = ["digraph plan {", "  rankdir=LR;", "  node [shape=box, fontsize=10];"]
    groups: dict[str, list[Registration]] = defaultdict(list)
    for r in rec.resources():
        if r.custom:
            groups[_component_of(rec, r)].append(r)
    for i, (comp, members) in enumerate(sorted(groups.items())):
        lines.append(f"  subgraph cluster_{i} {{ label={json.dumps(comp)};")
        for r in members:
            lines.append(f"    {_dot_id(r.urn)} [label={json.dumps(r.name + chr(10) + r.type.rsplit(':', 1)[-1])}];")
        lines.append("  }")
    custom = {r.urn for r in rec.resources() if r.custom}
    for r in rec.resources():
        if r.urn in custom:
            for dep in r.dependencies:
                if dep in custom:
                    lines.append(f"  {_dot_id(dep)} -> {_dot_id(r.urn)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_plan(rec: Recording, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in (("plan.txt", plan_text(rec)), ("plan.json", json.dumps(plan_json(rec), indent=2, sort_keys=True) + "\n"),
                          ("graph.dot", plan_dot(rec))):
        (out / name).write_text(content)
        written.append(out / name)
    if shutil.which("dot"):
        subprocess.run(["dot", "-Tsvg", str(out / "graph.dot"), "-o", str(out / "graph.svg")], check=True)
        written.append(out / "graph.svg")
    return written

