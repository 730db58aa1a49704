"""A lab: the test hosts a test needs, brought up and taken down as one.

`up` first takes down whatever an earlier run left (its state is at a fixed place, STATE_DIR,
not in a per-session temporary directory), then: roots (cached) -> bridge and the mirrors'
forwarder -> hosts -> the db host's MariaDB and RabbitMQ and their accounts -> services, each
phase timed. `down` stops every process by pid (each host's PID 1; the forwarder), deletes the
namespaces and the bridge, and removes the hosts' writable layers: the databases, accounts and
queues lived in the db host's, and nothing of the lab is left on the machine. One lab at a time:
a lock file held from `up` to `down` stops a second run from taking down a lab in use."""
from __future__ import annotations

import fcntl
import ipaddress
import json
import os
import shutil
import signal
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from lab.support.common import REGION, PrereqError, log, run, timed, write_private
from lab.support.environment import E2EEnvironment
from lab.support.processes import pid_alive, port_open, signal_quietly, start_daemon, stop_daemon, wait_until
from lab.support.state import State

from . import network, roots
from .guest import Guest, ensure_guest
from .common import STATE_DIR, ensure_tools, kvm_runs_unmodified_guests, require_root
from .data import DataHost, account_host
from .networking import Networking
from .node import Host, _pidns
from .services import DB_PREFIX, Services

SERVICES_HOST = "e2e-services"
DB_HOST = "e2e-db"
IMAGE_HOST = "e2e-images"
NETWORK_HOST = "e2e-network"
DB_ADMIN = DB_PREFIX + "admin"  # the program's dbAdminUser in a lab
FORWARDER = Path(__file__).with_name("forward.py")


@dataclass
class LabPlan:
    gateway: str  # the machine's address on the bridge, with the prefix: "172.31.221.1/24"
    nodes: Dict[str, str]  # the program's nodes: name -> address
    db: str  # the db host's address: MariaDB and RabbitMQ
    services: Optional[str] = None  # the services host's address: keystone (None: no services host)
    image: Optional[str] = None  # the image host's address: glance (None: on the services host)
    network: Optional[str] = None  # the network node's address: neutron (None: no network service)
    node_packages: Tuple[str, ...] = ()  # kept in the nodes' apt cache
    hypervisors: Tuple[str, ...] = ()  # nodes (of `nodes`) on the hypervisor root, libvirtd up, /dev/kvm bound
    # in where it runs unmodified guests (common.kvm_runs_unmodified_guests)
    hypervisor_packages: Tuple[str, ...] = ()  # kept in the hypervisors' apt cache
    rabbit_user: str = "nova-e2e-hosts"
    placement: bool = True  # the services host serves placement (False: the program deploys it)
    browser: bool = True  # the services host serves a headless browser (the dashboard's test)
    db_name: str = DB_HOST  # the hosts' names (the seed's: db-node, auth-node, image-node)
    services_name: str = SERVICES_HOST
    image_name: str = IMAGE_HOST
    network_name: str = NETWORK_HOST

    def addresses(self) -> Dict[str, ipaddress.IPv4Interface]:
        prefix = ipaddress.ip_interface(self.gateway).network.prefixlen
        named = dict(self.nodes, **{self.db_name: self.db})
        named.update({self.services_name: self.services} if self.services else {})
        named.update({self.image_name: self.image} if self.services and self.image else {})
        named.update({self.network_name: self.network} if self.services and self.network else {})
        if len(named) != len(self.nodes) + 1 + bool(self.services) + bool(self.services and self.image) + \
                bool(self.services and self.network):
            raise PrereqError(f"the lab's host names must differ: {sorted(named)}")
        if len(set(named.values())) != len(named):
            raise PrereqError(f"the lab's host addresses must differ: {sorted(named.items())}")
        return {name: ipaddress.ip_interface(f"{addr}/{prefix}") for name, addr in named.items()}

    @property
    def controller(self) -> str:
        """The node that is no hypervisor (nova's APIs, the metadata API neutron proxies to)."""
        others = [name for name in self.nodes if name not in self.hypervisors]
        if len(others) != 1:
            raise PrereqError(f"the lab's nodes must be one controller and its hypervisors: {sorted(self.nodes)}")
        return others[0]

    @property
    def networked(self) -> bool:
        """The lab runs neutron (a network node, and its agent on every hypervisor)."""
        return bool(self.services and self.network)


