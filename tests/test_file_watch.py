"""components/file_watch.py: the file watch's rules as pure functions (what check, diff, create,
update and read decide), its place in the program's graph under the mock runtime (each written
file's watch before its write step, which comes before the restart and verify that follow it),
and that neither the node's key nor a file's hash shows in a plan."""
from __future__ import annotations

import hashlib
import json
import pytest

from components.file_watch import (
    FileWatchProvider, checked_inputs, drift_of, generation_after, has_changes, watch_input_problems, recorded,
)
from components.remote_file import Observation
from tests.support import SENTINEL, record, sentinel_secrets
from tools.plan import plan_json, plan_text, unwrap

WATCH = "pulumi-python:dynamic/files:FileWatch"
INPUTS = {"connection": {"host": "10.0.0.5", "port": 22, "user": "root", "privateKey": "KEY"},
          "path": "/etc/nova/nova.conf", "expected": "a" * 64, "owner": "root", "group": "nova", "mode": "0640"}
STATE = recorded({**INPUTS, "generation": 0})


def test_a_new_watch_is_generation_0_in_sync_and_runs_nothing():
    assert generation_after({}) == 0
    assert checked_inputs({}, INPUTS) == {**INPUTS, "generation": 0}
    created = FileWatchProvider().create(checked_inputs({}, INPUTS))  # no SSH: the connection is never used
    assert created.outs == {**INPUTS, "generation": 0, "drift": ""}
    assert created.id == "file-watch:/etc/nova/nova.conf"


def test_nothing_changed_is_no_change():
    assert not has_changes(STATE, checked_inputs(STATE, INPUTS))


def test_drift_found_by_a_refresh_moves_the_generation_once_and_is_a_change():
    refreshed = {**STATE, "drift": "content differs"}  # read gives drift in its inputs and outputs
    news = checked_inputs(refreshed, INPUTS)
    assert news["generation"] == 1 and has_changes(refreshed, news)
    after = FileWatchProvider().update("id", refreshed, news).outs
    assert after == {**INPUTS, "generation": 1, "drift": ""}
    assert not has_changes(after, checked_inputs(after, INPUTS))  # repaired: the next up changes nothing


def test_a_config_change_is_a_change_that_keeps_the_generation():
    """So the write step updates (its trigger stays) and restart/verify replace on the content hash."""
    news = checked_inputs(STATE, {**INPUTS, "expected": "b" * 64})
    assert has_changes(STATE, news) and news["generation"] == 0
    assert FileWatchProvider().update("id", STATE, news).outs["expected"] == "b" * 64


@pytest.mark.parametrize("key, value", [("connection", {**INPUTS["connection"], "host": "10.0.0.6"}),
                                        ("path", "/etc/nova/other.conf"), ("mode", "0600"), ("owner", "nova")])
def test_any_other_input_changed_is_a_change_without_a_repair(key, value):
    news = checked_inputs(STATE, {**INPUTS, key: value})
    assert has_changes(STATE, news) and news["generation"] == 0


def test_the_diff_never_replaces():
    result = FileWatchProvider().diff("id", {**STATE, "drift": "absent"}, checked_inputs(STATE, {**INPUTS, "path": "/x"}))
    assert result.changes and result.replaces == [] and not result.delete_before_replace


@pytest.mark.parametrize("seen, drift", [
    (Observation("a" * 64, "root", "nova", 0o640), ""),
    (Observation("b" * 64, "root", "nova", 0o640), "content differs"),
    (Observation(None), "absent"),
    (Observation("a" * 64, "root", "root", 0o644), "owner root:root, expected root:nova; mode 0644, expected 0640"),
])
def test_drift_says_what_differs_and_never_the_hash(seen, drift):
    assert drift_of(STATE, seen) == drift
    assert "a" * 64 not in drift and "b" * 64 not in drift


def test_read_reports_drift_in_outputs_and_inputs(monkeypatch):
    """The next check reads drift from the inputs (the engine gives check the old inputs)."""
    monkeypatch.setattr("components.file_watch.observe", lambda conn, path: Observation(None))
    result = FileWatchProvider().read("file-watch:/etc/nova/nova.conf", dict(STATE))
    assert result.outs["drift"] == result.inputs["drift"] == "absent"
    assert checked_inputs(result.inputs, INPUTS)["generation"] == 1


@pytest.mark.parametrize("key, value", [("path", "etc/nova/nova.conf"), ("path", "/etc/nova\n/x"),
                                        ("mode", "640"), ("mode", "0989"), ("owner", "root:x"), ("group", "a b")])
def test_bad_inputs_are_refused_at_check(key, value):
    assert [k for k, _ in watch_input_problems({**INPUTS, key: value})] == [key]


def test_unknown_inputs_are_checked_later():
    assert watch_input_problems({**INPUTS, "path": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}) == []


@pytest.fixture(scope="module")
def dev_run():
    return record("dev", secrets=sentinel_secrets())


def test_every_written_file_has_a_watch_before_its_write_step(dev_run):
    writes = [r for r in dev_run.of_type("command:remote:Command") if "echo written: " in r.inputs["create"]]
    watches = {r.name for r in dev_run.of_type(WATCH)}
    assert writes and watches == {f"{r.name}-watch" for r in writes}
    for write in writes:
        watch = dev_run.by_name(f"{write.name}-watch")
        assert dev_run.depends(write.name, watch.name) and watch.parent == write.parent
        assert watch.additional_secret_outputs == ["connection", "expected"]
        assert watch.inputs["path"] in write.inputs["create"]


@pytest.mark.parametrize("node", ["controller", "compute2"])
def test_watch_then_write_then_restart_then_verify(dev_run, node):
    chain = [f"{node}-nova-conf-watch", f"{node}-nova-conf", f"{node}-restart", f"{node}-verify"]
    for before, after in zip(chain, chain[1:]):
        assert dev_run.waits_for(after, before), f"{after} must wait for {before}"
    # restart and verify take the watch's generation itself: a repair runs them again
    assert dev_run.by_name(f"{node}-nova-conf-watch").urn in dev_run.by_name(f"{node}-restart").property_dependencies["triggers"]
    assert dev_run.by_name(f"{node}-nova-conf-watch").urn in dev_run.by_name(f"{node}-verify").property_dependencies["triggers"]


def test_no_key_and_no_file_hash_in_the_plan_files(dev_run):
    """The plan shows a watch's connection and expected hash as [secret] (the hash of nova.conf
    would let a guess at its passwords be checked); every secret setting is a sentinel here."""
    plan = json.dumps(plan_json(dev_run))
    shown = {step["urn"].rsplit("::", 1)[-1]: step["newState"]["inputs"] for step in json.loads(plan)["steps"]
             if step["newState"]["type"] == WATCH}
    assert {inputs["connection"] for inputs in shown.values()} == {"[secret]"}
    # compute1 detects its virt type: its files' hashes are unknown until the apply
    assert {name: inputs["expected"] for name, inputs in shown.items() if inputs["expected"] != "[secret]"} == {
        "compute1-nova-conf-watch": "(known after apply)", "compute1-compute-conf-watch": "(known after apply)"}
    conf = next(r for r in dev_run.of_type("command:remote:Command") if r.name == "controller-nova-conf")
    digest = hashlib.sha256(unwrap(conf.raw_inputs)["stdin"].encode()).hexdigest()
    for text in (plan, plan_text(dev_run)):
        assert SENTINEL not in text and digest not in text
