"""A cloud of one's own (`./dev lab`): the seed tutorial's nodes as hosts of this machine, the
`lab` stack written for them, and the program run on it by the real engine.

The nodes are the seed's: db-node (MariaDB, RabbitMQ), auth-node (keystone), image-node
(glance), the controller (the seed's compute-node) and N hypervisors. Their addresses are fixed
(one lab at a time, on the lab's bridge). The `lab` stack lives with the lab, not in stacks/:
its file (LAB_PROJECT/stacks/Pulumi.lab.yaml, beside a copy of Pulumi.yaml) names hosts that
exist only while the lab does; `./dev preview lab` and `./dev up lab` find it there (as does
every engine command for the stack named `lab`), and `./dev lab down` removes it with the
hosts. Secrets are generated once (the lab's state, 0600), set in the stack as secrets
(`pulumi config set --secret`, on stdin) and never printed: the admin's are in an openrc file
only root can read.

Pure parts (the plan, the stack's settings, what to print) are functions of their inputs; the
rest is glue around the lab (lifecycle.py) and the engine (tools/engine)."""
from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence

from components.releases import profile
from lab.support.common import REGION, PrereqError, progress, write_private

from .common import STATE_DIR
from .data import MARIADB_PORT, RABBITMQ_PORT, account_host
from .lifecycle import DB_ADMIN, Lab, LabPlan
from .networking import NETWORK_PORT, PROVIDER_NETWORK
from .services import GLANCE_PORT, GUEST_IMAGE, KEYSTONE_PORT

STACK = "lab"
LAB_PROJECT = STATE_DIR / "project"  # Pulumi.yaml's copy and stacks/Pulumi.lab.yaml
PASSPHRASE_FILE = STATE_DIR / "passphrase"  # the lab stack's, when the caller sets none
OPENRC = STATE_DIR / "admin-openrc"
SUBNET = ipaddress.ip_network("172.31.221.0/24")  # the lab's bridge (the e2e's too: one lab at a time)
DB, AUTH, IMAGE, NETWORK, CONTROLLER = "db-node", "auth-node", "image-node", "network-node", "controller"
# the seed's hosts at .10-.12, the network node at .13, the controller at .20, hypervisors from .21
FIRST_HYPERVISOR = 21
MAX_HYPERVISORS = 16  # each a host with libvirt: more than a small machine holds anyway
DISTRO = "debian-13"  # the hosts' roots are Debian 13 (roots.SUITE)
RABBIT_USER = "openstack"  # the install guide's
# The stack's secrets: the lab's own accounts (the program logs in with them) and the program's,
# each generated once and kept in the lab's state (by these names).
LAB_SECRETS = {"keystoneAdminPassword": "keystone_admin", "dbAdminPassword": "db_admin", "rabbitPassword": "rabbit"}
PROGRAM_SECRETS = ("dbPassword", "novaPassword", "placementPassword", "placementDbPassword")


def releases() -> List[str]:
    """The releases the lab runs: those with a profile on the hosts' distribution."""
    from components.releases.catalog import PROFILES
    return sorted(release for release, distro in PROFILES if distro == DISTRO)


@dataclass(frozen=True)
class Topology:
    hypervisors: int = 2
    release: str = "2025.1"

    def problems(self) -> List[str]:
        found = []
        if not 1 <= self.hypervisors <= MAX_HYPERVISORS:
            found.append(f"--hypervisors {self.hypervisors}: give 1 to {MAX_HYPERVISORS}")
        if self.release not in releases():
            found.append(f"--release {self.release}: the lab's hosts run {DISTRO}, where this program knows "
                         f"{', '.join(releases())}; give one of them")
        return found

    def address(self, last: int) -> str:
        return str(SUBNET.network_address + last)

    @property
    def hypervisor_names(self) -> List[str]:
        return [f"compute{i}" for i in range(1, self.hypervisors + 1)]

    def nodes(self) -> Dict[str, str]:
        """The program's nodes: the controller, then each hypervisor, name -> address."""
        return {CONTROLLER: self.address(20),
                **{name: self.address(FIRST_HYPERVISOR + i) for i, name in enumerate(self.hypervisor_names)}}


def lab_plan(top: Topology) -> LabPlan:
    """The hosts of the topology: nova's packages waiting in the nodes' apt caches, placement
    deployed by the program (2025.1's controller), no browser (the tests' only)."""
    release = profile(top.release, DISTRO)
    packages = release.packaging.packages + release.packaging.placement_packages
    if release.packaging.dashboard:
        packages += release.packaging.dashboard.packages
    return LabPlan(gateway=f"{SUBNET.network_address + 1}/{SUBNET.prefixlen}", nodes=top.nodes(),
                   db=top.address(10), services=top.address(11), image=top.address(12), network=top.address(13),
                   node_packages=tuple(packages), hypervisors=tuple(top.hypervisor_names),
                   hypervisor_packages=release.packaging.compute_packages, rabbit_user=RABBIT_USER,
                   placement=False, browser=False, db_name=DB, services_name=AUTH, image_name=IMAGE,
                   network_name=NETWORK)


