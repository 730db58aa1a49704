"""Offline plan: run the real __main__.py under the Pulumi SDK's mock runtime and write what it
would do, without the Pulumi CLI, credentials or network.

    python -m tools.plan tutorial            # writes out/tutorial/{plan.txt,plan.json,graph.dot[,graph.svg]}

It merges Pulumi.yaml's config defaults with stacks/Pulumi.<stack>.yaml as the CLI would.
Secret values (`secure:` in a stack file, or not set at all) are not needed: each is replaced by a
placeholder that is sent as a Pulumi secret and shown as [secret] everywhere. Bad config prints
the aggregated problems and exits 2.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import runpy
import shutil
import subprocess
import sys
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

import pulumi  # noqa: E402
import pulumi.runtime.settings  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from pulumi.runtime import mocks as pulumi_mocks  # noqa: E402
from pulumi.runtime import rpc  # noqa: E402

from components.config import PROJECT, SCHEMA, ConfigError, project_defaults  # noqa: E402

SECRET_MASK = "[secret]"
STACK_TYPE = "pulumi:pulumi:Stack"
# Secrets a stack needs but the offline plan does not have: sent as secrets, never shown.
OPTIONAL_SECRETS = {"sshPrivateKey", "novaConfSecret"}


# ---------------------------------------------------------------------------------------------
# Stack configuration as the CLI would hand it to the program
# ---------------------------------------------------------------------------------------------
def stack_config(stack: str, secrets: Optional[Mapping[str, str]] = None,
                 overrides: Optional[Mapping[str, Any]] = None) -> tuple[dict[str, str], set[str]]:
    """(config map as Pulumi passes it, secret keys). `secrets` supplies real secret values
    (tests); any other secret the stack needs gets a placeholder."""
    path = PROJECT_ROOT / "stacks" / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in (PROJECT_ROOT / "stacks").glob("Pulumi.*.yaml"))
        raise SystemExit(f"no stack {stack!r}: {path} does not exist (stacks: {', '.join(known)})")
    values: dict[str, Any] = {f"{PROJECT}:{key}": value for key, value in project_defaults().items()}
    secret_keys: set[str] = set()
    for key, value in ((yaml.safe_load(path.read_text()) or {}).get("config") or {}).items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            values[full] = f"offline-plan-placeholder-{full.rpartition(':')[2]}"
            secret_keys.add(full)
        else:
            values[full] = value
    for key, spec in SCHEMA.items():
        full = f"{PROJECT}:{key}"
        if spec.secret and full not in values and key not in OPTIONAL_SECRETS:
            values[full] = f"offline-plan-placeholder-{key}"
            secret_keys.add(full)
    for key, value in (secrets or {}).items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        values[full] = value
        secret_keys.add(full)
    for key, value in (overrides or {}).items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if value is None:
            values.pop(full, None)
        else:
            values[full] = value
    as_strings = {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
    return as_strings, secret_keys


# ---------------------------------------------------------------------------------------------
# Recording the registrations
# ---------------------------------------------------------------------------------------------
def mask(value: Any) -> Any:
    """A wire value with every secret replaced by [secret] (resource refs shown by URN)."""
    if isinstance(value, dict):
        sig = value.get(rpc._special_sig_key)
        if sig == rpc._special_secret_sig:
            return SECRET_MASK
        if sig == rpc._special_output_value_sig:
            if value.get("secret"):
                return SECRET_MASK
            return mask(value.get("value"))
        if sig == rpc._special_resource_sig:
            return value.get("urn")
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    if value == rpc.UNKNOWN:
        return "(known after apply)"
    return value


def unwrap(value: Any) -> Any:
    """A wire value with secrets revealed (tests only: to check what a command would run)."""
    if isinstance(value, dict):
        sig = value.get(rpc._special_sig_key)
        if sig == rpc._special_secret_sig or sig == rpc._special_output_value_sig:
            return unwrap(value.get("value"))
        if sig == rpc._special_resource_sig:
            return value.get("urn")
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def secret_paths(value: Any, path: str = "") -> list[str]:
    if isinstance(value, dict):
        sig = value.get(rpc._special_sig_key)
        if sig == rpc._special_secret_sig or (sig == rpc._special_output_value_sig and value.get("secret")):
            return [path]
        return [p for k, v in value.items() for p in secret_paths(v, f"{path}.{k}" if path else k)]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in secret_paths(v, f"{path}[{i}]")]
    return []


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    protect: bool
    additional_secret_outputs: list[str]
    replace_on_changes: list[str]
    import_id: str
    provider: str
    raw_inputs: dict  # as on the wire (secrets wrapped)
    inputs: dict = field(default_factory=dict)  # masked
    secret_inputs: list[str] = field(default_factory=list)
    outputs: dict = field(default_factory=dict)  # component outputs (masked)


@dataclass
class Invocation:
    token: str
    args: dict


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi_mocks.Mocks):
        super().__init__(mocks)
        self.registrations: dict[str, Registration] = {}
        self.invocations: list[Invocation] = []
        self._lock = threading.Lock()

    def RegisterResource(self, req):
        response = super().RegisterResource(req)
        wire = json_format.MessageToDict(req.object, preserving_proto_field_name=True)
        record = Registration(
            urn=response.urn,
            type=req.type,
            name=req.name,
            custom=req.custom,
            parent=req.parent,
            dependencies=sorted(set(req.dependencies)),
            property_dependencies={k: sorted(set(v.urns)) for k, v in req.propertyDependencies.items()},
            protect=bool(req.protect),
            additional_secret_outputs=sorted(req.additionalSecretOutputs),
            replace_on_changes=sorted(req.replaceOnChanges),
            import_id=req.importId,
            provider=req.provider,
            raw_inputs=wire,
            inputs=mask(wire),
            secret_inputs=secret_paths(wire),
        )
        with self._lock:
            self.registrations[record.urn] = record
        return response

    def RegisterResourceOutputs(self, req):
        outputs = json_format.MessageToDict(req.outputs, preserving_proto_field_name=True)
        with self._lock:
            if req.urn in self.registrations:
                self.registrations[req.urn].outputs = mask(outputs)
        return super().RegisterResourceOutputs(req)

    def Invoke(self, request):
        args = json_format.MessageToDict(request.args, preserving_proto_field_name=True)
        with self._lock:
            self.invocations.append(Invocation(request.tok, mask(args)))
        return super().Invoke(request)


def keystone_id(kind: str, name: str) -> str:
    """A made-up id in keystone's shape (32 hex digits), stable per kind and name."""
    return hashlib.sha256(f"{kind}:{name}".encode()).hexdigest()[:32]


