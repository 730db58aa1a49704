"""Made-up registrations for the engine's own tests: what the recording monitor would have
recorded for a small program, without running one."""
from __future__ import annotations

from typing import Iterable, Optional

from tools.plan import Recording, Registration
from tools.plan.diff import COMMAND

STACK = "urn:pulumi:test::rules::pulumi:pulumi:Stack::rules-test"


def urn(name: str, type_: str = COMMAND) -> str:
    return f"urn:pulumi:test::rules::{type_}::{name}"


def registration(name: str, inputs: Optional[dict] = None, *, type_: str = COMMAND, after: Iterable[str] = (),
                 import_id: str = "", replace_on_changes: Optional[list[str]] = None,
                 provider: str = "") -> Registration:
    """A custom resource waiting for the resources named in `after` (of any type: pass URNs for
    non-commands). Commands get the SDK's replaceOnChanges `triggers[*]`, as pulumi_command sets it."""
    deps = sorted(dep if dep.startswith("urn:") else urn(dep) for dep in after)
    if replace_on_changes is None:
        replace_on_changes = ["triggers[*]"] if type_ == COMMAND else []
    return Registration(urn=urn(name, type_), type=type_, name=name, custom=True, parent=STACK,
                        dependencies=deps, property_dependencies={}, protect=False, additional_secret_outputs=[],
                        replace_on_changes=replace_on_changes, import_id=import_id, provider=provider,
                        raw_inputs=dict(inputs if inputs is not None else {"create": f"echo {name}"}))


def recording(*registrations: Registration) -> Recording:
    stack = Registration(urn=STACK, type="pulumi:pulumi:Stack", name="rules-test", custom=False, parent="",
                         dependencies=[], property_dependencies={}, protect=False, additional_secret_outputs=[],
                         replace_on_changes=[], import_id="", provider="", raw_inputs={})
    return Recording("test", {r.urn: r for r in (stack, *registrations)}, [], {})