@dataclass
class Lab:
    state_dir: Path = STATE_DIR
    timings: Dict[str, float] = field(default_factory=dict)
    hosts: Dict[str, Host] = field(default_factory=dict)
    services: Optional[Services] = None
    data: Optional[DataHost] = None
    networking: Optional[Networking] = None
    installed_on_machine: List[str] = field(default_factory=list)
    _lock: Optional[int] = None

    def __post_init__(self) -> None:
        self.state = State(self.state_dir)

    # -- up ---------------------------------------------------------------------------------------
    def up(self, plan: LabPlan) -> None:
        require_root()
        self._acquire()
        with timed(self.timings, "leftovers_s"):
            self._down()  # whatever an earlier, unfinished run left
        self.state = State(self.state_dir)
        self.state.ensure_dir()
        self.state.data["plan"] = asdict(plan)
        self.state.save()
        gateway = ipaddress.ip_interface(plan.gateway)
        self.installed_on_machine = ensure_tools()
        with timed(self.timings, "root_build_s"):
            node_root = self._root(roots.node_recipe(plan.node_packages))
            db_root = self._root(roots.DB)
            services_root = self._root(roots.SERVICES) if plan.services else None
            network_root = self._root(roots.NETWORK) if plan.networked else None
            hypervisor_root = self._root(roots.hypervisor_recipe(plan.hypervisor_packages)) if plan.hypervisors else None
            guest = ensure_guest() if plan.networked else None
            if guest:
                self.timings["root_guest_s"] = guest.seconds_built
        with timed(self.timings, "network_s"):
            network.create_bridge(self.state, gateway)
            mirrors = self._forward(gateway)
        with timed(self.timings, "hosts_s"):
            key = self._client_key()
            addresses = plan.addresses()
            etc_hosts = _etc_hosts(gateway, mirrors, addresses)
            for index, (name, address) in enumerate(sorted(addresses.items())):
                host = self.hosts[name] = Host(name, address, self.state)
                network_node = plan.networked and name == plan.network_name
                lower = (services_root if name in (plan.services_name, plan.image_name) else
                         network_root if network_node else db_root if name == plan.db_name else
                         hypervisor_root if name in plan.hypervisors else node_root)
                # neutron's provider network: a second port on the bridge for its agents' hosts
                provider = plan.networked and (network_node or name in plan.hypervisors)
                # kvm: a hypervisor's guests; net/tun: their tap devices, and Open vSwitch's
                # internal ports (its userspace datapath serves them as tap devices)
                devices = ("kvm",) if name in plan.hypervisors and kvm_runs_unmodified_guests() else ()
                host.start(lower, network.add_host(self.state, name, index, address, provider=provider), etc_hosts, key,
                           devices=devices + (("net/tun",) if provider else ()))
            for name in plan.hypervisors:
                with timed(self.timings, "libvirt_s"):
                    self.hosts[name].start_libvirt()
            write_private(self.known_hosts, "".join(f"{h.address.ip} {h.host_key}\n" for h in self.hosts.values()))
        with timed(self.timings, "db_s"):
            data = self.data = DataHost(self.hosts[plan.db_name], account_host(gateway))
            data.start()
            data.ensure_account(DB_ADMIN, self.state.secret("db_admin"),
                                ["GRANT ALL PRIVILEGES ON *.* TO {who} WITH GRANT OPTION;"])
            data.ensure_rabbit_user(plan.rabbit_user, self.state.secret("rabbit"))
        if plan.services:
            svc = self.services = self._services(plan)
            steps = [("keystone", svc.keystone), ("glance", svc.glance)]
            steps += [("network", self.networking.start)] if self._networking(plan) else []
            steps += [("guest", lambda: self._upload_guest(guest))] if guest else []
            steps += [("browser", svc.browser)] if plan.browser else []
            steps += [("placement", svc.placement)] if plan.placement else []
            for name, step in steps:
                with timed(self.timings, f"services_{name}_s"):
                    step()
            self.timings["services_s"] = round(sum(self.timings[f"services_{n}_s"] for n, _ in steps), 1)
        self.state.data["timings"] = self.timings
        self.state.data["ready"] = True  # every phase done: what `resume` may take over
        self.state.save()

    def _upload_guest(self, guest: Guest) -> None:
        self.state.data["guest_image"] = self.services.guest_image(guest)
        self.state.save()

    @property
    def guest_image(self) -> str:
        """glance's id of the lab's guest (a networked lab's: guest.py), "" when it has none."""
        return self.state.data.get("guest_image", "")

    def _networking(self, plan: LabPlan) -> Optional[Networking]:
        if plan.networked:
            self.networking = Networking(self.state, self.hosts[plan.network_name],
                                         [self.hosts[name] for name in plan.hypervisors], self.data, self.services,
                                         plan.rabbit_user, str(self.hosts[plan.controller].address.ip),
                                         ipaddress.ip_interface(plan.gateway))
        return self.networking

    def _services(self, plan: LabPlan) -> Services:
        gateway = ipaddress.ip_interface(plan.gateway)
        return Services(self.state, self.hosts[plan.services_name], str(gateway.ip), self.data,
                        image_host=self.hosts[plan.image_name] if plan.image else None)

    def resume(self, plan: LabPlan) -> bool:
        """Take over the lab an earlier `up` of this same plan left running (every host's PID 1
        alive): True, with its hosts and services ready to use; False (nothing changed) when
        there is none, or it is another plan's, or a part of it is gone."""
        require_root()
        self._acquire()
        state = State(self.state_dir)
        if not state.data.get("ready") or state.data.get("plan") != json.loads(json.dumps(asdict(plan))):
            return False  # (an `up` interrupted half-way, or another plan's lab; the plan as state.json holds it)
        records = state.data.get("hosts", {})
        addresses = plan.addresses()
        if set(records) != set(addresses) or not all(
                pid_alive(r.get("pid1", 0)) and _pidns(r["pid1"]) == r.get("pidns") for r in records.values()):
            return False
        self.state = state
        self.hosts = {name: Host(name, address, state) for name, address in addresses.items()}
        self.data = DataHost(self.hosts[plan.db_name], account_host(ipaddress.ip_interface(plan.gateway)))
        self.services = self._services(plan) if plan.services else None
        self._networking(plan)
        self.timings.update(state.data.get("timings", {}))
        return True

    def _acquire(self) -> None:
        if self._lock is not None:
            return
        self.state.ensure_dir()
        fd = os.open(self.state.dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise PrereqError(f"another run is using the test hosts ({self.state.dir}/lock is held)") from None
        self._lock = fd

    def _root(self, recipe: roots.Recipe) -> Path:
        path, built = roots.ensure(recipe)
        for name, seconds in built.items():
            self.timings[f"root_{name}_s"] = max(seconds, self.timings.get(f"root_{name}_s", 0.0))
        return path

    def _forward(self, gateway: ipaddress.IPv4Interface) -> Dict[str, str]:
        """Start the forwarder: each mirror host of the machine's apt on an address of its own
        on the bridge (the hosts' /etc/hosts name it there). Returns host -> address."""
        routes: List[str] = []
        mirrors: Dict[str, str] = {}
        for uri in filter(None, roots.machine_mirrors()):
            parts = urlsplit(uri)
            if parts.hostname in mirrors:
                continue
            address = str(gateway.network.broadcast_address - 1 - len(mirrors))
            run(["ip", "addr", "replace", f"{address}/{gateway.network.prefixlen}", "dev", network.BRIDGE],
                what="mirror address")
            mirrors[parts.hostname] = address
            port = parts.port or (443 if parts.scheme == "https" else 80)
            routes.append(f"{address}:{port}={parts.hostname}:{port}")
        listens = [route.split("=")[0].rsplit(":", 1) for route in routes]
        first = listens[0]
        start_daemon(self.state, "forwarder", [sys.executable, str(FORWARDER), *routes], "forward.py",
                     taken=lambda: port_open(first[0], int(first[1])), resource=":".join(first))
        wait_until(lambda: all(port_open(address, int(port)) for address, port in listens),
                   what="the forwarder to listen", timeout=30, interval=0.2, pid=self.state.pids["forwarder"],
                   logfile=self.state.log_path("forwarder.out"))
        return mirrors

    @property
    def key_file(self) -> Path:
        return self.state.dir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.state.dir / "known_hosts"

    def _client_key(self) -> str:
        for path in (self.key_file, self.key_file.with_suffix(".pub")):
            path.unlink(missing_ok=True)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "nova-e2e-hosts", "-f", str(self.key_file)],
            what="ssh-keygen (the test's key)")
        return self.key_file.with_suffix(".pub").read_text()

    def environment(self, node: str) -> E2EEnvironment:
        """The E2EEnvironment of `node` (what the engine connects to), with the lab's services."""
        plan, svc, host = self.state.data["plan"], self.services, self.hosts[node]
        return E2EEnvironment(
            keystone_url=svc.keystone_url if svc else "", admin_user="admin",
            admin_password=self.state.secret("keystone_admin"), admin_project="admin", region=REGION,
            rabbit_user=plan["rabbit_user"], rabbit_password=self.state.secret("rabbit"),
            ssh_host=str(host.address.ip), ssh_port=22, ssh_user="root", ssh_private_key=self.key_file.read_text(),
            placement_user="placement", placement_password=self.state.secret("placement"),
            db_admin_user=DB_ADMIN, db_admin_password=self.state.secret("db_admin"),
            state_dir=str(self.state.dir), placement_url=svc.placement_url if svc and plan["placement"] else "",
            ssh_private_key_file=str(self.key_file), timings=self.timings, webdriver_url=svc.webdriver_url if svc else "",
            known_hosts_file=str(self.known_hosts), node=node, glance_url=svc.glance_url if svc else "",
            network_url=self.networking.url if self.networking else "",
            neutron_password=self.networking.password if self.networking else "",
            metadata_secret=self.networking.metadata_secret if self.networking else "")

    # -- down -------------------------------------------------------------------------------------
    def down(self) -> None:
        try:
            self._down()
        finally:
            self.abandon()

    def abandon(self) -> None:
        """Let go of the lab without taking it down: what a killed run leaves (for tests)."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def _down(self) -> None:
        state = self.state = State(self.state_dir)
        errors: List[str] = []

        def attempt(what: str, fn: Callable, *args) -> None:
            try:
                fn(*args)
            except Exception as exc:  # keep undoing the rest
                errors.append(f"{what}: {exc}")

        names = set(state.data.get("hosts", {})) | {p[len("host-"):] for p in state.pids if p.startswith("host-")}
        for name in sorted(names):
            attempt(f"stop host {name}", Host(name, None, state).stop)
        attempt("stop the forwarder", stop_daemon, state, "forwarder", "forward.py")
        attempt("stop an unrecorded forwarder", _stop_unrecorded_forwarders)
        attempt("delete the network", network.delete_all, state)
        attempt("sweep the lab's names", network.sweep)  # a lost state: namespaces and bridge by name
        attempt("remove the hosts' writable layers", _remove_host_dirs, state)
        for path in (self.key_file, self.key_file.with_suffix(".pub"), self.known_hosts):
            path.unlink(missing_ok=True)
        state.data = {"timings": state.data.get("timings", {})}
        state.save()
        self.hosts, self.services, self.data, self.networking = {}, None, None, None
        if errors:
            raise PrereqError("teardown of the test hosts incomplete:\n" + "\n".join(errors))


def _remove_host_dirs(state: State) -> None:
    """Every host's upper layer (once its namespaces are gone: nothing is mounted there)."""
    hosts = state.dir / "hosts"
    for path in sorted(hosts.iterdir()) if hosts.is_dir() else ():
        if os.path.ismount(path / "root"):
            raise PrereqError(f"{path / 'root'} is mounted on the machine: not removing it")
        shutil.rmtree(path)
    state.data.get("created", {}).pop("host_dirs", None)


def _stop_unrecorded_forwarders() -> None:
    """This checkout's forwarder left by a run whose state was lost (found by its script's path)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if len(argv) > 1 and argv[1] == str(FORWARDER).encode():
                log(f"stopping a leftover forwarder (pid {entry.name})")
                signal_quietly(int(entry.name), signal.SIGTERM)


def _etc_hosts(gateway: ipaddress.IPv4Interface, mirrors: Dict[str, str],
               hosts: Dict[str, ipaddress.IPv4Interface]) -> str:
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback", f"{gateway.ip}\tnova-e2e-gateway"]
    lines += [f"{address}\t{name}" for name, address in mirrors.items()]
    lines += [f"{address.ip}\t{name}" for name, address in sorted(hosts.items())]
    return "# nova e2e lab\n" + "\n".join(lines) + "\n"
