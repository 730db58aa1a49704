"""Servers of the scenarios' own on the lab's hypervisors, through the compute API, neutron's
API and libvirt."""
from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from typing import Optional

PORT = 8774  # nova-api on the controller
# A disk the test makes itself: 1 MiB of raw image with no boot signature (nova's format
# inspector refuses an MBR whose partition table is empty: "Image does not pass safety check").
# The guest's firmware finds nothing to boot and waits: its domain runs all the same.
DISK = b"openstack-nova e2e disk\n".ljust(1024 * 1024, b"\0")
# A server's `networks` is required from 2.37, a cold migration to a named host needs 2.56; the
# openstack client of Debian 13 accepts no microversion without novaclient, so the test speaks the
# compute API itself.
COMPUTE_MICROVERSION = "compute 2.37"
MIGRATE_MICROVERSION = "compute 2.56"


def neutron(env, method: str, path: str, body=None):
    """neutron's API (the lab's network node) as admin."""
    req = urllib.request.Request(f"{env.network_url}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"X-Auth-Token": env.keystone().token, "Content-Type": "application/json",
                                          "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"network API {method} {path}: HTTP {exc.code} {exc.read()[:500]!r}") from None
    return json.loads(raw) if raw else {}


def provider_network(env) -> dict:
    """The lab's provider network (lab/networking.py makes it, as the install guide does)."""
    found = neutron(env, "GET", "/v2.0/networks?name=provider")["networks"]
    assert len(found) == 1, f"the lab's provider network: {found}"
    return found[0]


def wait_for(what: str, check, timeout: float = 240, interval: float = 3):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout:.0f} s")
        time.sleep(interval)


def compute(env, method: str, path: str, body=None, version: str = COMPUTE_MICROVERSION):
    """The compute API as admin, at a microversion (2.37 unless told); None for a 404."""
    req = urllib.request.Request(f"http://{env.ssh_host}:{PORT}/v2.1{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"X-Auth-Token": env.keystone().token, "Content-Type": "application/json",
                                          "Accept": "application/json", "OpenStack-API-Version": version})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise AssertionError(f"compute API {method} {path}: HTTP {exc.code} {exc.read()[:500]!r}") from None
    return json.loads(raw) if raw else {}


