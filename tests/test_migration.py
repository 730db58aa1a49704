"""Migration between the hypervisors (the stack's `migration` and `novaSshPrivateKey`): the
nova.conf options it renders, what config refuses (naming the node or key and the fix), nova's
key kept off every command line and plan, the steps' graph, and the scripts run in the sandbox."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from components.config.migration import nova_key
from components.migration import node_migration
from components.nova_conf import render_masked
from components.template_context import COMPUTE, CONTROLLER
from components.scripts import migration as scripts
from tests.conftest import service_unavailable
from tests.sandbox import free_port
from tests.support import SENTINEL, problems_for, record, sentinel_secrets, settings_for
from tools.plan import plan_json, plan_text, unwrap
from tools.plan.stack import placeholder

COMMAND = "command:remote:Command"


def openssh(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                             serialization.NoEncryption()).decode()


def host_key() -> str:
    public = ed25519.Ed25519PrivateKey.generate().public_key()
    return public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


NOVA_KEY = openssh(ed25519.Ed25519PrivateKey.generate())
KEYS = {"compute1": host_key(), "compute2": host_key(), "compute3": host_key()}


def dev_hypervisors(count: int = 2, **changes) -> list[dict]:
    nodes = [{"name": f"compute{i}", "host": f"dev-cmp{i}.lab.example.org", "myIp": f"10.20.0.{20 + i}",
              "hostKey": KEYS[f"compute{i}"], "virtType": "kvm"} for i in range(1, count + 1)]
    for index, change in changes.items():
        nodes[int(index.removeprefix("n"))].update(change)
    return nodes


def migrating(stack: str = "dev", secrets=None, count: int = 2, migration=None, **overrides):
    return settings_for(stack, {"novaSshPrivateKey": NOVA_KEY, **(secrets or {})},
                        migration=migration or {"enabled": True}, hypervisors=dev_hypervisors(count), **overrides)


# -- rendering ------------------------------------------------------------------------------------

def test_each_hypervisor_s_nova_conf_names_the_scheme_and_its_own_my_ip():
    s = migrating()
    for node in s.hypervisors:
        conf = render_masked(s, node, COMPUTE, virt_type="kvm")
        libvirt = conf.split("[libvirt]\n", 1)[1].split("\n\n", 1)[0]
        assert libvirt.splitlines() == ["virt_type = kvm", "live_migration_scheme = ssh",
                                        f"live_migration_inbound_addr = {node.my_ip}"]
    assert "live_migration" not in render_masked(s, s.controller, CONTROLLER)


def test_without_migration_nothing_is_rendered_and_the_key_is_not_needed():
    s = settings_for("dev")
    assert not s.migration.enabled
    assert "live_migration" not in render_masked(s, s.hypervisors[0], COMPUTE, virt_type="kvm")


def test_tls_scheme_renders_tls_with_its_certificates():
    s = migrating(migration={"enabled": True, "scheme": "tls", "caFile": "/etc/pki/m/ca.pem",
                             "certFile": "/etc/pki/m/cert.pem", "keyFile": "/etc/pki/m/key.pem"})
    assert "live_migration_scheme = tls\n" in render_masked(s, s.hypervisors[1], COMPUTE, virt_type="qemu")
    assert (s.migration.ca_file, s.migration.cert_file, s.migration.key_file) == (
        "/etc/pki/m/ca.pem", "/etc/pki/m/cert.pem", "/etc/pki/m/key.pem")


def test_an_ipv6_my_ip_is_the_inbound_address_as_is():
    s = settings_for("dev", {"novaSshPrivateKey": NOVA_KEY}, migration={"enabled": True},
                     hypervisors=dev_hypervisors(n0={"myIp": "fd00::21"}))
    assert "live_migration_inbound_addr = fd00::21\n" in render_masked(s, s.hypervisors[0], COMPUTE, virt_type="kvm")


# -- nova's key -----------------------------------------------------------------------------------

@pytest.mark.parametrize("make,kind", [(lambda: ed25519.Ed25519PrivateKey.generate(), "ed25519"),
                                       (lambda: rsa.generate_private_key(65537, 3072), "rsa"),
                                       (lambda: ec.generate_private_key(ec.SECP256R1()), "ecdsa")])
def test_the_public_key_is_derived_in_python(make, kind):
    key = make()
    public, found, error = nova_key(openssh(key))
    assert error is None and found == kind
    expected = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    assert public == expected + " nova-migration"


def test_the_derived_public_key_is_what_ssh_keygen_derives(tmp_path):
    if not shutil.which("ssh-keygen"):  # CI installs it (tools/test-services.sh): there, a failure
        service_unavailable("ssh-keygen is not installed (Debian: openssh-client)")
    path = tmp_path / "id"
    path.write_text(NOVA_KEY)
    path.chmod(0o600)
    derived = subprocess.run(["ssh-keygen", "-y", "-f", str(path)], capture_output=True, text=True, check=True).stdout
    assert nova_key(NOVA_KEY)[0].split()[:2] == derived.split()[:2]


def test_a_key_with_a_passphrase_or_no_key_at_all_is_refused_without_showing_it():
    locked = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.BestAvailableEncryption(b"pw"))
    for text, why in ((locked.decode(), "protected by a passphrase"), (f"{SENTINEL}-not-a-key", "is not an SSH private key")):
        problems = problems_for("dev", {"novaSshPrivateKey": text}, migration={"enabled": True},
                                hypervisors=dev_hypervisors())
        assert [p for p in problems if p.startswith("novaSshPrivateKey:")] == [
            p for p in problems if why in p and "ssh-keygen -t ed25519" in p]
        assert len(problems) == 1 and "Sentinel" not in problems[0] and "BEGIN" not in problems[0]


def test_a_short_rsa_key_is_refused():
    short = openssh(rsa.generate_private_key(65537, 1024))
    assert "1024-bit RSA key" in nova_key(short)[2]


def test_the_offline_plans_placeholder_is_a_key():
    public, kind, error = nova_key(placeholder("novaSshPrivateKey"))
    assert (kind, error) == ("ed25519", None) and public.startswith("ssh-ed25519 ")
    assert placeholder("novaSshPrivateKey") == placeholder("novaSshPrivateKey")  # stable from plan to plan


# -- what config refuses --------------------------------------------------------------------------

def test_migration_without_nova_s_key_names_the_setting_and_how_to_make_one():
    problems = problems_for("dev", migration={"enabled": True}, hypervisors=dev_hypervisors(), novaSshPrivateKey=None)
    assert problems == ["novaSshPrivateKey: is required by migration (nova ssh'es between the hypervisors for cold "
                        "migration and resize, and libvirt for live migration); create one with `ssh-keygen -t ed25519 "
                        "-N '' -C nova-migration -f nova_migration && pulumi config set --secret novaSshPrivateKey "
                        "< nova_migration`"]


def test_tls_without_certificates_names_each_key_and_the_fix():
    problems = problems_for("dev", {"novaSshPrivateKey": NOVA_KEY}, migration={"enabled": True, "scheme": "tls"},
                            hypervisors=dev_hypervisors())
    assert [p.split(":")[0] for p in problems] == ["migration.caFile", "migration.certFile", "migration.keyFile"]
    for p in problems:
        assert "is required by scheme tls" in p and "pulumi config set --path migration." in p and "use scheme ssh" in p


def test_certificates_with_the_ssh_scheme_are_refused():
    problems = problems_for("dev", {"novaSshPrivateKey": NOVA_KEY}, hypervisors=dev_hypervisors(),
                            migration={"enabled": True, "caFile": "/etc/ca.pem"})
    assert problems == ["migration.caFile: is a certificate for scheme tls, but the scheme is ssh; remove it or set "
                        "migration.scheme to tls"]


def test_a_hypervisor_without_a_pinned_host_key_is_named_with_the_fix():
    nodes = dev_hypervisors()
    del nodes[1]["hostKey"]
    problems = problems_for("dev", {"novaSshPrivateKey": NOVA_KEY}, migration={"enabled": True}, hypervisors=nodes)
    assert problems == ["hypervisors[1].hostKey: node 'compute2' has no pinned SSH host key, which migration needs: "
                        "the other hypervisors' nova trusts it by that key (known_hosts) and never accepts an unknown "
                        "one; set it to the output of `ssh-keyscan -t ed25519 10.20.0.22`"]


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "0.0.0.0", "169.254.0.5"])
def test_a_my_ip_no_other_hypervisor_can_reach_is_named_with_the_fix(address):
    problems = problems_for("dev", {"novaSshPrivateKey": NOVA_KEY}, migration={"enabled": True},
                            hypervisors=dev_hypervisors(n1={"myIp": address}))
    assert problems == [f"hypervisors[1].myIp: node 'compute2': {address} is not an address the other hypervisors can "
                        "reach, and migration sends instances there (libvirt and nova's ssh connect to myIp); set it "
                        "to the node's management address"]


def test_bad_migration_values_are_each_named():
    problems = problems_for("dev", {"novaSshPrivateKey": NOVA_KEY}, hypervisors=dev_hypervisors(),
                            migration={"enabled": "yes", "scheme": "tcp", "shared": True, "keyFile": "relative.pem"})
    assert [p.split(":")[0] for p in problems] == ["migration.shared", "migration.enabled", "migration.scheme",
                                                   "migration.keyFile"]
    assert "use ssh (qemu+ssh" in problems[2]
    assert problems_for("dev", migration=["on"]) == ["migration: must be a map, got list"]


def test_a_release_without_the_options_refuses_migration():
    problems = problems_for("tutorial", {"novaSshPrivateKey": NOVA_KEY}, migration={"enabled": True})
    assert any(p.startswith("migration.enabled: release liberty predates the live migration options") for p in problems)


def test_disabled_migration_needs_no_key_and_no_host_keys():
    assert not settings_for("dev", migration={"enabled": False, "scheme": "ssh"}).migration.enabled


# -- the program's graph ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def rec():
    secrets = {**sentinel_secrets(), "novaSshPrivateKey": NOVA_KEY}
    return record("dev", secrets=secrets, migration={"enabled": True}, hypervisors=dev_hypervisors(3))


def deps(rec, name: str) -> set[str]:
    return {urn.rsplit("::", 1)[1] for urn in rec.by_name(name).dependencies}


def test_each_hypervisor_gets_nova_s_ssh_files_after_its_packages(rec):
    for n in ("compute1", "compute2", "compute3"):
        assert deps(rec, f"{n}-ssh-home") == {f"{n}-packages"}
        for step in ("nova-ssh-key", "nova-authorized-keys", "nova-known-hosts"):
            assert deps(rec, f"{n}-{step}") == {f"{n}-ssh-home", f"{n}-{step}-watch"}
        key = unwrap(rec.by_name(f"{n}-nova-ssh-key").raw_inputs)
        assert "/var/lib/nova/.ssh/id_ed25519" in key["create"] and "chown nova:nova" in key["create"]
        assert key["stdin"] == NOVA_KEY.strip() + "\n"
        assert sorted(rec.by_name(f"{n}-nova-ssh-key").secret_inputs) == ["connection", "stdin"]
        authorized = unwrap(rec.by_name(f"{n}-nova-authorized-keys").raw_inputs)["stdin"]
        assert authorized == nova_key(NOVA_KEY)[0] + "\n"
        known = unwrap(rec.by_name(f"{n}-nova-known-hosts").raw_inputs)["stdin"]
        assert known.splitlines() == [f"10.20.0.2{i},compute{i} {KEYS[f'compute{i}']}" for i in (1, 2, 3)]
        # libvirtd (root) opens a live migration's qemu+ssh itself: as nova, with nova's key
        config = unwrap(rec.by_name(f"{n}-libvirt-ssh-config").raw_inputs)
        assert "/etc/ssh/ssh_config.d/openstack-nova-migration.conf" in config["create"]
        assert config["stdin"].splitlines()[1:] == [
            "Match localuser root host 10.20.0.21,10.20.0.22,10.20.0.23", "    User nova",
            "    IdentityFile /var/lib/nova/.ssh/id_ed25519", "    IdentitiesOnly yes",
            "    UserKnownHostsFile /var/lib/nova/.ssh/known_hosts", "    StrictHostKeyChecking yes", "    BatchMode yes"]
        assert deps(rec, f"{n}-libvirt-ssh-config") == {f"{n}-packages", f"{n}-libvirt-ssh-config-watch"}


def test_each_check_waits_for_its_own_files_and_every_hypervisor_s_authorized_keys(rec):
    """Through one marker: it waits for every hypervisor's authorized_keys, and each check for it
    (2N edges where each check waiting for every other's files made N x N)."""
    nodes = ("compute1", "compute2", "compute3")
    ready = rec.by_name("migration-peers-ready")
    assert ready.type == "pulumi:index:Stash" and ready.parent.endswith("MigrationPeers::migration")
    assert deps(rec, "migration-peers-ready") == {f"{n}-nova-authorized-keys" for n in nodes}
    for n in nodes:
        others = {o for o in nodes if o != n}
        files = ("nova-ssh-key", "nova-known-hosts", "libvirt-ssh-config")
        # and the watches of its files (their generation is in its trigger: a repaired file re-runs it)
        assert deps(rec, f"{n}-migration-check") == {*(f"{n}-{f}" for f in files), "migration-peers-ready",
                                                     *(f"{n}-{f}-watch" for f in (*files, "nova-authorized-keys"))}
        assert all(rec.waits_for(f"{n}-migration-check", f"{o}-nova-authorized-keys") for o in others)
        check = rec.by_name(f"{n}-migration-check")
        assert check.parent.endswith("MigrationPeers::migration")
        script = unwrap(check.raw_inputs)["create"]
        assert [line for line in script.splitlines() if line.startswith("check_peer ")] == [
            f"check_peer {o} 10.20.0.2{o[-1]}" for o in sorted(others)]  # never itself
        # the peers are in the digest: the known hosts are every hypervisor's myIp and name
        assert unwrap(check.raw_inputs)["triggers"] == [node_migration(migrating(count=3)).digest]


def test_with_tls_the_marker_waits_for_every_hypervisor_s_certificates_too():
    tls = {"enabled": True, "scheme": "tls", "caFile": "/etc/pki/m/ca.pem", "certFile": "/etc/pki/m/cert.pem",
           "keyFile": "/etc/pki/m/key.pem"}
    rec = record("dev", secrets={"novaSshPrivateKey": NOVA_KEY}, migration=tls, hypervisors=dev_hypervisors())
    assert deps(rec, "migration-peers-ready") == {f"compute{i}-{step}" for i in (1, 2)
                                                  for step in ("nova-authorized-keys", "libvirt-tls")}
    assert deps(rec, "compute1-migration-check") == {"compute1-nova-ssh-key", "compute1-nova-known-hosts",
                                                     "compute1-libvirt-tls", "migration-peers-ready",
                                                     *(f"compute1-{f}-watch" for f in (
                                                         "nova-ssh-key", "nova-known-hosts", "nova-authorized-keys"))}
    script = unwrap(rec.by_name("compute1-migration-check").raw_inputs)["create"]
    assert "check_peer compute2 10.20.0.22\n" in script and '"$address" 16514' in script


def test_a_check_runs_again_when_a_peer_s_address_changes(rec):
    moved = record("dev", secrets={"novaSshPrivateKey": NOVA_KEY}, migration={"enabled": True},
                   hypervisors=dev_hypervisors(3, n2={"myIp": "10.20.0.33"}))
    check = lambda r: unwrap(r.by_name("compute1-migration-check").raw_inputs)  # noqa: E731
    assert check(moved)["triggers"] != check(rec)["triggers"]
    assert "check_peer compute3 10.20.0.33\n" in check(moved)["create"]


def generated_hypervisors(count: int) -> list[dict]:
    """`count` hypervisors with names and addresses of one width (cmp01, 10.20.1.11, ...)."""
    return [{"name": f"cmp{i:02d}", "host": f"cmp{i:02d}.lab.example.org", "myIp": f"10.20.1.{10 + i}",
             "hostKey": host_key(), "virtType": "kvm"} for i in range(1, count + 1)]


def test_the_plan_grows_by_what_each_hypervisor_holds_about_each_other_not_by_copies_of_the_checks():
    """The plan of N hypervisors with migration: what grows with N x N is each one's known_hosts
    line and ssh_config address of every other one, and its check's one line per peer (about 150
    bytes of plan text a pair); the checks' code and dependencies grow with N. With the checks
    copied per peer and each check waiting for every other's files, a pair cost 1.2 KB."""
    plans = {}
    for count in (4, 8, 12):
        rec = record("dev", secrets={"novaSshPrivateKey": NOVA_KEY}, migration={"enabled": True},
                     hypervisors=generated_hypervisors(count))
        plans[count] = (len(plan_text(rec)), len(json.dumps(plan_json(rec))),
                        sum(len(r.dependencies) for r in rec.resources()))
    # f(N) = a N^2 + b N + c: the second difference over steps of 4 is 32 a, the cost of a pair
    text, as_json, edges = ((plans[12][i] - 2 * plans[8][i] + plans[4][i]) / 32 for i in range(3))
    assert text < 200 and as_json < 250, (text, as_json)
    assert edges == 0  # dependencies: linear in the number of hypervisors


def test_restart_is_triggered_by_nova_conf_only():
    """Enabling migration changes nova.conf (restart replaced through its content hash); the SSH
    files never trigger a restart (ssh reads them at each connection)."""
    before = record("dev", secrets={"novaSshPrivateKey": NOVA_KEY}, hypervisors=dev_hypervisors())
    after = record("dev", secrets={"novaSshPrivateKey": NOVA_KEY}, hypervisors=dev_hypervisors(),
                   migration={"enabled": True})
    restart = lambda r: unwrap(r.by_name("compute1-restart").raw_inputs)  # noqa: E731
    assert restart(before)["triggers"] != restart(after)["triggers"]
    assert deps(after, "compute1-restart") == deps(before, "compute1-restart")
    other_key = openssh(ed25519.Ed25519PrivateKey.generate())
    rotated = record("dev", secrets={"novaSshPrivateKey": other_key}, hypervisors=dev_hypervisors(),
                     migration={"enabled": True})
    assert restart(rotated)["triggers"] == restart(after)["triggers"]
    check = lambda r: unwrap(r.by_name("compute1-migration-check").raw_inputs)["triggers"]  # noqa: E731
    assert check(rotated) != check(after)  # a new key is checked again


def test_one_hypervisor_has_its_files_but_nothing_to_check():
    one = record("dev", secrets={"novaSshPrivateKey": NOVA_KEY}, hypervisors=dev_hypervisors(1),
                 migration={"enabled": True})
    names = {r.name for r in one.resources()}
    assert {"compute1-nova-ssh-key", "compute1-nova-known-hosts"} <= names
    assert not [n for n in names if "migration" in n]


def test_without_migration_no_migration_step_is_registered():
    names = {r.name for r in record("dev").resources()}
    assert not [n for n in names if "ssh" in n or "known-hosts" in n or "migration" in n]


def test_nova_s_private_key_is_in_no_command_text_and_no_plan(rec):
    body = "".join(NOVA_KEY.strip().splitlines()[1:-1])
    for r in rec.resources():
        if r.type == COMMAND:
            plain = {k: v for k, v in unwrap(r.raw_inputs).items() if k not in ("stdin", "connection")}
            assert body[10:60] not in "".join(json.dumps(plain).replace("\\n", "").split()), r.name
            assert "Sentinel" not in json.dumps(plain), r.name
            if "BEGIN OPENSSH" in str(unwrap(r.raw_inputs).get("stdin")):
                assert r.name.endswith("-nova-ssh-key") and "stdin" in r.secret_inputs
    for text in (plan_text(rec), json.dumps(plan_json(rec))):
        assert body[10:60] not in "".join(text.replace("\\n", "").split())
        assert "BEGIN OPENSSH PRIVATE KEY" not in text


# -- the scripts, in the sandbox ------------------------------------------------------------------

@pytest.fixture
def passwd_box(box):
    (box.state / "passwd").write_text("nova:x:64060:64060::/var/lib/nova:/usr/sbin/nologin\n")
    box.shim("getent", 'grep "^$2:" "$STATE/passwd"')
    box.shim("usermod", 'sed -i "s#:[^:]*\\$#:$2#" "$STATE/passwd"')
    box.shim("install", "exit 0")
    return box


def test_nova_gets_a_login_shell_and_its_ssh_directory(passwd_box):
    box = passwd_box
    first = box.run(scripts.nova_ssh_home())
    assert first.rc == 0, first.err
    assert first.out == "nova's shell: /bin/sh (was /usr/sbin/nologin)\nready: /var/lib/nova/.ssh\n"
    assert box.calls("usermod") == ["-s /bin/sh nova"]
    assert box.calls("install") == ["-d -o nova -g nova -m 0700 /var/lib/nova/.ssh"]
    again = box.run(scripts.nova_ssh_home())  # a rerun leaves a login shell alone
    assert again.out.startswith("nova's shell: /bin/sh\n") and box.calls("usermod") == ["-s /bin/sh nova"]


def test_a_node_without_nova_or_with_another_home_fails_saying_so(passwd_box):
    box = passwd_box
    (box.state / "passwd").write_text("nova:x:1:1::/home/nova:/bin/sh\n")
    result = box.run(scripts.nova_ssh_home())
    assert (result.rc, result.err) == (1, "nova's home is /home/nova, not /var/lib/nova: migration writes nova's SSH "
                                          "key under /var/lib/nova/.ssh\n")
    (box.state / "passwd").write_text("")
    result = box.run(scripts.nova_ssh_home())
    assert result.rc == 1 and "no nova user on this node" in result.err


@pytest.fixture
def peer_box(box):
    """A hypervisor whose peers' sshd (port 22, as the check probes it) is the port the test
    writes to $STATE/sshd-port: the probe's `timeout` is the real one, pointed there."""
    box.su_shim()
    box.shim("timeout", 'args=("$@")\n'
                        'if [ "${args[-1]}" = 22 ]; then args[-1]=$(cat "$STATE/sshd-port"); fi\n'
                        'exec /usr/bin/timeout "${args[@]}"')
    box.shim("ssh", '[ ! -e "$STATE/ssh-fails" ] || { echo "nova@${@: -2:1}: Permission denied (publickey)." >&2; exit 255; }')
    box.shim("virsh", '[ ! -e "$STATE/virsh-fails" ] || { echo "error: failed to connect to the hypervisor" >&2; exit 1; }\n'
                      'echo "Running hypervisor: QEMU 9.2.0"')
    return box


def test_the_check_logs_in_to_every_peer_as_nova(peer_box, listener):
    box = peer_box
    peers = [("compute2", "127.0.0.1"), ("compute3", "127.0.0.1")]  # (the listener's one address)
    (box.state / "sshd-port").write_text(str(listener))
    result = box.run(scripts.check_peers("compute1", peers, "ssh"))
    assert (result.rc, result.err) == (0, "")
    assert result.out == "migration peers reachable from compute1: compute2 compute3\n"
    assert box.calls("ssh") == ["-o BatchMode=yes -o ConnectTimeout=10 127.0.0.1 true"] * 2
    assert box.calls("virsh") == ["-c qemu+ssh://127.0.0.1/system version"] * 2  # as root: libvirtd's connection
    # as nova, the address in su's environment, never in the command its shell parses
    assert box.calls("su") == ['-s /bin/sh -c ssh -o BatchMode=yes -o ConnectTimeout=10 "$NOVA_MIGRATION_PEER" true nova'] * 2


def test_an_unreachable_peer_is_named_with_the_fix(peer_box):
    box = peer_box
    (box.state / "sshd-port").write_text(str(free_port()))
    result = box.run(scripts.check_peers("compute1", [("compute2", "127.0.0.1")], "ssh"))
    assert result.rc == 1 and result.out == ""
    assert result.err == ("migration check failed:\n  - compute1 cannot reach compute2 at 127.0.0.1:22 (ssh: nova's "
                          "cold migration and resize, libvirt's qemu+ssh): open TCP 22 from compute1 to compute2, "
                          "or set compute2's myIp to an address compute1 reaches\n")
    assert box.calls("ssh") == []


def test_a_refused_login_and_an_unreachable_libvirt_are_reported(peer_box, listener):
    box = peer_box
    (box.state / "sshd-port").write_text(str(listener))
    (box.state / "ssh-fails").touch()
    result = box.run(scripts.check_peers("compute1", [("compute2", "127.0.0.1")], "ssh"))
    assert result.rc == 1
    assert ("compute1: nova cannot log in to compute2 (127.0.0.1) by ssh: nova@127.0.0.1: Permission denied "
            "(publickey).; compute2 needs nova's authorized_keys") in result.err
    (box.state / "ssh-fails").unlink()
    (box.state / "virsh-fails").touch()
    result = box.run(scripts.check_peers("compute1", [("compute2", "127.0.0.1")], "ssh"))
    assert result.rc == 1 and "compute1: libvirtd (root) cannot reach compute2's libvirt at qemu+ssh://127.0.0.1/system: " \
                               "error: failed to connect to the hypervisor; root's ssh must log in to compute2 as nova" in result.err


def test_check_refuses_what_is_not_a_node_name_or_an_address():
    with pytest.raises(ValueError):
        scripts.check_peers("compute1", [("compute2", "host.example.org")], "ssh")
    with pytest.raises(ValueError):
        scripts.check_peers("compute1; reboot", [("compute2", "10.0.0.2")], "ssh")
    with pytest.raises(ValueError):
        scripts.check_peers("compute1", [("compute2", "10.0.0.2")], "tcp")


def test_tls_certificates_are_copied_once_and_a_missing_one_is_named(box, tmp_path):
    ca, cert, key = (tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem")
    script = scripts.libvirt_tls(str(ca), str(cert), str(key))
    result = box.run(script)
    assert result.rc == 1 and f"{ca} is missing or empty on this node" in result.err
