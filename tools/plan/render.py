"""The plan's three renderings of a recording: text for people, JSON in the shape of
`pulumi preview --json`, and a Graphviz graph."""
from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter, defaultdict
from pathlib import Path
import functools
import importlib.metadata
from typing import Any, Optional

from components.ssh_keys import ssh_key_fingerprint
from tools.plan.diff import Step, counts, review
from tools.plan.files import private_dir, write_private
from tools.plan.recording import STACK_TYPE, Recording, Registration
from tools.plan.what_if import WhatIf
from tools.plan.wire import unwrap


def short(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


@functools.cache
def _command_version() -> str:
    """The installed pulumi-command's version, as its default provider's name spells it (read
    once: the package metadata lookup cost most of a 100-hypervisor plan's rendering)."""
    return importlib.metadata.version("pulumi-command").replace(".", "_")


def default_providers(rec: Recording) -> dict[str, str]:
    """type prefix -> URN of the default provider the engine creates for resources that name
    none (the command package's versioned one, the dynamic providers' pulumi-python)."""
    base = f"urn:pulumi:{rec.stack}::openstack-nova::pulumi:providers:"
    version = _command_version()
    return {"command:": f"{base}command::default_{version}", "pulumi-python:dynamic": f"{base}pulumi-python::default"}


def _provider_of(rec: Recording, r: Registration) -> Optional[str]:
    if r.provider or not r.custom or r.type.startswith("pulumi:providers:"):
        return r.provider or None
    return next((f"{urn}::04da6b54-80e4-46f7-96ec-b56ff0331ba9" for prefix, urn in default_providers(rec).items()
                 if r.type.startswith(prefix)), None)


def plan_json(rec: Recording, steps: Optional[list[Step]] = None, old: Optional[dict] = None,
              what_if: Optional[WhatIf] = None) -> dict:
    """`pulumi preview --json`: steps in engine order (default providers first), each with its
    op, and for changes the reasons; the config with secrets as [secret]; the program's warnings
    and errors as `diagnostics`. A what-if says so (`whatIf`: what was set, where the kept plan is)."""
    steps = steps if steps is not None else review(None, rec)
    olds = (old or {}).get("resources", {})
    defaults = tuple(default_providers(rec).values())
    used = sorted({p.rsplit("::", 1)[0] for r in rec.resources() for p in [_provider_of(rec, r)]
                   if p and p.startswith(defaults)})
    out = [{"op": "same" if olds else "create", "urn": urn,
            "newState": {"urn": urn, "type": urn.split("::")[2], "custom": True}} for urn in used]
    for step in steps:
        entry = {"op": step.op, "urn": step.urn}
        r = rec.registrations.get(step.urn)
        if r is not None:
            entry["provider"] = _provider_of(rec, r)
            entry["newState"] = _new_state(rec, r)
        if step.urn in olds and step.op != "same":
            entry["oldState"] = {"urn": step.urn, "type": step.type, "inputs": olds[step.urn]["inputs"]}
        if step.op in ("update", "replace"):
            entry["diffReasons"] = step.changed
            entry["replaceReasons"] = step.replace_keys
            entry["detailedDiff"] = {k: {"kind": "update-replace" if k in step.replace_keys else "update",
                                         "inputDiff": True} for k in step.changed}
        out.append(entry)
    summary_counts = {op: n for op, n in counts(steps).items() if n}
    digest = {"config": rec.config, "steps": out, "changeSummary": summary_counts}
    if rec.diagnostics:  # omitted when empty, as the CLI's `omitempty` does
        digest["diagnostics"] = rec.diagnostics
    if what_if:
        digest["whatIf"] = what_if.as_json()
    return digest


def _new_state(rec: Recording, r: Registration) -> dict:
    return {
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
    }


def top_component(rec: Recording, r: Registration) -> Registration:
    """The top-level component a resource belongs to (its ancestor just under the stack)."""
    node = r
    while node.parent and node.parent in rec.registrations and rec.registrations[node.parent].type != STACK_TYPE:
        node = rec.registrations[node.parent]
    return node


def _component_of(rec: Recording, r: Registration) -> str:
    node = top_component(rec, r)
    return node.name if node.type != STACK_TYPE else "(stack)"


def counts_line(steps: list[Step]) -> str:
    n = counts(steps)
    return (f"  {n['create'] + n['import']} to create ({n['import']} by import), {n['update']} to update, "
            f"{n['replace']} to replace, {n['delete']} to delete, {n['same']} unchanged")


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


SYMBOLS = {"create": "+", "import": "=", "update": "~", "replace": "+-", "delete": "-", "same": " "}


def ssh_target(r: Registration) -> Optional[str]:
    """The non-secret parts of a command's connection: user@host:port, the jump host, and the
    pinned host keys' fingerprints (the private key is never shown)."""
    connection = unwrap(r.raw_inputs).get("connection")
    if not isinstance(connection, dict):
        return None

    def one(c: dict) -> str:
        key = c.get("hostKey")
        pinned = f"host key {ssh_key_fingerprint(key)}" if key else "host key NOT pinned"
        port = int(c.get("port", 22))
        return f"{c.get('user')}@{c.get('host')}:{port} ({pinned})"

    proxy = connection.get("proxy")
    return one(connection) + (f" via {one(proxy)}" if isinstance(proxy, dict) else "")


def plan_text(rec: Recording, steps: Optional[list[Step]] = None, against: Optional[str] = None,
              what_if: Optional[WhatIf] = None) -> str:
    s = summary(rec)
    levels = rec.levels()
    steps = steps if steps is not None else review(None, rec)
    by_urn = {step.urn: step for step in steps}
    lines = [f"{'What-if plan' if what_if else 'Offline plan'} of stack {rec.stack!r} "
             f"({s['resources']} resources, nothing applied)",
             *([what_if.line()] if what_if else []),
             f"compared with {against}" if against else "compared with nothing: every resource is new",
             *(d["message"].rstrip("\n") for d in rec.diagnostics), ""]
    for r in rec.resources():
        if r.type == STACK_TYPE:
            continue
        step = by_urn[r.urn]
        lines.append(f"{SYMBOLS[step.op]} {r.type}  {r.name}" + (f"  ({step.op})" if step.op != "create" else ""))
        if step.consequence and step.op != "create":
            lines.append(f"    {step.op}: {step.consequence}")
        target = ssh_target(r) if r.type == "command:remote:Command" else None
        if target:
            lines.append(f"    ssh: {target}")
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
    for step in steps:
        if step.op == "delete":
            lines += [f"- {step.type}  {step.name}  (delete)", f"    delete: {step.consequence or 'removed'}", ""]
    lines.append("Summary")
    lines.append(counts_line(steps))
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


def plan_dot(rec: Recording, what_if: Optional[WhatIf] = None) -> str:
    lines = ["digraph plan {", "  rankdir=LR;", "  node [shape=box, fontsize=10];"]
    if what_if:  # a graph label: it shows in the drawing too
        lines.append(f"  labelloc=t; label={json.dumps(what_if.line())};")
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


PLAN_FILES = ("plan.txt", "plan.json", "graph.dot", "graph.svg")  # what write_plan may write


GRAPHVIZ_MISSING = "graph.svg not written: Graphviz' dot is not installed (apt-get install graphviz)"


def write_plan(rec: Recording, out: Path, steps: list[Step], old: Optional[dict] = None,
               against: Optional[str] = None, what_if: Optional[WhatIf] = None) -> list[Path]:
    """plan.txt, plan.json, graph.dot (and graph.svg when Graphviz is installed) in `out`: each
    0600, written atomically, in a folder made (or tightened to) 0700 (tools/plan/files.py);
    `steps`: the review of `rec` against `old`. A what-if says so in each file."""
    private_dir(out)
    written = []
    dot = plan_dot(rec, what_if)
    for name, content in (("plan.txt", plan_text(rec, steps, against, what_if)),
                          ("plan.json", json.dumps(plan_json(rec, steps, old, what_if), indent=2, sort_keys=True) + "\n"),
                          ("graph.dot", dot)):
        written.append(write_private(out / name, content))
    if shutil.which("dot"):  # dot's own -o would create the file with the umask's mode
        svg = subprocess.run(["dot", "-Tsvg"], input=dot.encode(), capture_output=True, check=True).stdout
        written.append(write_private(out / "graph.svg", svg))
    return written
