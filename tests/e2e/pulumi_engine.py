"""The e2e stack applied by the real Pulumi engine: the CLI (tools/toolchain.sh), the program
inline through the Automation API, the provider doubles (tests/doubles) or NOVA_E2E_PLUGINS' real
plugins. Every apply is what a user's `./dev up` is: a preview, then `up`, of the stack whose
config and secrets were set through the Automation API's config calls (secrets as secrets).

It offers the tests what they ask of a deployment: per apply, the steps the engine ran with
their operation (`history`), each step's output and timing (`results`: its outputs as the state
holds them, decrypted through `stack export --show-secrets`), the stack's resources (`state`),
the process lists seen while it ran (`ps_snapshots`), and what the engine printed."""
from __future__ import annotations

import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Optional

import pulumi.automation as auto

from lab.support.common import PROGRESS_AFTER_S, progress
from tests.engine_plans import engine_plan
from tools.engine.workspace import preview, select, set_config
from tools.plan import PROJECT_ROOT

# The engine's operations as the tests name them: a create-before-delete replace is one
# "replace" (its new resource's create) and, at the end, the old one's "delete-replaced".
OPS = {"create": "create", "update": "update", "delete": "delete", "create-replacement": "replace",
       "delete-replaced": "delete-replaced", "import": "import"}


class EngineError(RuntimeError):
    """A failed preview or up, with what the engine printed."""


@dataclass
class StepResult:
    name: str
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    op: str = ""
    started: float = 0.0  # seconds after the apply started


@dataclass
class Applied:
    label: str
    steps: list  # SimpleNamespace(name, op)
    wall: float
    results: dict = field(default_factory=dict)  # name -> StepResult, of this apply
    providers: list = field(default_factory=list)  # the provider steps (a default provider's update)
    planned: dict = field(default_factory=dict)  # URN -> tests.engine_plans.Planned: its preview's plan
    rec: Any = None  # the offline recording of the config applied (None: the config as it was)


