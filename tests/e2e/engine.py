"""Apply the program's recorded resources for real, the way `pulumi up` would.

The Pulumi CLI cannot be installed here, so this stands in for the engine (pulumi 3.272): the
resources and their inputs are exactly what __main__.py registered (recorded under the SDK's mock
runtime with real secrets), and this applies them with the engine's rules, each from the code it
comes from (pulumi/pulumi pkg/resource/deploy/: step_generator.go, step_executor.go, step.go):

- per resource, check -> diff -> same/create/import/update/replace against the previous *state*
  (what the last create/update returned, kept by this object across applies): Check gets the old
  inputs, Diff the old outputs; a provider that cannot tell (DIFF_UNKNOWN, or none of its own as
  pulumi-command's default diff and the bridged providers' plan) is answered by comparing the
  state with the new inputs key by key (diffResource), "__" keys left out (pulumi-go-provider
  infer diff). A change of a key in tools.plan.diff's REPLACE_KEYS for the type, or in the
  registration's replace_on_changes (applyReplaceOnChanges), or a replace the provider reports,
  replaces; any other change updates. The offline plan uses the very same rules (`replace_keys`).
- `import`: the object is read by its id and becomes the old state, then diffed as above
  (isImport, ImportStep, continueStepsFromImport);
- a replace creates the new resource first; the old one is deleted after every create and
  update of the deployment succeeded, with the other deletes (create-before-delete; "the delete
  step is generated later on"); resources no longer registered are deleted then too, in reverse
  dependency order, antichain after antichain (GenerateDeletes, ScheduleDeletes);
- a resource starts once everything it waits for has finished (dependencies, parent, provider:
  the SDK awaits them before registering it), at most `parallel` at once: the CLI's default for
  `--parallel` is 4 x GOMAXPROCS, PULUMI_PARALLEL overriding it (pkg/cmd/pulumi/operations/up.go);
- the first failure stops starting anything new; what runs finishes; every failed step is
  reported with its error, the deletes do not run, and the state keeps what succeeded
  (executeChain, cancelDueToError).

The providers (engine_kinds.py): remote.Command as pulumi-command runs it (tests/doubles/ssh.py),
the database through the SDK's own provider host (provider_host.py), keystone objects as
pulumi-openstack manages them (tests/doubles/keystone.py). What the mock runtime made up stands for
what the real providers return: a mock id (or a mock lookup's id) in an input is replaced by the
real one once the resource it came from has run. A command's mock stdout cannot be: no input of
the e2e stack reads one. `force` is `pulumi up --replace` of every remote.Command.
"""
from __future__ import annotations

import os
import subprocess
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace as copy
from typing import Any, Callable, Iterable, Optional

from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs

from engine_kinds import DATABASE, Kinds
from timing import table
from tools.plan import Recording, Registration, unwrap
from tools.plan.diff import COMMAND, engine_order, replace_keys
from tools.plan.monitor import PlanMocks

PARALLEL = int(os.environ.get("PULUMI_PARALLEL") or 0) or 4 * (os.cpu_count() or 1)
MOCKS = PlanMocks(preview=False)


@dataclass
class State:
    """A resource in the engine's state: its last checked inputs and its provider's outputs."""
    urn: str
    type: str
    name: str
    custom: bool
    inputs: dict
    outputs: dict = field(default_factory=dict)
    id: str = ""
    dependencies: tuple[str, ...] = ()  # everything it waited for: dependencies, parent, provider
    provider: str = ""  # the provider's URN
    import_id: str = ""
    replace_keys: frozenset = frozenset()


@dataclass
class StepResult:
    name: str
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    op: str = ""  # create, import, update, replace, delete, delete-replaced
    started: float = 0.0  # seconds after the apply started
    dependencies: tuple[str, ...] = ()  # names


@dataclass
class Applied:
    """One apply (or destroy), for its timing table."""
    label: str
    parallel: int
    wall: float
    steps: list[StepResult]


class EngineError(AssertionError):
    def __init__(self, failures: list[tuple[str, str]]):
        super().__init__("the deployment failed:\n" + "\n".join(f"- {name}: {error}" for name, error in failures))
        self.failures = failures


def run_graph(tasks: dict[str, Callable[[], None]], waits_for: dict[str, set[str]], parallel: int,
              priority: Callable[[str], Any] = str) -> list[tuple[str, str]]:
    """Run each task once the tasks it waits for succeeded, at most `parallel` at once; after a
    failure start nothing new and let the running ones finish. Returns (task, error) failures."""
    done: set[str] = set()
    failures: list[tuple[str, str]] = []
    running: dict[Future, str] = {}
    waiting = set(tasks)
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        while True:
            ready = sorted((t for t in waiting if (waits_for.get(t, set()) & set(tasks)) <= done), key=priority)
            for task in ready[:max(0, parallel - len(running))] if not failures else ():
                waiting.discard(task)
                running[pool.submit(tasks[task])] = task
            if not running:  # what still waits, with nothing failed, waits in a cycle
                return failures or [(task, "waits for itself (a dependency cycle)") for task in sorted(waiting)]
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                task = running.pop(future)
                if future.exception() is None:
                    done.add(task)
                else:
                    failures.append((task, f"{type(future.exception()).__name__}: {future.exception()}"))