def stack_settings(top: Topology, host_keys: Mapping[str, str]) -> Dict[str, object]:
    """The `lab` stack's plain settings (full keys): the topology's addresses, each node's host
    key pinned (as its host generated it), and what a small machine's nested guests need."""
    nodes = top.nodes()

    def node(name: str) -> Dict[str, str]:
        return {"name": name, "host": nodes[name], "myIp": nodes[name], "hostKey": host_keys[name]}

    settings = {
        "release": top.release, "distro": DISTRO,
        "dbHost": top.address(10), "dbAdminUser": DB_ADMIN,
        "dbAllowedHosts": [account_host(ipaddress.ip_interface(lab_plan(top).gateway))],
        "dbDropOnDelete": True,
        "rabbitHost": top.address(10), "rabbitUser": RABBIT_USER,
        "keystoneHost": top.address(11),
        # a small machine: Debian's uwsgi would start 16 nova-api and 8 placement processes
        "workers": 2,
        "controller": node(CONTROLLER),
        "hypervisors": [node(name) for name in top.hypervisor_names],
        # QEMU's own CPU model: a guest starts whether or not KVM is nested (host-model asks for
        # MSRs a nested KVM cannot give, and the guest dies at start)
        "novaConf": {"libvirt": {"cpu_mode": "none"}},
        "dashboard": {"enabled": True},
    }
    return {f"openstack-nova:{key}": value for key, value in settings.items()}


def stack_secrets(secret: Callable[[str], str], ssh_private_key: str, networking: Mapping[str, str]) -> Dict[str, str]:
    """The `lab` stack's secrets (full keys), from the lab's state (`secret(name)` generates a
    value once and keeps it), the lab's client key (the program's SSH to every node) and what the
    lab's neutron gives nova (`networking`: neutronPassword, metadataSecret)."""
    values = {key: secret(name) for key, name in LAB_SECRETS.items()}
    values.update(networking)
    values.update({key: secret(f"stack_{key}") for key in PROGRAM_SECRETS})
    values["sshPrivateKey"] = ssh_private_key
    return {f"openstack-nova:{key}": value for key, value in values.items()}


def admin_env(keystone_url: str, password: str) -> Dict[str, str]:
    """The lab's admin as the openstack client reads it (OS_* variables, never argv)."""
    return {"OS_USERNAME": "admin", "OS_PASSWORD": password, "OS_PROJECT_NAME": "admin",
            "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default", "OS_AUTH_URL": keystone_url,
            "OS_IDENTITY_API_VERSION": "3", "OS_REGION_NAME": REGION, "OS_INTERFACE": "public"}


def openrc(keystone_url: str, password: str) -> str:
    """The admin's openrc, as the install guide writes admin-openrc (each value quoted for sh)."""
    import shlex
    return "# the lab's admin (./dev lab): source it where an openstack client runs\n" + "".join(
        f"export {key}={shlex.quote(value)}\n" for key, value in admin_env(keystone_url, password).items())


def next_steps(top: Topology, plan: LabPlan, passphrase_file: Optional[Path], dashboard_url: str) -> List[str]:
    """What a person needs next, once the stack is up (`dashboard_url`: the stack's output)."""
    hosts = [f"{name} {address}" for name, address in sorted(plan.addresses().items(), key=lambda kv: kv[1])]
    lines = [f"Your cloud is up: nova {top.release} on {DISTRO}, {top.hypervisors} hypervisor"
             f"{'s' if top.hypervisors > 1 else ''}.",
             "  hosts:      " + ", ".join(str(h).split("/")[0] for h in hosts),
             f"  dashboard:  {dashboard_url}  (user admin, domain Default; "
             f"the password is OS_PASSWORD in {OPENRC})",
             f"  openrc:     {OPENRC}  (root only)",
             "  try:        ./dev lab openstack compute service list",
             "              ./dev lab openstack network agent list   (neutron on network-node)",
             "              ./dev lab openstack flavor create --ram 128 --disk 1 --vcpus 1 m1.lab",
             f"              ./dev lab openstack server create --image {GUEST_IMAGE} --flavor m1.lab "
             f"--network {PROVIDER_NETWORK} --wait first",
             "              ./dev lab openstack console log show first   (the guest's DHCP address and its "
             "instance id from the metadata service)",
             f"  the stack:  {LAB_PROJECT / 'stacks' / 'Pulumi.lab.yaml'}; change it, then "
             "./dev preview lab and ./dev up lab",
             "  status:     ./dev lab status",
             "  remove it:  ./dev lab down"]
    if passphrase_file:
        lines.insert(-2, f"  secrets:    encrypted with the passphrase in {passphrase_file} (the engine "
                         "commands use it for the lab stack when you set none)")
    return lines


