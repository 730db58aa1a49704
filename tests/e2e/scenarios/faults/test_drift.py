"""Drift on the nodes and in the database, made by hand on the installed stack: `pulumi refresh`
shows each drifted thing as a change (the file watches read the files over SSH, the database
provider reads the account), the next `up` restores exactly those and re-runs what depends on
them (a restart, a verify), and a preview after it shows nothing to change. The deployment is
left as the install made it, for the scenarios after this one."""
from __future__ import annotations

import pytest

from components.nova_node import NOVA_CONF, OPENRC
from lab.data import sql_str
from tools.plan import unwrap

pytestmark = pytest.mark.e2e

def planned_changes(engine) -> dict[str, str]:
    """What the last apply's preview planned, by resource name, unchanged ones left out."""
    return {urn.rsplit("::", 1)[-1]: row.op for urn, row in engine.history[-1].planned.items() if row.op != "same"}


def test_refresh_shows_hand_made_drift_and_up_repairs_exactly_it(deployment, lab, hypervisor, controller):
    engine, rec, _ = deployment
    conf_before = hypervisor.path(NOVA_CONF).read_text()
    openrc_before = controller.path(OPENRC).read_text()
    assert engine.apply(label="before the drift: nothing to do") == []

    # by hand: an option edited in a hypervisor's nova.conf, the controller's admin openrc
    # deleted, and nova's database account dropped
    hypervisor.run(["sh", "-c", f"echo 'debug = true  # by hand' >> {NOVA_CONF}"], what="edit nova.conf")
    controller.run(["rm", "-f", OPENRC], what="delete the admin openrc")
    db = unwrap(rec.by_name("nova-db-mysql").raw_inputs)
    lab.data.mysql("".join(f"DROP USER {sql_str(db['user'])}@{sql_str(host)};" for host in db["hosts"]),
                   what="drop nova's account by hand")

    shown = len(engine.printed)
    changes = engine.refresh()
    refreshed = "".join(engine.printed[shown:])
    assert changes.get("update") == 3, (changes, refreshed)
    # the CLI's lines: `~ pulumi-python:dynamic/files:FileWatch compute1-nova-conf-watch updated (0.7s)
    # [diff: ~drift]`; what drifted, in words, is in the state (and in `refresh --diff`)
    for name in (f"{hypervisor.name}-nova-conf-watch", "controller-openrc-watch", "nova-db-mysql"):
        assert [line for line in refreshed.splitlines() if f"{name} updated" in line], refreshed
    outputs = {r["urn"].rsplit("::", 1)[-1]: r.get("outputs") or {} for r in engine.exported()}
    assert outputs[f"{hypervisor.name}-nova-conf-watch"]["drift"] == "content differs"
    assert outputs["controller-openrc-watch"]["drift"] == "absent"

    repaired = {f"{hypervisor.name}-nova-conf-watch", f"{hypervisor.name}-nova-conf", f"{hypervisor.name}-restart",
                f"{hypervisor.name}-verify", "controller-openrc-watch", "controller-openrc", "controller-verify",
                "nova-db-mysql"}
    ran = engine.apply(label="up after the drift")
    assert set(ran) == repaired, ran
    assert planned_changes(engine) == {
        **{name: "replace" for name in repaired},
        f"{hypervisor.name}-nova-conf-watch": "update", "controller-openrc-watch": "update", "nova-db-mysql": "update"}
    # the order the graph states: the file first, then what depends on it
    order = [s.name for s in engine.history[-1].steps if s.op != "delete-replaced"]
    for before, after in ((f"{hypervisor.name}-nova-conf", f"{hypervisor.name}-restart"),
                          (f"{hypervisor.name}-restart", f"{hypervisor.name}-verify"),
                          ("controller-openrc", "controller-verify")):
        assert order.index(before) < order.index(after), order

    assert hypervisor.path(NOVA_CONF).read_text() == conf_before
    assert controller.path(OPENRC).read_text() == openrc_before
    assert oct(controller.path(OPENRC).stat().st_mode & 0o777) == "0o600"
    assert sorted(lab.data.accounts(db["user"])) == sorted(f"{db['user']}@{host}" for host in db["hosts"])

    assert engine.apply(label="after the repair: nothing to do") == []
    assert planned_changes(engine) == {}
    assert engine.refresh().get("update", 0) == 0  # nothing drifts any more
