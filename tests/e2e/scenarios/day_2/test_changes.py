"""Day 2 on the installed stack: reruns, rotated passwords, a changed option, a drained
hypervisor, drift the provider sees, and no secret in what the engine kept."""
from __future__ import annotations

import base64
import json
import secrets
import time
import urllib.parse

import pytest

from tests.e2e.deployment import STACK, assert_planned_as_offline, hostile, on_controller
from lab.data import sql_str
from lab.stack import stack_values
from tests.e2e.instances import Instance, boot_and_delete
from tools.plan import unwrap

pytestmark = pytest.mark.e2e


def test_rerun_with_nothing_changed_runs_nothing(deployment, record):
    engine, _, _ = deployment
    assert engine.apply(record(), label="rerun, nothing changed") == []
    assert engine.history[-1].steps == []
    assert_planned_as_offline(engine)


def test_forced_rerun_succeeds_keeps_one_cell_and_every_hypervisor(deployment, env, record, hypervisors, openstack):
    """`pulumi up --replace` of every step, none kept out: each replaced step's old delete runs
    after its new create, and none of them removes a hypervisor from nova (only leaving the
    stack does); both keep serving."""
    engine, rec, _ = deployment
    again = engine.apply(record(), force=True, label="rerun, every command replaced")
    assert set(again) == {r.name for r in rec.resources() if r.type == "command:remote:Command"}
    cells = on_controller(env, "su -s /bin/sh -c 'nova-manage cell_v2 list_cells' nova").stdout
    assert [line.split("|")[1].strip() for line in cells.splitlines() if line.startswith("|")].count("cell1") == 1
    assert "unchanged: /etc/nova/nova.conf" in engine.results["controller-nova-conf"].stdout
    for hypervisor in hypervisors:
        assert "unchanged: /etc/nova/nova.conf" in engine.results[f"{hypervisor.name}-nova-conf"].stdout
        assert "unchanged: /var/lib/nova/.ssh/known_hosts" in engine.results[f"{hypervisor.name}-nova-known-hosts"].stdout
        assert "migration peers reachable" in engine.results[f"{hypervisor.name}-migration-check"].stdout
    listed = json.loads(openstack("hypervisor", "list", "-f", "json"))
    assert sorted((h["Hypervisor Hostname"], h["State"]) for h in listed) == sorted((h.name, "up") for h in hypervisors)
    assert "hypervisors of this stack: " + " ".join(sorted(h.name for h in hypervisors)) in \
        engine.results["hypervisor-roster-update"].stdout
    services = json.loads(openstack("compute", "service", "list", "--service", "nova-compute", "-f", "json"))
    assert sorted((s["Host"], s["Status"], s["State"]) for s in services) == sorted(
        (h.name, "enabled", "up") for h in hypervisors)


def test_a_rotated_database_password_returns_with_every_hypervisor_serving(deployment, record, stack_secrets, env, lab,
                                                                           openstack, hypervisor, other_hypervisor,
                                                                           hypervisors):
    """Only the controller's nova.conf holds dbPassword: the account is updated, the controller
    rewrites its file and restarts, and each hypervisor (nothing of it rewritten or restarted)
    is verified again after that restart, so `up` returns only once they report heartbeats the
    scheduler accepts: a live migration the scheduler places, asked at once, succeeds (under the
    real engine this failed with "No valid host was found" 35 s after such an `up`)."""
    engine, _, _ = deployment
    instance = Instance(lab, env, openstack, "e2e-after-rotation")
    try:
        instance.boot(hypervisor)
        stack_secrets.update(dbPassword=hostile("db1", avoid="@%"))  # what later tests apply too
        changed = engine.apply(record(), label="rerun, database password rotated")
        assert_planned_as_offline(engine)
        assert sorted(changed) == sorted(["nova-db-mysql", "controller-nova-conf-watch", "controller-nova-conf",
                                          "controller-restart", "controller-verify",
                                          *(f"{h.name}-verify" for h in hypervisors)])
        restarted = engine.results["controller-restart"]
        for node in hypervisors:
            verify = engine.results[f"{node.name}-verify"]
            assert verify.started >= restarted.started + restarted.seconds and "nova services up" in verify.stdout
        instance.action({"os-migrateLive": {"host": None, "block_migration": True}})  # the scheduler picks
        instance.migrated("completed", hypervisor)
        instance.wait("ACTIVE", other_hypervisor)
        instance.assert_on(other_hypervisor, hypervisor)
    finally:
        instance.delete([hypervisor, other_hypervisor])


