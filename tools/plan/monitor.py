"""Run the real __main__.py in-process under the Pulumi SDK's mock runtime and record every
registration (the raw RegisterResource request: parent, dependencies, inputs with secrets
still wrapped) and invoke."""
from __future__ import annotations

import hashlib
import runpy
import threading
from typing import Callable, Mapping, Optional

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime import stack as pulumi_stack
from pulumi.runtime.proto import engine_pb2

from components.config import PROJECT, ConfigError
from tools.plan.paths import PROJECT_ROOT
from tools.plan.recording import STACK_TYPE, Invocation, Recording, Registration
from tools.plan.wire import SECRET_MASK, mask, secret_paths


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi_mocks.Mocks):
        super().__init__(mocks)
        self.registrations: dict[str, Registration] = {}
        self.invocations: list[Invocation] = []
        self._lock = threading.Lock()
        self.on_registered: Optional[Callable[[int], None]] = None  # told the count after each registration

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
            aliases=self._old_urns(req, response.urn),
            # What the SDK's mock monitor would have named it: the URN plans of this tool kept
            # before they made the engine's URNs (a state of then is compared under it).
            legacy_urn=super().make_urn(req.parent, req.type, req.name),
        )
        with self._lock:
            self.registrations[record.urn] = record
        if self.on_registered:
            self.on_registered(len(self.registrations))
        return response

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """The engine's URN (pkg/resource/deploy/deployment.go generateURN): the parent's whole
        qualified type before the resource's own, except the root stack's. (The SDK's mock
        monitor keeps only the parent's last type and prefixes the stack's: URNs no engine makes.)"""
        if parent:
            qualified = parent.split("::")[2]
            if qualified != STACK_TYPE:
                type_ = f"{qualified}${type_}"
        return "urn:pulumi:" + "::".join([pulumi.get_stack(), pulumi.get_project(), type_, name])

    def _old_urns(self, req, urn: str) -> list[str]:
        """The URNs the resource had before: its `aliases` and those its parent's aliases give it
        (as the engine derives a child's aliases), in the engine's URN scheme and in the SDK mock
        monitor's, under which plans of this tool kept their state before."""
        old = set(req.aliasURNs)
        schemes = (self.make_urn, super().make_urn)
        for alias in req.aliases:
            if alias.urn:
                old.add(alias.urn)
                continue
            spec = alias.spec
            parent = "" if spec.noParent else (spec.parentUrn or req.parent)
            old.update(make(parent, spec.type or req.type, spec.name or req.name) for make in schemes)
        with self._lock:
            parent = self.registrations.get(req.parent)
        for old_parent in parent.aliases if parent else ():
            old.update(make(old_parent, req.type, req.name) for make in schemes)
        old.discard(urn)
        return sorted(old)

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


class RecordingEngine:
    """Where the CLI's engine takes the program's log messages (`pulumi.log.warn` and the like):
    kept as `pulumi preview --json` lists them under `diagnostics` (pkg/backend/display/json.go:
    the message with its severity's prefix, as diag.Sink's Stringify writes it, and a newline;
    debug and ephemeral messages left out; info without a prefix)."""

    SEVERITIES = {engine_pb2.INFO: "info", engine_pb2.WARNING: "warning", engine_pb2.ERROR: "error"}

    def __init__(self):
        self.diagnostics: list[dict] = []

    def Log(self, request):
        severity = self.SEVERITIES.get(request.severity)
        if severity is None or request.ephemeral:
            return
        prefix = "" if severity == "info" else f"{severity}: "
        entry = {"message": f"{prefix}{request.message}\n", "severity": severity}
        if request.urn:
            entry["urn"] = request.urn
        self.diagnostics.append(entry)


def keystone_id(kind: str, name: str) -> str:
    """A made-up id in keystone's shape (32 hex digits), stable per kind and name."""
    return hashlib.sha256(f"{kind}:{name}".encode()).hexdigest()[:32]


FILE_WATCH = "pulumi-python:dynamic/files:FileWatch"
# In an apply, what a command prints when the program reads it: virt type detection on a host
# with hardware virtualisation (tests pass their own answers).
APPLY_STDOUT = {"detect-virt": "kvm"}