# -- the engine side ------------------------------------------------------------------------------
def lab_work_dir(stack: str, work_dir: Optional[Path]) -> Optional[Path]:
    """Where the engine commands read the stack from: the lab's project for the `lab` stack
    (when the project has no stacks/Pulumi.lab.yaml of its own), else `work_dir` as given."""
    from tools.plan.paths import PROJECT_ROOT
    if stack == STACK and work_dir is None and not (PROJECT_ROOT / "stacks" / "Pulumi.lab.yaml").exists() \
            and (LAB_PROJECT / "stacks").is_dir():
        return LAB_PROJECT
    return work_dir


def lab_passphrase(stack: str, env: Mapping[str, str]) -> Dict[str, str]:
    """The environment with the lab's passphrase file for the `lab` stack, when none is set."""
    if stack == STACK and not env.get("PULUMI_CONFIG_PASSPHRASE") and not env.get("PULUMI_CONFIG_PASSPHRASE_FILE") \
            and PASSPHRASE_FILE.is_file():
        return {**env, "PULUMI_CONFIG_PASSPHRASE_FILE": str(PASSPHRASE_FILE)}
    return dict(env)


def _project() -> Path:
    """The lab's project: Pulumi.yaml's copy (the settings' types and defaults) and stacks/."""
    from tools.plan.paths import PROJECT_ROOT
    (LAB_PROJECT / "stacks").mkdir(parents=True, exist_ok=True)
    os.chmod(LAB_PROJECT, 0o700)
    shutil.copyfile(PROJECT_ROOT / "Pulumi.yaml", LAB_PROJECT / "Pulumi.yaml")
    return LAB_PROJECT


def _engine_env() -> Dict[str, str]:
    """The engine's environment (the passphrase: the caller's, else the lab's own, made once),
    with the providers checked: a missing one stops `up` before anything is created."""
    from tools.engine.workspace import check_plugins, engine_env, toolchain
    env = dict(os.environ)
    if not env.get("PULUMI_CONFIG_PASSPHRASE") and not env.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        if not PASSPHRASE_FILE.is_file():
            import secrets
            STATE_DIR.mkdir(parents=True, exist_ok=True)
            write_private(PASSPHRASE_FILE, secrets.token_urlsafe(32) + "\n")
        env["PULUMI_CONFIG_PASSPHRASE_FILE"] = str(PASSPHRASE_FILE)
    env = engine_env(env, toolchain(env))
    check_plugins(env)
    return env


def up(top: Topology, say: Callable[[str], None] = print) -> int:
    """Bring the lab up (or take over the one this topology left running), write the `lab`
    stack and `up` it through the engine; the next steps printed. Exit status as `./dev up`'s."""
    import pulumi.automation as auto

    from tools.engine import recovery
    from tools.engine.workspace import PROJECT, EngineError, preview, select, set_config

    problems = top.problems()
    if problems:
        raise PrereqError("\n".join(problems))
    try:
        env = _engine_env()
    except EngineError as err:
        raise PrereqError(f"{err}\n(nothing was created)") from None
    held = recovery.held_locks(env["PULUMI_BACKEND_URL"], PROJECT, STACK)
    if held:
        raise PrereqError("\n".join([held, *recovery.lock_advice(STACK, held)]))
    plan = lab_plan(top)
    lab = Lab()
    started = time.monotonic()
    if lab.resume(plan):
        progress(f"the lab's hosts are up already ({', '.join(sorted(lab.hosts))}): using them")
    else:
        progress("bringing up the lab's hosts (the roots are built once: minutes the first time)")
        lab.up(plan)
        progress(f"the lab's hosts are up in {time.monotonic() - started:.0f} s")
    write_private(OPENRC, openrc(lab.services.keystone_url, lab.state.secret("keystone_admin")))
    stack = select(STACK, env, work_dir=_project())
    secrets_ = stack_secrets(lab.state.secret, lab.key_file.read_text(), {
        "neutronPassword": lab.networking.password, "metadataSecret": lab.networking.metadata_secret})
    set_config(stack, {**stack_settings(top, {n: h.host_key for n, h in lab.hosts.items()}), **secrets_}, set(secrets_))
    hosts_s = round(time.monotonic() - started)
    progress("the lab stack's settings written; `pulumi up` of it")
    deployed = time.monotonic()
    interrupted: List[int] = []

    def on_interrupt(signum, frame) -> None:  # as `./dev up` does: the CLI finishes its steps and saves
        if not interrupted:
            print(recovery.INTERRUPTED, file=sys.stderr, flush=True)
        interrupted.append(signum)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        preview(stack, on_output=say, color="never")
        result = stack.up(on_output=say, color="never")
    except auto.errors.CommandError as err:  # the CLI's progress is above; its error is the result's
        print(f"error: pulumi up {STACK} failed" + (" (interrupted)" if interrupted else ""), file=sys.stderr)
        print(str(err).partition("\n stderr: ")[2].strip(), file=sys.stderr)
        print("The hosts stay up: fix what it says, then `./dev lab up` (or `./dev up lab`) again; "
              "`./dev lab down` removes everything.", file=sys.stderr)
        return 130 if interrupted else 1
    finally:
        signal.signal(signal.SIGINT, previous)
        lab.abandon()  # the hosts stay up: the lock is the running command's, not the lab's
    changes = result.summary.resource_changes or {}
    say(f"up {STACK}: " + ", ".join(f"{n} {op}" for op, n in sorted(changes.items())))
    say(f"(the hosts {hosts_s} s, the program's up {time.monotonic() - deployed:.0f} s)")
    own = env.get("PULUMI_CONFIG_PASSPHRASE_FILE") == str(PASSPHRASE_FILE)
    dashboard = result.outputs.get("dashboard_url")
    for line in next_steps(top, plan, PASSPHRASE_FILE if own else None, dashboard.value if dashboard else "(none)"):
        say(line)
    return 0