def test_changed_option_runs_only_config_restart_and_verify(deployment, record, controller, hypervisors, openstack):
    """nova.conf's option changes on every node that reads it: each rewrites its file (update),
    and its restart and verify are replaced (their trigger changed); nothing else runs."""
    engine, _, _ = deployment
    conf = {**stack_values(STACK)["novaConf"], "DEFAULT": {"debug": True}}  # the stack's own, plus one
    changed = engine.apply(record(novaConf=conf), label="rerun, one nova option changed")
    assert_planned_as_offline(engine)
    nodes = ("controller", *(h.name for h in hypervisors))  # the prefixes of their steps' names
    # (each file's watch records the new content: components/file_watch.py)
    assert sorted(changed) == sorted(f"{n}-{step}" for n in nodes
                                     for step in ("nova-conf-watch", "nova-conf", "restart", "verify"))
    ops = sorted((s.name, s.op) for s in engine.history[-1].steps)
    assert ops == sorted([(f"{n}-{step}", "update") for n in nodes for step in ("nova-conf-watch", "nova-conf")] + [
        (f"{n}-{step}", op) for n in nodes for step in ("restart", "verify") for op in ("replace", "delete-replaced")])
    for prefix, node in (("controller", controller), *((h.name, h) for h in hypervisors)):
        assert "written: /etc/nova/nova.conf" in engine.results[f"{prefix}-nova-conf"].stdout
        assert "debug = true" in node.path("/etc/nova/nova.conf").read_text()
    listing = json.loads(openstack("compute", "service", "list", "-f", "json"))
    assert {("nova-conductor", "up"), ("nova-scheduler", "up"), ("nova-compute", "up")} <= {
        (s["Binary"], s["State"]) for s in listing}


def test_rotated_database_and_rabbitmq_passwords(deployment, record, stack_secrets, env, lab, controller,
                                                 hypervisor, hypervisors, openstack):
    """Day 2: new database and RabbitMQ passwords (RabbitMQ's changed first, as an operator
    would). The account is updated in place, every node's nova.conf rewritten and its services
    restarted; the cell mappings hold templates, not the old password; nova still boots."""
    engine, _, _ = deployment
    old_db, old_rabbit = stack_secrets["dbPassword"], stack_secrets["rabbitPassword"]
    new_db, new_rabbit = hostile("db2", avoid="@%"), secrets.token_urlsafe(18)
    lab.data.rabbitmqctl("change_password", env.rabbit_user, input=new_rabbit + "\n")
    stack_secrets.update(dbPassword=new_db, rabbitPassword=new_rabbit)  # what later tests apply too
    changed = engine.apply(record(), label="rerun, database and RabbitMQ passwords rotated")
    assert_planned_as_offline(engine)
    assert "nova-db-mysql" in changed and "placement-db-mysql" not in changed
    for prefix in ("controller", *(h.name for h in hypervisors)):
        assert {f"{prefix}-nova-conf", f"{prefix}-restart", f"{prefix}-verify"} <= set(changed)
    assert "controller-packages" not in changed and "placement-restart" not in changed
    # nova formats the stored templates with nova.conf's values when it reads a mapping: the
    # listing shows the new passwords (URL-quoted), never a stale one
    cells = on_controller(env, "su -s /bin/sh -c 'nova-manage cell_v2 list_cells --verbose' nova").stdout
    assert "cell1" in cells and "cell0" in cells
    forms = lambda value: {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}  # noqa: E731
    assert not [f for value in (old_db, old_rabbit) for f in forms(value) if f in cells], "a stale password in a cell mapping"
    assert any(f in cells for f in forms(new_db)) and any(f in cells for f in forms(new_rabbit))
    listing = json.loads(openstack("compute", "service", "list", "-f", "json"))
    assert {("nova-conductor", "up"), ("nova-scheduler", "up"), ("nova-compute", "up")} <= {
        (s["Binary"], s["State"]) for s in listing}
    boot_and_delete(lab, env, openstack, hypervisor, "e2e-rotated")


