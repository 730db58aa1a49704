"""components/controller.py under the mock runtime, per stack: the controller's steps in the
graph's order, after the database and the endpoints, and the release's own commands."""
from __future__ import annotations

from tests.support import CONTROLLER_STEPS


def test_controller_steps_are_ordered_by_the_graph(stack_run):
    _, rec = stack_run
    names = [f"controller-{s}" for s in CONTROLLER_STEPS]
    for before, after in zip(names, names[1:]):
        assert rec.depends(after, before), f"{after} must wait for {before}"
    assert rec.depends("controller-db-sync", "nova-db-mysql")
    for iface in ("public", "internal", "admin"):
        assert rec.depends("controller-verify", f"nova-identity-endpoint-{iface}")
    assert rec.depends("controller-verify", "controller-openrc")
    assert not rec.waits_for("controller-packages", "nova-db-mysql")


def test_release_specific_commands(stack_run):
    stack, rec = stack_run
    sync = rec.by_name("controller-db-sync").inputs["create"]
    packages = rec.by_name("controller-packages").inputs["create"]
    if stack == "tutorial":
        assert "su -s /bin/sh -c 'nova-manage db sync' nova" in sync
        assert "nova-api nova-cert nova-conductor nova-consoleauth nova-novncproxy nova-scheduler python-novaclient" in packages
    else:
        order = [sync.index(f"nova-manage {s}") for s in ("api_db sync", "cell_v2 map_cell0", "cell_v2 create_cell", "db sync")]
        assert order == sorted(order)
        assert "nova-api nova-conductor nova-novncproxy nova-scheduler" in packages