def antichains(condemned: dict[str, State]) -> list[list[str]]:
    """Deletes in rounds: a resource goes once nothing condemned that waits for it is left."""
    left, rounds = dict(condemned), []
    while left:
        needed = {dep for s in left.values() for dep in s.dependencies}
        batch = sorted(key for key, s in left.items() if s.urn not in needed) or sorted(left)  # a cycle: all
        rounds.append(batch)
        for urn in batch:
            left.pop(urn)
    return rounds


def resolve(value: Any, real: dict[str, str]) -> Any:
    """The value with every mock id the program saw replaced by the real one."""
    if isinstance(value, str):
        return real.get(value, value)
    if isinstance(value, dict):
        return {k: resolve(v, real) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, real) for v in value]
    return value


def changed_keys(old: State, news: dict) -> list[str]:
    """Input keys whose new value differs from the state's (internal "__" keys left out)."""
    keys = {k for k in set(old.inputs) | set(news) if not k.startswith("__")}
    return sorted(k for k in keys if old.outputs.get(k) != news.get(k))


@dataclass
class Engine:
    env: Any = None  # the node's E2EEnvironment; the providers use none of it: they connect as registered
    parallel: int = PARALLEL
    kinds: Optional[Callable[["Engine"], Any]] = None  # -> the providers of one apply (engine_kinds.Kinds)
    state: dict[str, State] = field(default_factory=dict, repr=False)  # URN -> state, across applies
    pending: dict[str, State] = field(default_factory=dict, repr=False)  # replaced originals, not deleted yet
    results: dict[str, StepResult] = field(default_factory=dict, repr=False)  # name -> last create/update/...
    history: list[Applied] = field(default_factory=list, repr=False)
    ps_snapshots: list[str] = field(default_factory=list, repr=False)
    provider_output: bytes = field(default=b"", repr=False)  # what the provider host printed (leak checks)

    # -- the deployment ------------------------------------------------------------------------
    def apply(self, rec: Recording, force: bool = False, label: str = "", keep: Iterable[str] = ()) -> list[str]:
        """`pulumi up` of what `rec` registered; returns the names of the resources that ran
        (created, imported, updated, replaced or deleted), in the order they started. `force`
        replaces every command but those named in `keep` (`pulumi up --replace` of each)."""
        order = {r.urn: i for i, r in enumerate(engine_order(rec))}
        replace = {r.urn for r in rec.resources() if force and r.type == COMMAND and r.name not in set(keep)}
        removed = {urn: s for urn, s in self.state.items() if urn not in rec.registrations}
        return self._run(rec, order, replace, removed, label or f"apply {len(self.history) + 1}")

    def destroy(self, types: Optional[Iterable[str]] = None, label: str = "destroy") -> list[str]:
        """`pulumi destroy` (of the resources of `types` only, when given)."""
        wanted = set(types) if types is not None else None
        removed = {u: s for u, s in self.state.items() if wanted is None or s.type in wanted}
        return self._run(None, {}, set(), removed, label)

    def destroy_database(self, _rec: Optional[Recording] = None) -> None:
        self.destroy([DATABASE], label="destroy database")

    def _run(self, rec: Optional[Recording], order: dict[str, int], replace: set[str],
             removed: dict[str, State], label: str) -> list[str]:
        started, steps = time.monotonic(), []
        kinds = (self.kinds or Kinds)(self)
        names = {key: s.name for key, s in removed.items()}
        real: dict[str, str] = {}
        lock = threading.Lock()
        stop = threading.Event()
        watcher = threading.Thread(target=self._watch_processes, args=(stop,), daemon=True)
        watcher.start()

        def record(result: StepResult) -> None:
            with lock:
                steps.append(result)

        try:
            failures: list[tuple[str, str]] = []
            if rec is not None:
                names.update({urn: r.name for urn, r in rec.registrations.items()})
                tasks = {urn: (lambda r=r: self._step(rec, r, kinds, real, r.urn in replace, lock, record, started))
                         for urn, r in rec.registrations.items()}
                failures = run_graph(tasks, {urn: set(_waits_for(r)) for urn, r in rec.registrations.items()},
                                     self.parallel, priority=lambda urn: order.get(urn, 0))
            condemned = {**removed, **self.pending}
            names.update({key: s.name for key, s in condemned.items()})
            for batch in antichains(condemned) if not failures else ():
                tasks = {key: (lambda key=key: self._delete(key, condemned[key], kinds, lock, record, started))
                         for key in batch}
                failures += run_graph(tasks, {}, self.parallel)
                if failures:
                    break
        finally:
            stop.set()
            watcher.join()
            self.provider_output += kinds.close() or b""
            self.history.append(Applied(label, self.parallel, time.monotonic() - started,
                                        sorted(steps, key=lambda s: s.started)))
        if failures:
            raise EngineError([(names.get(key, key), error) for key, error in failures])
        ran = sorted(steps, key=lambda s: s.started)
        return list(dict.fromkeys(s.name for s in ran))

    # -- one resource --------------------------------------------------------------------------
    def _step(self, rec: Recording, r: Registration, kinds: Any, real: dict[str, str], replace: bool,
              lock: threading.Lock, record: Callable[[StepResult], None], t0: float) -> None:
        with lock:
            news = resolve(unwrap(r.raw_inputs), real)
            old = self.state.get(r.urn)
        new = State(r.urn, r.type, r.name, r.custom, news, dependencies=tuple(_waits_for(r)),
                    provider=r.provider.rsplit("::", 1)[0] if r.provider else "", import_id=r.import_id,
                    replace_keys=replace_keys(r))
        if not r.custom:  # a component or the stack: nothing to do but keep its state
            with lock:
                self.state[r.urn] = copy(new, outputs=news)
            return
        kind = kinds.get(r.type)
        started = time.monotonic()
        op, outputs = self._decide_and_do(kind, new, old, replace)
        with lock:
            real[_mock_id(r)] = new.id
            self.state[r.urn] = copy(new, outputs=outputs)
            if op == "replace":  # deleted once every create and update succeeded
                self.pending[f"{r.urn}#{old.id}"] = old
        if r.type.startswith("pulumi:providers:"):
            self._lookups(rec, self.state[r.urn], kinds, real, lock)
        if op != "same":
            result = StepResult(r.name, str(outputs.get("stdout", "")), str(outputs.get("stderr", "")),
                                time.monotonic() - started, op, started - t0,
                                tuple(sorted({_name(u) for u in new.dependencies})))
            with lock:
                self.results[r.name] = result
            record(result)

    def _decide_and_do(self, kind: Any, new: State, old: Optional[State], replace: bool) -> tuple[str, dict]:
        """The step for one resource; sets new.id and returns (op, outputs)."""
        op = "create"
        if new.import_id and (old is None or (old.import_id or old.id) != new.import_id):
            inputs, outputs = kind.read(new, new.import_id)
            old, op = State(new.urn, new.type, new.name, True, inputs, outputs, new.import_id,
                            import_id=new.import_id), "import"
        new.inputs, failures = kind.check(new, old)
        if failures:
            raise ValueError("check failed: " + "; ".join(f"{key}: {why}" for key, why in failures))
        if old is None:
            new.id, outputs = kind.create(new)
            return op, outputs
        new.id = old.id
        answer = kind.diff(new, old)
        changed = changed_keys(old, new.inputs) if answer is None else []
        replaces = sorted(set(changed) & new.replace_keys) if answer is None else answer[1]
        if replace or replaces:
            new.id, outputs = kind.create(new)
            return "replace", outputs
        if (answer is None and changed) or (answer is not None and answer[0]):
            return ("update" if op == "create" else op), kind.update(new, old, changed)
        return ("same" if op == "create" else op), old.outputs

    def _delete(self, key: str, old: State, kinds: Any, lock: threading.Lock,
                record: Callable[[StepResult], None], t0: float) -> None:
        started = time.monotonic()
        if old.custom:
            kinds.get(old.type).delete(old)
        replaced = key in self.pending
        with lock:
            (self.pending if replaced else self.state).pop(key, None)
        if old.custom:
            record(StepResult(old.name, "", "", time.monotonic() - started,
                              "delete-replaced" if replaced else "delete", started - t0))

    def _lookups(self, rec: Recording, provider: State, kinds: Any, real: dict[str, str],
                 lock: threading.Lock) -> None:
        """The program's invokes through this provider, done for real: each mock answer's id
        stands for the real one (the e2e program has one provider)."""
        for call in rec.invocations:
            answer = kinds.lookup(provider, call.token, call.args)
            made_up = MOCKS.call(MockCallArgs(call.token, call.args, provider.urn))
            with lock:
                real[made_up["id"]] = answer["id"]

    def _watch_processes(self, stop: threading.Event) -> None:
        """Snapshots of every process' command line while steps run (a secret on a command
        line would show up here)."""
        while not stop.is_set():
            out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
            self.ps_snapshots.append(out)
            stop.wait(0.3)

    def timing_table(self, index: int = 0) -> str:
        return table(self.history[index])


def _waits_for(r: Registration) -> list[str]:
    return sorted({*r.dependencies, r.parent, r.provider.rsplit("::", 1)[0] if r.provider else ""} - {""})


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _mock_id(r: Registration) -> str:
    return MOCKS.new_resource(MockResourceArgs(r.type, r.name, {}, r.provider, "", r.custom))[0]
