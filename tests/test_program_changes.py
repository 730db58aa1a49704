"""What a change touches, under the mock runtime: a re-run, one option, one more hypervisor
(how hypervisors hang together in the graph: test_compute.py)."""
from __future__ import annotations

import json

from tests.support import record
from tools.plan import stack_config, unwrap


def _inputs(rec) -> dict[str, str]:
    return {r.name: json.dumps(unwrap(r.raw_inputs), sort_keys=True) for r in rec.resources() if r.custom}


def test_rerun_with_nothing_changed_is_identical():
    assert _inputs(record("dev")) == _inputs(record("dev"))


def test_one_option_changes_only_config_restart_and_verify():
    before = _inputs(record("tutorial"))
    after = _inputs(record("tutorial", novaConf={"DEFAULT": {"debug": True}}))
    changed = sorted(name for name in before if before[name] != after[name])
    # nova.conf's watch records the file's new content
    assert changed == ["controller-nova-conf", "controller-nova-conf-watch", "controller-restart", "controller-verify"]


def test_global_option_reaches_every_node_and_nothing_else():
    before = _inputs(record("dev"))
    after = _inputs(record("dev", novaConf={"DEFAULT": {"debug": True}}))
    changed = sorted(name for name in before if before[name] != after[name])
    # compute1 detects its virt type at apply time, so its file is only known then; compute2
    # has virtType set and shows the change already in the preview.
    assert changed == ["compute2-nova-conf", "compute2-nova-conf-watch", "compute2-restart", "compute2-verify",
                       "controller-nova-conf", "controller-nova-conf-watch", "controller-restart", "controller-verify"]


def test_adding_a_hypervisor_touches_only_that_node_and_discovery():
    config, _ = stack_config("dev", placeholder_secrets=True)
    nodes = json.loads(config["openstack-nova:hypervisors"])
    before = _inputs(record("dev"))
    after_rec = record("dev", hypervisors=nodes + [{"name": "compute3", "host": "dev-cmp3.lab.example.org",
                                                     "myIp": "10.20.0.23", "virtType": "kvm"}])
    after = _inputs(after_rec)
    added = sorted(set(after) - set(before))
    assert added == [f"compute3-{s}" for s in ("compute-conf", "compute-conf-watch", "nova-conf", "nova-conf-watch",
                                                "packages", "preflight", "restart", "service-record", "verify")]
    changed = sorted(name for name in before if before[name] != after[name])
    assert changed == ["cells-discover-hosts", "hypervisor-roster-update"]
    assert after_rec.depends("cells-discover-hosts", "compute3-verify")
