"""Bad input on the lab: the steps the program registers for it stop at once, with a message that
names the node and the fix (or the program refuses before it registers anything)."""
from __future__ import annotations

import subprocess
import time

import pytest

from tests.e2e.deployment import STACK
from lab.stack import stack_values
from tools.plan import unwrap

pytestmark = pytest.mark.e2e


def test_migration_that_cannot_work_fails_naming_the_node_and_the_fix(lab, record, hypervisor, other_hypervisor):
    """Bad input. A hypervisor whose myIp the other cannot reach: the other's migration check,
    as the program registers it, stops naming both nodes and the fix. A tls scheme without its
    certificates: the program refuses before it registers anything."""
    values = stack_values(STACK)
    pinned = [{**h, "hostKey": lab.hosts[h["name"]].host_key} for h in values["hypervisors"]]
    unreachable = "172.31.221.250"  # in the lab's subnet, no host there
    rec = record(hypervisors=[pinned[0], {**pinned[1], "myIp": unreachable}])
    script = unwrap(rec.by_name(f"{hypervisor.name}-migration-check").raw_inputs)["create"]
    started = time.monotonic()
    proc = hypervisor.run(["bash", "-c", script], check=False, timeout=120, what="migration check")
    assert time.monotonic() - started < 30
    assert proc.returncode == 1 and proc.stdout == ""
    assert (f"{hypervisor.name} cannot reach {other_hypervisor.name} at {unreachable}:22" in proc.stderr
            and f"set {other_hypervisor.name}'s myIp to an address {hypervisor.name} reaches" in proc.stderr), proc.stderr
    with pytest.raises(Exception) as refused:
        record(migration={"enabled": True, "scheme": "tls"})
    assert "migration.caFile: is required by scheme tls" in str(refused.value)


def test_a_forced_kvm_where_dev_kvm_is_missing_fails_saying_so(lab, record, controller, env):
    """Bad input: `virtType: kvm` on a host without /dev/kvm (here: the controller's host, which
    the lab gives no KVM device). The hypervisor's restart step, as the program registers it, stops
    at once with a message that names the host and the fix, instead of a nova-compute that never
    reports up."""
    values = stack_values(STACK)
    forced = [{**h, "hostKey": lab.hosts[h["name"]].host_key, "virtType": "kvm"} for h in values["hypervisors"]]
    rec = record(hypervisors=forced)
    script = unwrap(rec.by_name(f"{forced[0]['name']}-restart").raw_inputs)["create"]
    assert not controller.path("/dev/kvm").exists()
    started = time.monotonic()
    proc = subprocess.run(env.ssh_command(script), capture_output=True, text=True, timeout=60)
    assert time.monotonic() - started < 30
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == (f"virt_type kvm, but /dev/kvm is missing or unusable on {controller.name}: enable hardware "
                           "virtualisation (or nested KVM) or set the node's virtType to qemu\n")