def status(say: Callable[[str], None] = print) -> int:
    """Each host of the lab (running or not) and each service's port (answering or not)."""
    from lab.support.processes import pid_alive, port_open
    lab = Lab()
    plan = lab.state.data.get("plan")
    if not plan:
        say("no lab is up (./dev lab up brings one up)")
        return 1
    records, plan = lab.state.data.get("hosts", {}), LabPlan(**plan)
    ports = {plan.db_name: [("MariaDB", MARIADB_PORT), ("RabbitMQ", RABBITMQ_PORT)],
             plan.services_name: [("keystone", KEYSTONE_PORT)],
             plan.image_name if plan.image else plan.services_name: [("glance", GLANCE_PORT)]}
    if plan.networked:
        ports[plan.network_name] = [("neutron", NETWORK_PORT)]
    for name in plan.nodes:
        ports.setdefault(name, []).append(("sshd", 22))
    down = 0
    addresses = {name: str(address.ip) for name, address in plan.addresses().items()}
    for name, address in sorted(addresses.items(), key=lambda kv: ipaddress.ip_address(kv[1])):
        alive = pid_alive(records.get(name, {}).get("pid1", 0))
        answers = [f"{what} {'up' if alive and port_open(address, port) else 'DOWN'}" for what, port in ports.get(name, [])]
        down += (not alive) + sum("DOWN" in a for a in answers)
        say(f"{name:12} {address:15} {'running' if alive else 'STOPPED'}  " + ", ".join(answers))
    return 0 if not down else 1


def down(say: Callable[[str], None] = print) -> int:
    """The hosts taken down, and the `lab` stack removed with them (its resources lived in them)."""
    from tools.engine.workspace import EngineError, select
    lab = Lab()
    lab.down()
    if (LAB_PROJECT / "stacks" / "Pulumi.lab.yaml").exists():
        try:
            env = _engine_env()
            stack = select(STACK, env, work_dir=LAB_PROJECT)
            stack.workspace.remove_stack(STACK, force=True)
        except EngineError as err:
            say(f"warning: the lab stack's state was not removed from the backend ({err}); "
                "`./dev pulumi stack rm lab --force` removes it")
    shutil.rmtree(LAB_PROJECT, ignore_errors=True)
    OPENRC.unlink(missing_ok=True)
    say("the lab is down: its hosts, their files and the lab stack are gone")
    return 0


def openstack(args: Sequence[str]) -> int:
    """`openstack ARGS` as the lab's admin, run in auth-node (the machine needs no client); the
    credentials in OS_* variables, never in argv."""
    lab = Lab()
    plan = lab.state.data.get("plan")
    if not plan or not plan.get("services"):
        raise PrereqError("no lab is up (./dev lab up brings one up)")
    from .common import inner_env, nsenter
    from .node import Host
    plan = LabPlan(**plan)
    host = Host(plan.services_name, plan.addresses()[plan.services_name], lab.state)
    env = admin_env(f"http://{plan.services}:{KEYSTONE_PORT}/v3", lab.state.secret("keystone_admin"))
    done = subprocess.run(nsenter(host.pid, ["openstack", *args]), env=inner_env(env))
    return done.returncode
