"""The e2e engine's rules on made-up registrations, with stand-in providers that only record what
they were asked and when (fast; no services): dependency order, bounded concurrency, update vs
replace by the offline plan's own rules, create-before-delete, deletes in reverse order,
failures, imports and the ids the mock runtime made up."""
from __future__ import annotations

import threading
import time

import pytest

from engine import Engine, EngineError
from made_up import recording, registration, urn
from timing import critical_path, table
from tools.plan.diff import REPLACE_KEYS, review, snapshot
from tools.plan.recording import STACK_TYPE

USER = "openstack:identity/user:User"
ASSIGNMENT = "openstack:identity/roleAssignment:RoleAssignment"


class Recorder:
    """Every type's provider: records (event, name, start, end, detail); a step sleeps for its
    `seconds` input and fails when its `fail` input is set."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, float, float, object]] = []
        self.lock = threading.Lock()
        self.count = 0

    def _do(self, event: str, state, detail: object = None) -> None:
        start = time.monotonic()
        time.sleep(float(state.inputs.get("seconds", 0.02)))
        with self.lock:
            self.events.append((event, state.name, start, time.monotonic(), detail))
        if state.inputs.get("fail"):
            raise RuntimeError(f"{state.name} failed on purpose")

    def check(self, new, _old):
        return dict(new.inputs), []

    def diff(self, _new, _old):
        return None

    def create(self, new):
        self._do("create", new, dict(new.inputs))
        with self.lock:
            self.count += 1
            return f"{new.name}-{self.count}", dict(new.inputs)

    def read(self, new, id_):
        self._do("read", new, id_)
        return {"name": "hand-made"}, {"name": "hand-made"}

    def update(self, new, _old, changed):
        self._do("update", new, changed)
        return dict(new.inputs)

    def delete(self, old):
        self._do("delete", old, old.id)

    # the Kinds interface
    def get(self, _type):
        return self

    def lookup(self, _provider, _token, _args):
        return {"id": "real-project-id"}

    def close(self):
        return b""

    def names(self, event: str) -> list[str]:
        return [name for ev, name, *_ in sorted(self.events, key=lambda e: e[2]) if ev == event]

    def span(self, event: str, name: str) -> tuple[float, float]:
        return next((start, end) for ev, n, start, end, _ in self.events if (ev, n) == (event, name))


@pytest.fixture
def fake():
    recorder = Recorder()
    return recorder, Engine(kinds=lambda _engine: recorder, parallel=4)


def test_a_resource_starts_after_everything_it_waits_for(fake):
    rec, engine = fake
    ran = engine.apply(recording(registration("a"), registration("b", after=["a"]),
                                 registration("c", after=["a", "b"]), registration("d")))
    assert sorted(ran) == ["a", "b", "c", "d"]
    assert rec.span("create", "b")[0] >= rec.span("create", "a")[1]
    assert rec.span("create", "c")[0] >= rec.span("create", "b")[1]


def test_independent_steps_overlap_up_to_the_bound_and_dependents_wait(fake):
    rec, engine = fake
    engine.parallel = 2
    slow = {"create": "x", "seconds": 0.3}
    engine.apply(recording(*(registration(f"s{i}", slow) for i in range(4)), registration("late", after=["s0"])))
    spans = [rec.span("create", f"s{i}") for i in range(4)]
    most = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert most == 2, "two at once: never more, and not one after the other"
    assert engine.history[-1].wall < 0.3 * 4 * 0.9
    assert rec.span("create", "late")[0] >= rec.span("create", "s0")[1]


def test_nothing_changed_runs_nothing(fake):
    rec, engine = fake
    program = recording(registration("a"), registration("b", after=["a"]))
    engine.apply(program)
    rec.events.clear()
    assert engine.apply(program) == [] and rec.events == []


@pytest.mark.parametrize("type_", sorted(REPLACE_KEYS))
def test_update_or_replace_by_the_plans_own_rules(fake, type_):
    rec, engine = fake
    key = sorted(REPLACE_KEYS[type_])[0]
    base = {key: "one", "other": "one"}
    engine.apply(recording(registration("r", base, type_=type_)))
    old_id = engine.state[urn("r", type_)].id
    original = recording(registration("r", base, type_=type_))
    changed_other = recording(registration("r", {**base, "other": "two"}, type_=type_))
    assert _ops(engine, changed_other) == {"r": "update"} == _plan_ops(original, changed_other)
    changed_key = recording(registration("r", {**base, "other": "two", key: "two"}, type_=type_))
    assert _ops(engine, changed_key) == {"r": "replace"} == _plan_ops(changed_other, changed_key)
    assert rec.names("delete") == ["r"] and rec.events[-1][4] == old_id, "the old one is deleted, by its id"


def test_declared_replace_on_changes_replaces(fake):
    _, engine = fake
    engine.apply(recording(registration("r", {"create": "x", "stdin": "a"}, replace_on_changes=["stdin"])))
    assert _ops(engine, recording(registration("r", {"create": "x", "stdin": "b"},
                                               replace_on_changes=["stdin"]))) == {"r": "replace"}


def test_replace_creates_the_new_one_first_and_deletes_the_old_after_all_else(fake):
    rec, engine = fake
    engine.apply(recording(registration("conf", {"create": "w", "stdin": "1"}),
                           registration("restart", {"create": "r", "triggers": ["1"], "delete": "d"}, after=["conf"]),
                           registration("verify", {"create": "v", "triggers": ["1"]}, after=["restart"])))
    rec.events.clear()
    ran = engine.apply(recording(registration("conf", {"create": "w", "stdin": "2"}),
                                 registration("restart", {"create": "r", "triggers": ["2"], "delete": "d"},
                                              after=["conf"]),
                                 registration("verify", {"create": "v", "triggers": ["2"]}, after=["restart"])))
    assert ran == ["conf", "restart", "verify"]
    assert [(e[0], e[1]) for e in sorted(rec.events, key=lambda e: e[2])] == [
        ("update", "conf"), ("create", "restart"), ("create", "verify"), ("delete", "verify"), ("delete", "restart")]
    assert {s.name: s.op for s in engine.history[-1].steps} == {
        "conf": "update", "restart": "delete-replaced", "verify": "delete-replaced"}
    assert not engine.pending


def test_removed_resources_are_deleted_in_reverse_dependency_order(fake):
    rec, engine = fake
    engine.apply(recording(registration("keep"), registration("a"), registration("b", after=["a"]),
                           registration("c", after=["b"]), registration("lone")))
    rec.events.clear()
    ran = engine.apply(recording(registration("keep")))
    assert rec.names("delete")[:3] in (["c", "lone", "b"], ["lone", "c", "b"]) and rec.names("delete")[-1] == "a"
    assert rec.span("delete", "b")[0] >= rec.span("delete", "c")[1] and sorted(ran) == ["a", "b", "c", "lone"]
    assert set(engine.state) == {urn("keep"), "urn:pulumi:test::rules::pulumi:pulumi:Stack::rules-test"}


def test_a_failure_stops_new_work_and_reports_every_failed_step(fake):
    rec, engine = fake
    engine.apply(recording(registration("gone")))
    rec.events.clear()
    program = recording(registration("bad1", {"create": "x", "fail": True, "seconds": 0.1}),
                        registration("bad2", {"create": "x", "fail": True, "seconds": 0.2}),
                        registration("slow", {"create": "x", "seconds": 0.3}),
                        registration("after", after=["bad1"]), registration("queued", after=["slow"]))
    with pytest.raises(EngineError) as failed:
        engine.apply(program)
    assert [name for name, _ in failed.value.failures] == ["bad1", "bad2"]
    assert "bad2 failed on purpose" in str(failed.value)
    assert sorted(rec.names("create")) == ["bad1", "bad2", "slow"], "what ran finishes; nothing new starts"
    assert rec.names("delete") == [], "no deletes after a failure"
    assert urn("slow") in engine.state and urn("bad1") not in engine.state and urn("gone") in engine.state


def test_import_reads_then_updates_what_differs(fake):
    rec, engine = fake
    ran = engine.apply(recording(registration("nova", {"name": "nova", "password": "p"}, type_=USER,
                                              import_id="abc")))
    assert ran == ["nova"] and engine.history[-1].steps[0].op == "import"
    assert [(e[0], e[4]) for e in rec.events] == [("read", "abc"), ("update", ["name", "password"])]
    assert engine.state[urn("nova", USER)].id == "abc"


def test_made_up_ids_are_replaced_by_real_ones(fake):
    rec, engine = fake
    user = registration("u", {"name": "nova"}, type_=USER)
    assignment = registration("ra", {"userId": "user-u-id", "roleId": "x"}, type_=ASSIGNMENT, after=[user.urn])
    engine.apply(recording(user, assignment))
    assert engine.state[assignment.urn].inputs["userId"] == engine.state[user.urn].id == "u-1"


def test_force_replaces_every_command(fake):
    rec, engine = fake
    program = recording(registration("a"), registration("u", {"name": "x"}, type_=USER))
    engine.apply(program)
    rec.events.clear()
    assert engine.apply(program, force=True) == ["a"]
    assert rec.names("create") == ["a"] and rec.names("delete") == ["a"]


def test_timing_table_names_the_critical_path(fake):
    _, engine = fake
    engine.apply(recording(registration("a", {"create": "x", "seconds": 0.2}),
                           registration("b", {"create": "x", "seconds": 0.1}, after=["a"]),
                           registration("c", {"create": "x", "seconds": 0.15})))
    path, seconds = critical_path(engine.history[-1].steps)
    assert path == ["a", "b"] and 0.3 <= seconds < 0.5
    text = table(engine.history[-1])
    assert "critical path" in text and "speed-up" in text and "parallel 4" in text


def _ops(engine: Engine, program) -> dict[str, str]:
    engine.apply(program)
    return {s.name: s.op for s in engine.history[-1].steps if not s.op.startswith("delete")}


def _plan_ops(before, after) -> dict[str, str]:
    """What the offline plan (tools/plan/diff.py) says of the same change."""
    return {s.name: s.op for s in review(snapshot(before), after) if s.op != "same" and s.type != STACK_TYPE}