class PlanMocks(pulumi_mocks.Mocks):
    """Providers' computed values, made up but realistic: unique ids per type and name."""

    def __init__(self, preview: bool = True, apply_stdout: Mapping[str, str] = APPLY_STDOUT):
        self.preview = preview
        self.apply_stdout = apply_stdout

    def new_resource(self, args: pulumi_mocks.MockResourceArgs):
        short_type = args.typ.rsplit(":", 1)[-1].lower()
        # Inputs echo back as outputs. What only the apply computes (a command's stdout) is
        # left out of a preview, so it stays unknown, as with `pulumi preview`; an apply gets
        # the command's printed text (trailing newline trimmed, as the provider does).
        outputs = dict(args.inputs)
        if args.typ == FILE_WATCH:
            # A new file watch, as its provider answers a create (components/file_watch.py), at a
            # preview too: the engine previews it with its checked inputs, generation included.
            outputs.update(generation=0, drift="")
        if not self.preview and args.typ == "command:remote:Command":
            step = next((k for k in self.apply_stdout if args.name.endswith(f"-{k}")), None)
            outputs.update(stdout=self.apply_stdout[step] if step else "", stderr="")
        return f"{short_type}-{args.name}-id", outputs

    def call(self, args: pulumi_mocks.MockCallArgs):
        if args.token == "openstack:identity/getProject:getProject":
            name = args.args.get("name")
            return {"id": keystone_id("project", name), "name": name, "domainId": args.args.get("domainId", "default"),
                    "enabled": True}
        if args.token == "openstack:identity/getRole:getRole":
            name = args.args.get("name")
            return {"id": keystone_id("role", name), "name": name, "domainId": args.args.get("domainId", "")}
        return {}


def run_program(stack: str, config: Mapping[str, str], secret_keys: set[str], preview: bool = True,
                apply_stdout: Mapping[str, str] = APPLY_STDOUT,
                on_registered: Optional[Callable[[int], None]] = None) -> Recording:
    """Run __main__.py for `stack` under mocks; raises ConfigError for bad config. With
    preview=False every value computed from inputs is resolved (what an apply would send), the
    commands' output taken from `apply_stdout` (step name suffix -> stdout). `on_registered` is
    told how many resources are registered after each registration (progress)."""
    pulumi.runtime.reset_options(project=PROJECT, stack=stack, preview=preview)  # no root stack resource yet
    monitor = RecordingMonitor(PlanMocks(preview, apply_stdout))
    monitor.on_registered = on_registered
    pulumi_mocks.set_mocks(monitor.mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)
    engine = pulumi_settings.SETTINGS.engine = RecordingEngine()  # the mock engine only logs them
    pulumi.runtime.set_all_config(dict(config), sorted(secret_keys))
    failure: list[BaseException] = []

    @pulumi.runtime.test
    def program():
        try:
            runpy.run_path(str(PROJECT_ROOT / "__main__.py"), run_name="__main__")
            # What the CLI's language host does when the program returns: register the
            # stack's exports as its outputs (the mock runtime's test wrapper does not).
            root = pulumi.runtime.get_root_resource()
            root.register_outputs(pulumi_stack.massage(root.outputs, []))
        except BaseException as exc:  # surfaced after the runtime settles
            failure.append(exc)

    program()
    if failure:
        exc = failure[0]
        if isinstance(exc, pulumi.RunError) and isinstance(exc.__cause__, ConfigError):
            exc = exc.__cause__
        # What the program had registered before it failed (the stack itself aside): under the
        # real engine each of these would already be a step under way.
        exc.registered = sorted(r.urn for r in monitor.registrations.values() if r.type != STACK_TYPE)
        raise exc
    stack_urn = next((r.urn for r in monitor.registrations.values() if r.type == STACK_TYPE), None)
    outputs = monitor.registrations[stack_urn].outputs if stack_urn else {}
    shown = {key: SECRET_MASK if key in secret_keys else value for key, value in sorted(config.items())}
    return Recording(stack, dict(monitor.registrations), list(monitor.invocations), outputs, shown,
                     engine.diagnostics)