@dataclass
class StackEngine:
    stack_name: str
    engine: Any  # tests.engine_support.Engine: env with the toolchain and the providers
    work: Path
    results: dict[str, StepResult] = field(default_factory=dict)
    history: list[Applied] = field(default_factory=list)
    ps_snapshots: list[str] = field(default_factory=list)
    printed: list[str] = field(default_factory=list)
    # the running (or last) apply's steps, name -> seconds after it started: begun, and done
    # (a failed step never is), for a test that acts while a step runs or looks after a failure
    began: dict[str, float] = field(default_factory=dict)
    done: dict[str, float] = field(default_factory=dict)
    _stack: Any = None

    @property
    def provider_output(self) -> bytes:
        return "".join(self.printed).encode()

    def _select(self):
        if self._stack is None:
            (self.work / "stacks").mkdir(parents=True, exist_ok=True)
            shutil.copy(PROJECT_ROOT / "Pulumi.yaml", self.work)
            shutil.copy(PROJECT_ROOT / "stacks" / f"Pulumi.{self.stack_name}.yaml", self.work / "stacks")
            env = {**self.engine.env, "PYTHONPATH": str(PROJECT_ROOT)}  # the database provider's module
            self._stack = select(self.stack_name, env, work_dir=self.work)
        return self._stack

    def _configure(self, rec) -> None:
        """The stack's config becomes exactly the recording's (secrets on the CLI's stdin)."""
        set_config(self._select(), rec.applied_config.values, rec.applied_config.secret_keys)

    def exported(self) -> list[dict]:
        return self._select().export_stack().deployment.get("resources") or []

    @property
    def state(self) -> dict[str, SimpleNamespace]:
        return {r["urn"]: SimpleNamespace(name=r["urn"].rsplit("::", 1)[-1], custom=r.get("custom", False))
                for r in self.exported() if not r["type"].startswith(("pulumi:pulumi:Stack", "pulumi:providers:"))}

    def _run(self, label: str, operation, **kwargs) -> list[str]:
        steps: list[SimpleNamespace] = []
        providers: list[SimpleNamespace] = []
        results: dict[str, StepResult] = {}
        began: dict[str, float] = {}
        self.began, self.done = {}, {}
        t0 = time.monotonic()

        def on_event(event) -> None:
            now = time.monotonic() - t0
            if event.resource_pre_event and event.resource_pre_event.metadata.op in OPS:
                began[event.resource_pre_event.metadata.urn] = now
                self.began.setdefault(event.resource_pre_event.metadata.urn.rsplit("::", 1)[-1], now)
            done = event.res_outputs_event
            if done and done.metadata.op in OPS:
                meta = done.metadata
                name, op = meta.urn.rsplit("::", 1)[-1], OPS[meta.op]
                if meta.type.startswith("pulumi:providers:"):  # configures a plugin, deploys nothing
                    providers.append(SimpleNamespace(name=name, op=op))
                    return
                if not (meta.new or meta.old).custom:  # a component: bookkeeping, no step of its own
                    return
                steps.append(SimpleNamespace(name=name, op=op))
                self.done.setdefault(name, now)
                start = began.get(meta.urn, now)
                if op != "delete-replaced" or name not in results:  # a step's result is its new resource's run
                    results[name] = StepResult(name, op=op, started=start, seconds=now - start)
                if now - start >= PROGRESS_AFTER_S:
                    progress(f"{label}: {name} {op} in {now - start:.0f} s")

        watching = threading.Event()
        watcher = threading.Thread(target=self._watch_processes, args=(watching,), daemon=True)
        watcher.start()
        try:
            operation(on_output=self.printed.append, on_event=on_event, color="never", **kwargs)
        except auto.errors.CommandError as err:
            raise EngineError(f"{label}: {err}") from None
        finally:
            watching.set()
            watcher.join()
        outputs = {r["urn"].rsplit("::", 1)[-1]: r.get("outputs") or {} for r in self.exported()}
        for name, result in results.items():
            result.stdout = str(outputs.get(name, {}).get("stdout", ""))
            result.stderr = str(outputs.get(name, {}).get("stderr", ""))
        self.results.update(results)
        self.history.append(Applied(label, steps, time.monotonic() - t0, results, providers))
        progress(f"{label}: {len(steps)} steps in {time.monotonic() - t0:.0f} s")
        return list(dict.fromkeys(s.name for s in steps if s.op != "delete-replaced"))

    def apply(self, rec=None, force: bool = False, label: str = "", replace: Optional[list[str]] = None) -> list[str]:
        """`./dev up` of the recording's config (None: the stack's config as it is): a preview
        (which must pass; its plan kept in the history), then `up`; `force` is `--replace` of
        every command, `replace` of the commands so named. The names of the steps that ran, in order."""
        self.began, self.done = {}, {}  # (not the previous apply's while this one previews)
        if rec is not None:
            self._configure(rec)
        commands = {r["urn"].rsplit("::", 1)[-1]: r["urn"] for r in self.exported() if r["type"] == "command:remote:Command"}
        if set(replace or ()) - set(commands):
            raise EngineError(f"{label}: no such command to replace: {sorted(set(replace) - set(commands))}")
        replace = list(commands.values()) if force else [commands[name] for name in replace] if replace else None
        st = self._select()
        plan_file = self.work / f"plan-{len(self.history)}.json"
        try:
            preview(st, on_output=self.printed.append, color="never", replace=replace, plan=str(plan_file))
        except auto.errors.CommandError as err:
            raise EngineError(f"{label}: the preview failed: {err}") from None
        try:
            ran = self._run(label or "up", st.up, replace=replace)
            self.history[-1].planned, self.history[-1].rec = engine_plan(plan_file), rec
        finally:
            plan_file.unlink(missing_ok=True)  # holds the stack's secrets (encrypted): kept no longer than needed
        return ran

    def last_rec(self, before: int = -1):
        """The recording of the last apply before history[before] that set the config."""
        return next((a.rec for a in reversed(self.history[:before]) if a.rec is not None), None)

    def destroy(self, label: str = "destroy") -> list[str]:
        return self._run(label, self._select().destroy)

    def refresh(self) -> dict:
        """`pulumi refresh`: the resource changes it recorded."""
        result = self._select().refresh(on_output=self.printed.append, color="never")
        return dict(result.summary.resource_changes or {})

    def export_text(self) -> str:
        """`pulumi stack export` as a user runs it (secrets stay encrypted)."""
        st = self._select()
        done = subprocess.run(["pulumi", "stack", "export", "--stack", self.stack_name], cwd=self.work,
                              env={**st.workspace.env_vars}, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise EngineError(f"pulumi stack export: {done.stderr.strip()}")
        return done.stdout

    @property
    def backend(self) -> Path:
        return Path(self.engine.env["PULUMI_BACKEND_URL"].removeprefix("file://"))

    def _watch_processes(self, stop: threading.Event) -> None:
        while not stop.wait(0.5):
            ps = subprocess.run(["ps", "-eww", "-o", "args="], capture_output=True, text=True)
            self.ps_snapshots.append(ps.stdout)

    def timing_table(self, index: int = 0) -> str:
        applied = self.history[index]
        rows = sorted((r.started, r.seconds, r.name) for r in applied.results.values())
        lines = [f"engine, {applied.label}: {len(applied.steps)} steps, wall {applied.wall:.1f} s"]
        lines += [f"  {start:7.1f} s  +{secs:6.1f} s  {name}" for start, secs, name in rows]
        return "\n".join(lines)

    def remove(self) -> None:
        """Forget the stack (after destroy)."""
        if self._stack is not None:
            self._stack.workspace.remove_stack(self.stack_name)