class Instance:
    """A server of the test's own on the lab's provider network, booted on a named hypervisor:
    with `guest`, the lab's guest (lab/guest.py: it takes its address by DHCP, asks the metadata
    service, and says so on its console); else a blank raw disk the test uploads (its firmware
    finds nothing to boot and waits; its domain runs all the same). Seen through the listings,
    its port through neutron's API, and libvirt (the domain's UUID is the server's)."""

    def __init__(self, lab, env, openstack, name: str, guest: bool = False):
        self.env, self.openstack, self.name = env, openstack, name
        self.own_image = not guest
        if guest:
            assert lab.guest_image, "the lab uploads its guest to glance (a lab with a network node)"
            self.image = {"id": lab.guest_image}
        else:
            lab.services.host.path(f"/root/{name}.img").write_bytes(DISK)
            # (os_shutdown_timeout: a cold migration or resize first asks the guest to shut down
            # and waits for it, 60 s by default; this one has no OS to answer)
            self.image = json.loads(openstack("image", "create", "--disk-format", "raw", "--container-format", "bare",
                                              "--property", "os_shutdown_timeout=5", "--file", f"/root/{name}.img",
                                              "--public", name, "-f", "json"))
        # (the guest's kernel and initrd want more than the blank disk's firmware)
        self.flavor = json.loads(openstack("flavor", "create", "--ram", "128" if guest else "64", "--disk", "1",
                                           "--vcpus", "1", name, "-f", "json"))
        self.id = ""
        self.flavors = [self.flavor]
        self.network = provider_network(env)

    def boot(self, hypervisor, user_data: str = "") -> float:
        """ACTIVE on `hypervisor` (an admin's availability zone `nova:<host>`) within a bound, on
        the provider network, its domain running there; returns the seconds to ACTIVE."""
        started = time.monotonic()
        server = {"name": self.name, "imageRef": self.image["id"], "flavorRef": self.flavor["id"],
                  "networks": [{"uuid": self.network["id"]}], "availability_zone": f"nova:{hypervisor.name}"}
        if user_data:
            server["user_data"] = base64.b64encode(user_data.encode()).decode()
        self.id = compute(self.env, "POST", "/servers", {"server": server})["server"]["id"]
        self.wait("ACTIVE", hypervisor)
        seconds = time.monotonic() - started
        self.assert_on(hypervisor)
        return seconds

    def ports(self) -> list:
        """neutron's ports of the server."""
        return neutron(self.env, "GET", f"/v2.0/ports?device_id={self.id}")["ports"]

    def port(self) -> dict:
        found = self.ports()
        assert len(found) == 1, f"server {self.id} has {len(found)} ports"
        return found[0]

    def console(self) -> str:
        """What the guest wrote on its serial console, as nova keeps it (the console log)."""
        return compute(self.env, "POST", f"/servers/{self.id}/action", {"os-getConsoleOutput": {}})["output"]

    def said(self, line: str, timeout: float = 240) -> float:
        """Wait until the guest's console has `line` (whole, after its "nova-lab-guest: "
        prefix); the seconds it took. Shows the console when it does not come."""
        started = time.monotonic()
        wanted = f"nova-lab-guest: {line}"

        def seen():
            return wanted in [text.rstrip("\r") for text in self.console().splitlines()]
        try:
            wait_for(f"the guest to say {line!r}", seen, timeout=timeout, interval=2)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; its console:\n{self.console()[-3000:]}") from None
        return time.monotonic() - started

    def status(self) -> Optional[str]:
        for status in ("ACTIVE", "VERIFY_RESIZE", "ERROR", "MIGRATING", "RESIZE", "SHUTOFF"):
            if self.id in {x["id"] for x in compute(self.env, "GET", f"/servers?name={self.name}&status={status}")["servers"]}:
                return status
        return None

    def wait(self, wanted: str, hypervisor, timeout: float = 240) -> None:
        def settled():
            status = self.status()
            return status if status in (wanted, "ERROR") else None
        seen = wait_for(f"the server to become {wanted}", settled, timeout=timeout)
        if seen != wanted:
            log = hypervisor.path("/var/log/nova/nova-compute.log").read_text(errors="replace").splitlines()
            why = [line for line in log if ("ERROR" in line or "Error" in line) and "Traceback" not in line
                   and "File " not in line]
            raise AssertionError(f"the server went to {seen}, not {wanted}; what {hypervisor.name}'s nova-compute "
                                 "said:\n" + "\n".join(why[-8:]))

    def host(self) -> list[str]:
        """The hypervisors nova lists it on (2.37's per-hypervisor server listing)."""
        return [h["hypervisor_hostname"] for h in compute(self.env, "GET", "/os-hypervisors/detail")["hypervisors"]
                if self.id in {x["uuid"] for x in (compute(self.env, "GET", f"/os-hypervisors/{h['hypervisor_hostname']}/servers")
                                                   ["hypervisors"][0].get("servers") or [])}]

    def assert_on(self, hypervisor, *others) -> None:
        """nova places it on `hypervisor`, whose libvirt runs its domain; gone from `others`' libvirt."""
        assert self.host() == [hypervisor.name]
        assert self.id in domains(hypervisor, running=True)
        for other in others:
            assert self.id not in domains(other), f"{self.id} still defined on {other.name}"

    def action(self, body: dict, version: str = COMPUTE_MICROVERSION) -> None:
        compute(self.env, "POST", f"/servers/{self.id}/action", body, version=version)

    def migrated(self, wanted: str, hypervisor, timeout: float = 300) -> dict:
        """Wait for its last migration to reach `wanted` (or fail); the record."""
        def settled():
            record = self.migration()
            return record if record.get("status") in (wanted, "error", "failed") else None
        record = wait_for(f"the migration to be {wanted}", settled, timeout=timeout)
        if record["status"] != wanted:
            log = hypervisor.path("/var/log/nova/nova-compute.log").read_text(errors="replace").splitlines()
            raise AssertionError(f"the {record.get('migration_type')} migration is {record['status']}; "
                                 f"{hypervisor.name}'s nova-compute said:\n" + "\n".join(
                                     [line for line in log if "ERROR" in line][-8:]))
        return record

    def migration(self) -> dict:
        """The server's last migration record (its status: completed, finished, confirmed, error...)."""
        found = [m for m in compute(self.env, "GET", "/os-migrations")["migrations"] if m["instance_uuid"] == self.id]
        return max(found, key=lambda m: m["id"]) if found else {}

    def delete(self, hypervisors) -> None:
        if self.id:
            compute(self.env, "DELETE", f"/servers/{self.id}")
            wait_for("the server to be deleted", lambda: self.id not in {
                x["id"] for x in compute(self.env, "GET", f"/servers?name={self.name}")["servers"]})
        for flavor in self.flavors:
            self.openstack("flavor", "delete", flavor["id"])
        if self.own_image:
            self.openstack("image", "delete", self.image["id"])
        if self.id:  # neutron deletes the server's port with it (nova made it)
            wait_for("the server's port to go", lambda: not self.ports(), timeout=60)
        for hypervisor in hypervisors:
            wait_for(f"its libvirt domain to go from {hypervisor.name}", lambda: self.id not in domains(hypervisor),
                     timeout=60)


def domains(hypervisor, running: bool = False) -> list[str]:
    """The UUIDs of the libvirt domains on a hypervisor (running ones only, or every defined one)."""
    return hypervisor.run(["virsh", "-c", "qemu:///system", "list", "--uuid", *([] if running else ["--all"])],
                          what="virsh list").stdout.split()


def boot_and_delete(lab, env, openstack, hypervisor, name: str) -> float:
    """An instance ACTIVE on the hypervisor within a bound, its libvirt domain running there;
    deleted, it is gone from nova and from libvirt. Returns the seconds to ACTIVE."""
    instance = Instance(lab, env, openstack, name)
    try:
        return instance.boot(hypervisor)
    finally:  # a failed boot must not leave a server that blocks the hypervisor's removal
        instance.delete([hypervisor])