class PlanMocks(pulumi_mocks.Mocks):
    """Providers' computed values, made up but realistic: unique ids per type and name."""

    def new_resource(self, args: pulumi_mocks.MockResourceArgs):
        short_type = args.typ.rsplit(":", 1)[-1].lower()
        # Inputs echo back as outputs; what only the apply computes (a command's stdout) is
        # left out, so it stays unknown in this preview, as with `pulumi preview`.
        outputs = dict(args.inputs)
        return f"{short_type}-{args.name}-id", outputs

    def call(self, args: pulumi_mocks.MockCallArgs):
        if args.token == "openstack:identity/getProject:getProject":
            name = args.args.get("name")
            return {"id": keystone_id("project", name), "name": name, "domain_id": args.args.get("domain_id", "default"),
                    "enabled": True}
        if args.token == "openstack:identity/getRole:getRole":
            name = args.args.get("name")
            return {"id": keystone_id("role", name), "name": name, "domain_id": args.args.get("domain_id", "")}
        return {}


@dataclass
class Recording:
    stack: str
    registrations: dict[str, Registration]
    invocations: list[Invocation]
    outputs: dict

    # -- queries used by the plan and the tests ----------------------------------------------
    def resources(self) -> list[Registration]:
        return sorted(self.registrations.values(), key=lambda r: r.urn)

    def by_name(self, name: str) -> Registration:
        found = [r for r in self.registrations.values() if r.name == name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources named {name!r}: {[r.urn for r in found]}")
        return found[0]

    def of_type(self, type_: str) -> list[Registration]:
        return sorted((r for r in self.registrations.values() if r.type == type_), key=lambda r: r.name)

    def children(self, urn: str) -> list[Registration]:
        return sorted((r for r in self.registrations.values() if r.parent == urn), key=lambda r: r.name)

    def depends(self, dependent: str, dependency: str) -> bool:
        """Does resource `dependent` (by name) wait for `dependency` (by name), directly?"""
        return self.by_name(dependency).urn in self.by_name(dependent).dependencies

    def waits_for(self, dependent: str, dependency: str) -> bool:
        """Transitively."""
        target = self.by_name(dependency).urn
        seen, todo = set(), [self.by_name(dependent).urn]
        while todo:
            urn = todo.pop()
            for dep in self.registrations[urn].dependencies if urn in self.registrations else ():
                if dep == target:
                    return True
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return False

    def levels(self) -> dict[str, int]:
        """Level of each custom resource: 0 when it waits for nothing, else 1 + its deepest
        dependency. Resources on one level can run in parallel."""
        custom = {r.urn: r for r in self.registrations.values() if r.custom}
        memo: dict[str, int] = {}

        def level(urn: str, trail: frozenset = frozenset()) -> int:
            if urn in memo:
                return memo[urn]
            if urn in trail:
                raise RuntimeError(f"dependency cycle through {urn}")
            deps = [d for d in custom[urn].dependencies if d in custom]
            memo[urn] = 1 + max((level(d, trail | {urn}) for d in deps), default=-1)
            return memo[urn]

        for urn in custom:
            level(urn)
        return memo

    def critical_path(self) -> list[str]:
        levels = self.levels()
        if not levels:
            return []
        urn = max(levels, key=lambda u: (levels[u], u))
        path = [urn]
        while levels[urn] > 0:
            deps = [d for d in self.registrations[urn].dependencies if d in levels]
            urn = max(deps, key=lambda u: (levels[u], u))
            path.append(urn)
        return list(reversed(path))


def run_program(stack: str, config: Mapping[str, str], secret_keys: set[str], preview: bool = True) -> Recording:
    """Run __main__.py for `stack` under mocks; raises ConfigError for bad config. With
    preview=False every value computed from inputs is resolved (what an apply would send)."""
    pulumi.runtime.settings.ROOT.set(None)
    monitor = RecordingMonitor(PlanMocks())
    pulumi_mocks.set_mocks(monitor.mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)
    pulumi.runtime.set_all_config(dict(config), sorted(secret_keys))
    failure: list[BaseException] = []

    @pulumi.runtime.test
    def program():
        try:
            runpy.run_path(str(PROJECT_ROOT / "__main__.py"), run_name="__main__")
        except BaseException as exc:  # surfaced after the runtime settles
            failure.append(exc)

    program()
    if failure:
        exc = failure[0]
        if isinstance(exc, pulumi.RunError) and isinstance(exc.__cause__, ConfigError):
            raise exc.__cause__
        raise exc
    stack_urn = next((r.urn for r in monitor.registrations.values() if r.type == STACK_TYPE), None)
    outputs = monitor.registrations[stack_urn].outputs if stack_urn else {}
    return Recording(stack, dict(monitor.registrations), list(monitor.invocations), outputs)


# ---------------------------------------------------------------------------------------------
# Writing the plan
# ---------------------------------------------------------------------------------------------
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
            },
        })
    return {"config": {}, "steps": steps, "changeSummary": {"create": len(steps)}, "outputs": rec.outputs}


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
        for key in sorted(r.inputs):
            if key in ("__defaults", "__provider"):  # SDK bookkeeping (the pickled provider)
                continue
            value = r.inputs[key]
            if isinstance(value, str) and "\n" in value:
                lines.append(f"    {key}:")
                lines += _text_value(value, "    ")
            else:
                lines.append(f"    {key}: {json.dumps(value, sort_keys=True)}")
        for key in sorted(r.outputs) if not r.custom else ():
            value = r.outputs[key]
            if isinstance(value, str) and "\n" in value:
                lines.append(f"    output {key}:")
                lines += _text_value(value, "    ")
            else:
                lines.append(f"    output {key}: {json.dumps(value, sort_keys=True)}")
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


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.plan", description=__doc__.split("\n\n")[0])
    parser.add_argument("stack", help="stack name (stacks/Pulumi.<stack>.yaml)")
    parser.add_argument("--out", type=Path, help="output folder (default out/<stack>)")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="plan with a config value changed (VALUE parsed as JSON when it is JSON)")
    args = parser.parse_args(argv)
    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set {item!r}: use KEY=VALUE")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    config, secret_keys = stack_config(args.stack, overrides=overrides)
    try:
        rec = run_program(args.stack, config, secret_keys)
    except ConfigError as err:
        print(f"stack {args.stack!r}: {err}", file=sys.stderr)
        return 2
    out = args.out or PROJECT_ROOT / "out" / args.stack
    written = write_plan(rec, out)
    text = (out / "plan.txt").read_text()
    print(text[text.index("Summary"):] if args.quiet else text, end="")
    print("wrote " + ", ".join(str(p.relative_to(PROJECT_ROOT) if p.is_relative_to(PROJECT_ROOT) else p) for p in written))
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: the SDK's event loops otherwise print a harmless but alarming
    # "Invalid file descriptor" traceback while being garbage-collected.
    os._exit(code)