def test_a_hypervisor_leaving_the_stack_is_drained_then_removed(deployment, record, lab, env, openstack, hypervisor,
                                                               other_hypervisor):
    """README's procedure: the leaving hypervisor (the second) is disabled, its instance
    live-migrated away (the scheduler picks the other: no host named), then the stack without
    it: the roster on the controller disables and deletes its nova-compute service, and the
    engine forgets the node's steps. The instance stays ACTIVE on the other."""
    engine, _, _ = deployment
    leaving, staying = other_hypervisor, hypervisor
    instance = Instance(lab, env, openstack, "e2e-drain")
    try:
        instance.boot(leaving)
        started = time.monotonic()
        openstack("compute", "service", "set", "--disable", "--disable-reason", "leaving the stack", leaving.name,
                  "nova-compute")
        instance.action({"os-migrateLive": {"host": None, "block_migration": True}})
        instance.migrated("completed", leaving)
        instance.wait("ACTIVE", staying)
        instance.assert_on(staying, leaving)
        lab.timings["drain_s"] = round(time.monotonic() - started, 1)

        kept = [{**h, "hostKey": lab.hosts[h["name"]].host_key} for h in stack_values(STACK)["hypervisors"]
                if h["name"] == staying.name]
        engine.apply(record(hypervisors=kept), label="rerun, a drained hypervisor removed")
        assert_planned_as_offline(engine)
        steps = {(s.name, s.op) for s in engine.history[-1].steps}
        assert {op for _, op in steps} <= {"delete", "replace", "delete-replaced", "update"}
        assert ("hypervisor-roster-update", "replace") in steps and (f"{leaving.name}-service-record", "delete") in steps
        assert f"nova-compute service removed: {leaving.name}" in engine.results["hypervisor-roster-update"].stdout
        # the one that stays trusts, and its root reaches as nova, only the hypervisors left;
        # nothing else of it changes
        assert {name for name, op in steps if op == "update"} == {
            f"{staying.name}-{file}{watch}" for file in ("nova-known-hosts", "libvirt-ssh-config") for watch in ("", "-watch")}
        assert leaving.name not in staying.path("/var/lib/nova/.ssh/known_hosts").read_text()
        assert str(leaving.address.ip) not in staying.path(
            "/etc/ssh/ssh_config.d/openstack-nova-migration.conf").read_text()
        listing = json.loads(openstack("compute", "service", "list", "-f", "json"))
        assert leaving.name not in {s["Host"] for s in listing}
        assert [h["Hypervisor Hostname"] for h in json.loads(openstack("hypervisor", "list", "-f", "json"))] == [
            staying.name]
        assert instance.status() == "ACTIVE"
        instance.assert_on(staying)
    finally:
        instance.delete([staying])


def test_refresh_sees_a_dropped_database_account_and_up_restores_it(deployment, lab):
    """Drift the database provider can see: nova's account dropped by hand. `pulumi refresh`
    (the provider's read) records it gone; the next `up` makes it again, and nothing else."""
    engine, rec, _ = deployment
    db = unwrap(rec.by_name("nova-db-mysql").raw_inputs)
    hosts = [h for h in db["hosts"]]
    lab.data.mysql("".join(f"DROP USER {sql_str(db['user'])}@{sql_str(host)};" for host in hosts),
                   what="drop nova's account by hand")
    changes = engine.refresh()
    assert changes.get("update") == 1, changes
    assert engine.apply(label="rerun after the account was dropped") == ["nova-db-mysql"]  # the config as it is
    assert sorted(lab.data.accounts(db["user"])) == sorted(f"{db['user']}@{host}" for host in hosts)


def test_no_secret_in_the_exported_state_or_the_backend(deployment, stack_secrets):
    """`pulumi stack export` (without --show-secrets) and every file of the backend, histories and
    backups included: no secret of the stack, raw, base64, hex or URL-encoded."""
    engine, _, _ = deployment
    exported = engine.export_text()
    files = [p for p in engine.backend.rglob("*") if p.is_file()]
    assert exported and files
    texts = [exported.encode()] + [p.read_bytes() for p in files]
    for name, value in stack_secrets.items():
        probe = "".join(value.split())[40:100] if "PrivateKey" in name else value  # a key: a run of its body
        forms = {probe, base64.b64encode(probe.encode()).decode(), probe.encode().hex(),
                 urllib.parse.quote(probe, safe=""), urllib.parse.quote_plus(probe)}
        assert not [f for f in forms for t in texts if f.encode() in t], name
