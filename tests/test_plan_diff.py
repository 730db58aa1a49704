"""Change review in the offline plan: each resource's operation against the last planned state,
the input keys that changed (secrets only as "[secret] changed") and what follows in words."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support import sentinel_secrets
from tools.plan import PROJECT_ROOT, plan_json, plan_text, run_program, stack_config
from tools.plan.diff import review
from tools.plan.state import snapshot

NOVA_CONF_CHANGE = {"novaConf": {"DEFAULT": {"debug": True}}}


def recording(stack: str, secrets=None, **overrides):
    config, keys = stack_config(stack, secrets=secrets or sentinel_secrets(), overrides=overrides,
                                placeholder_secrets=True)
    return run_program(stack, config, keys)


@pytest.fixture(scope="module")
def prod_state():
    return snapshot(recording("prod"))


def ops(steps) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for step in steps:
        if step.op != "same":
            found.setdefault(step.op, []).append(step.name)
    return found


def test_nothing_changed_is_all_same(prod_state):
    assert ops(review(prod_state, recording("prod"))) == {}


def test_an_option_updates_each_nova_conf_and_replaces_restart_and_verify(prod_state):
    steps = review(prod_state, recording("prod", **NOVA_CONF_CHANGE))
    assert ops(steps) == {  # each file's watch records the new content (no repair: no trigger moves)
        "update": ["controller-nova-conf-watch", "controller-nova-conf", "cmp-a1-nova-conf-watch", "cmp-a1-nova-conf",
                   "cmp-a2-nova-conf-watch", "cmp-a2-nova-conf"],
        "replace": ["controller-restart", "controller-verify", "cmp-a1-restart", "cmp-a1-verify",
                    "cmp-a2-restart", "cmp-a2-verify"],
    }
    by_name = {s.name: s for s in steps}
    assert by_name["controller-nova-conf"].changed == ["stdin"] and by_name["controller-nova-conf"].secret_changed == ["stdin"]
    assert by_name["controller-restart"].replace_keys == ["triggers"]
    assert by_name["controller-restart"].consequence == (
        "runs again, triggered by content of /etc/nova/nova.conf; triggers [secret] changed")
    assert by_name["controller-nova-conf-watch"].consequence == (
        "records what the file should now be, nothing runs on the node: expected [secret] changed")


def test_a_removed_hypervisor_is_deleted_leaves_first_and_discovery_reruns(prod_state):
    kept = [{"name": "cmp-a1", "host": "cmp-a1.mgmt.prod.example.org", "myIp": "10.0.10.101", "user": "deploy",
             "jumpHost": "bastion.prod.example.org", "virtType": "kvm",
             "hostKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIItVb8l4yjEdDFfBd4rTut+EPVeX9juj4pR6uJS5lzzj",
             "jumpHostKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFzq068oISmVm9WEYBFVOEl1C8xAx7uCF0LgklT8o7eP"}]
    steps = review(prod_state, recording("prod", hypervisors=kept))
    assert ops(steps) == {"replace": ["cells-discover-hosts", "hypervisor-roster-update"],
                          "delete": ["cmp-a2-service-record", "cmp-a2-verify", "cmp-a2-restart", "cmp-a2-compute-conf",
                                     "cmp-a2-nova-conf", "cmp-a2-packages", "cmp-a2-preflight",
                                     "cmp-a2-compute-conf-watch", "cmp-a2-nova-conf-watch", "cmp-a2"]}
    by_name = {s.name: s for s in steps}
    assert by_name["cells-discover-hosts"].consequence == 'runs again, triggered by ["cmp-a1"]; triggers changed'
    # nova forgets cmp-a2 through the roster, which left the stack; no step's delete does it
    assert by_name["hypervisor-roster-update"].consequence == 'runs again, triggered by ["cmp-a1"]; create changed, triggers changed'
    assert by_name["cmp-a2-service-record"].consequence == "forgotten: it has no delete command"
    assert by_name["cmp-a2-restart"].consequence == "forgotten: it has no delete command"


def test_a_controller_only_change_reverifies_every_hypervisor_after_its_restart(prod_state):
    """dbPassword is only in the controller's nova.conf: its restart is replaced, so (as the
    engine sees it) each hypervisor's verify, whose trigger is that restart's run, runs again;
    nothing else of the hypervisors does."""
    steps = review(prod_state, recording("prod", secrets={**sentinel_secrets(), "dbPassword": "Rotated-db-7c1e"}))
    assert ops(steps) == {
        "update": ["controller-nova-conf-watch", "controller-nova-conf", "nova-db-mysql"],
        "replace": ["controller-restart", "controller-verify", "cmp-a1-verify", "cmp-a2-verify"],
    }
    by_name = {s.name: s for s in steps}
    assert by_name["cmp-a1-verify"].consequence.endswith("triggers known after controller-restart run again")


def test_a_rotated_secret_shows_what_changes_never_the_value(prod_state):
    rotated = {**sentinel_secrets(), "rabbitPassword": "Rotated-Sentinel-9f2c"}
    rec = recording("prod", secrets=rotated)
    steps = review(prod_state, rec)
    assert ops(steps)["update"] == ["controller-nova-conf-watch", "controller-nova-conf", "cmp-a1-nova-conf-watch",
                                    "cmp-a1-nova-conf", "cmp-a2-nova-conf-watch", "cmp-a2-nova-conf"]
    text = plan_text(rec, steps, "the last plan") + json.dumps(plan_json(rec, steps, prod_state))
    assert "stdin [secret] changed" in text
    assert "Sentinel" not in text and "Sentinel" not in json.dumps(snapshot(rec))


def test_plan_json_has_the_shape_of_pulumi_preview(prod_state):
    rec = recording("prod", **NOVA_CONF_CHANGE)
    plan = plan_json(rec, review(prod_state, rec), prod_state)
    assert "outputs" not in plan
    assert plan["config"]["openstack-nova:rabbitPassword"] == "[secret]"
    assert plan["config"]["openstack-nova:release"] == "2025.1"
    urns = [s["urn"] for s in plan["steps"]]
    assert urns[0].endswith("pulumi:providers:command::default_1_2_1")
    assert urns[1].endswith("pulumi:providers:pulumi-python::default")
    seen = set()
    for step in plan["steps"]:  # engine order: every dependency before its dependent
        assert set(step.get("newState", {}).get("dependencies", [])) <= seen, step["urn"]
        seen.add(step["urn"])
    restart = next(s for s in plan["steps"] if s["urn"].endswith("::controller-restart"))
    assert (restart["op"], restart["replaceReasons"], restart["detailedDiff"]) == (
        "replace", ["triggers"], {"triggers": {"kind": "update-replace", "inputDiff": True}})
    assert restart["provider"].startswith(urns[0] + "::")
    assert plan["changeSummary"] == {"update": 6, "replace": 6, "same": 50}


def test_plan_text_shows_each_ssh_target_with_its_host_key(prod_state):
    text = plan_text(recording("prod"))
    assert ("    ssh: deploy@nova-api.mgmt.prod.example.org:22 (host key SHA256:gMd9ipJlFsYWiBSPOmoAvGZ7ypU6BR9jNBsIRcKbK8s)"
            " via deploy@bastion.prod.example.org:22 (host key SHA256:WlDtcUQ/Uq+tCfwBTTHsR/Kx71T28sA6HX+UvXngCJ8)") in text
    assert "    ssh: root@compute-node.example.org:22 (host key NOT pinned)" in plan_text(recording("tutorial"))
    assert "PRIVATE KEY" not in text


def test_the_command_keeps_the_last_plan_and_what_ifs_leave_it(tmp_path):
    def plan(*args, out=tmp_path):
        done = subprocess.run([sys.executable, "-m", "tools.plan", "dev", "--placeholder-secrets", "--quiet",
                               "--out", str(out), *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        return done

    first = plan()
    assert "compared with nothing" in (tmp_path / "plan.txt").read_text()
    assert "69 to create (0 by import), 0 to update, 0 to replace, 0 to delete, 0 unchanged" in first.stdout
    kept = {name: (tmp_path / name).read_bytes() for name in ("plan.txt", "plan.json", "graph.dot", "state.json")}
    change = json.dumps(NOVA_CONF_CHANGE).replace('{"novaConf": ', "novaConf=")[:-1]
    what_if = plan("--set", change, "--against", str(tmp_path), out=tmp_path / "what-if")
    assert "0 to create (0 by import), 4 to update, 5 to replace, 0 to delete, 60 unchanged" in what_if.stdout
    assert {name: (tmp_path / name).read_bytes() for name in kept} == kept
    assert not (tmp_path / "what-if" / "state.json").exists()
    again = plan("--against", str(tmp_path), out=tmp_path / "other")
    assert "0 to create (0 by import), 0 to update, 0 to replace, 0 to delete, 69 unchanged" in again.stdout


def test_with_the_passphrase_a_rotated_password_is_changed_and_a_kept_one_is_not():
    """The tutorial's real secrets (passphrase `openstack`): the state's digests are keyed with
    the passphrase's key, and the next plan, under the same key, tells a rotation from none."""
    config = stack_config("tutorial")
    state = snapshot(run_program("tutorial", config.values, config.secret_keys), config.secrets_key)
    assert state["secret_digests"]["key"] == "passphrase"

    def plan(**overrides):
        again = stack_config("tutorial", overrides=overrides)
        assert again.secrets_key == config.secrets_key
        return review(state, run_program("tutorial", again.values, again.secret_keys), again.secrets_key)

    assert ops(plan()) == {} and ops(plan(rabbitPassword="openstack")) == {}
    steps = plan(rabbitPassword="Rotated-Sentinel-9f2c")
    assert ops(steps) == {"update": ["controller-nova-conf-watch", "controller-nova-conf"],
                          "replace": ["controller-restart", "controller-verify"]}
    assert {s.name: s.secret_changed for s in steps if s.op != "same"} == {
        "controller-nova-conf-watch": ["expected"], "controller-nova-conf": ["stdin"], "controller-restart": ["triggers"], "controller-verify": ["triggers"]}
    steps = plan(novaPassword="Rotated-Sentinel-9f2c")
    assert {s.name: s.changed for s in steps if s.op != "same"}["nova-identity-user"] == ["password"]
