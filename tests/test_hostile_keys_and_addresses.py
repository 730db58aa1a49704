"""Hostile SSH host keys and addresses: pinned host keys only as ssh-keygen loads them and only
for the node they name, and an IPv4-mapped IPv6 address seen as the IPv4 machine it is by every
address rule. What is refused is refused before anything is registered, naming the key; the
comparisons with OpenSSH run its real ssh-keygen."""
from __future__ import annotations

import base64
import hashlib
import hmac
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from components.nova_conf import COMPUTE, render_masked
from components.validate import ssh_host_key
from tests.conftest import service_unavailable
from tests.support import record, settings_for
from tests.test_hostile_settings import named, refused
from tools.plan import unwrap

PEM, OPENSSH = serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH


def private_text(key, form) -> str:
    return key.private_bytes(PEM, form, serialization.NoEncryption()).decode()


def public_line(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


HOST_KEYS = {f"compute{i}": public_line(ed25519.Ed25519PrivateKey.generate()) for i in (1, 2)}
NOVA_KEY = private_text(ed25519.Ed25519PrivateKey.generate(), OPENSSH)


def hypervisors(**changes) -> list[dict]:
    nodes = [{"name": f"compute{i}", "host": f"dev-cmp{i}.lab.example.org", "myIp": f"10.20.0.2{i}",
              "hostKey": HOST_KEYS[f"compute{i}"], "virtType": "kvm"} for i in (1, 2)]
    for index, change in changes.items():
        nodes[int(index.removeprefix("n"))].update(change)
    return nodes


@pytest.fixture(scope="module")
def openssh_9_2():
    """The nodes' oldest OpenSSH is Debian 12's 9.2: what its ssh-keygen loads is what a key may be."""
    try:
        version = subprocess.run(["ssh", "-V"], capture_output=True, text=True).stderr
    except FileNotFoundError:
        version = "no ssh"
    if not version.startswith("OpenSSH_9.2"):
        service_unavailable(f"OpenSSH 9.2 (the nodes' oldest, Debian 12's) to compare keys with; this machine has "
                            f"{version.strip()!r}")


def ssh_keygen_loads(args: list[str], path: Path, text: str) -> bool:
    path.write_text(text)
    path.chmod(0o600)
    return subprocess.run(["ssh-keygen", *args, str(path)], capture_output=True, stdin=subprocess.DEVNULL).returncode == 0


# ---------------------------------------------------------------------------------------------
# IPv4-mapped IPv6 addresses
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("setting", ["host", "myIp"])
def test_a_mapped_address_of_the_controller_s_machine_is_the_controller_s_machine(setting):
    node = {"name": "compute1", "host": "dev-cmp1.lab.example.org", "myIp": "10.20.0.21"}
    problems = refused("dev", hypervisors=[{**node, setting: "::ffff:10.20.0.10"}])
    assert any(p.startswith("hypervisors[0].host: 'compute1' is on 10.20.0.10, as 'controller' is: each node needs "
                            "a machine of its own") for p in problems), problems


@pytest.mark.parametrize("address", ["127.0.0.2", "::ffff:127.0.0.1", "::ffff:127.0.0.2", "::FFFF:7f00:1",
                                     "::ffff:0.0.0.0", "::ffff:169.254.0.5"])
def test_a_mapped_loopback_is_refused_as_a_migration_target_as_loopback_is(address):
    problems = refused("dev", secrets={"novaSshPrivateKey": NOVA_KEY}, migration={"enabled": True},
                       hypervisors=hypervisors(n1={"myIp": address}))
    mine = named(problems, "hypervisors[1].myIp")
    assert len(mine) == 1 and "is not an address the other hypervisors can reach, and migration sends instances " \
                              "there" in mine[0], problems


def test_a_mapped_address_reaches_the_nodes_as_the_ipv4_address_it_is():
    s = settings_for("dev", {"novaSshPrivateKey": NOVA_KEY}, migration={"enabled": True},
                     hypervisors=hypervisors(n0={"myIp": "::ffff:10.20.0.21", "host": "::ffff:10.20.0.31"}),
                     dbHost="::ffff:10.20.0.5", rabbitHost="::ffff:10.20.0.6",
                     memcachedServers="::ffff:10.20.0.10:11211")
    node = s.hypervisors[0]
    assert (node.my_ip, node.host, s.database.host, s.messaging.host) == ("10.20.0.21", "10.20.0.31", "10.20.0.5",
                                                                          "10.20.0.6")
    assert s.memcached_servers == "10.20.0.10:11211"
    conf = render_masked(s, node, COMPUTE, virt_type="kvm")
    assert "my_ip = 10.20.0.21\n" in conf and "live_migration_inbound_addr = 10.20.0.21\n" in conf
    assert "@10.20.0.6:5672/" in conf and "ffff" not in conf
    rec = record("dev", secrets={"novaSshPrivateKey": NOVA_KEY}, migration={"enabled": True},
                 hypervisors=hypervisors(n0={"myIp": "::ffff:10.20.0.21"}))
    known = unwrap(rec.by_name("compute1-nova-known-hosts").raw_inputs)["stdin"]
    assert known.splitlines()[0] == f"10.20.0.21,compute1 {HOST_KEYS['compute1']}"


# ---------------------------------------------------------------------------------------------
# Pinned host keys (hostKey, jumpHostKey)
# ---------------------------------------------------------------------------------------------
def _string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def _blob(line: str) -> bytes:
    return base64.b64decode(line.split()[1])


def _sk_keys() -> dict[str, str]:
    """Security-key host keys, built from their fields (OpenSSH's PROTOCOL.u2f)."""
    ed = _blob(public_line(ed25519.Ed25519PrivateKey.generate()))
    p256 = _blob(public_line(ec.generate_private_key(ec.SECP256R1())))
    point = p256[-65:]
    return {
        "sk-ssh-ed25519@openssh.com": base64.b64encode(
            _string(b"sk-ssh-ed25519@openssh.com") + _string(ed[-32:]) + _string(b"ssh:")).decode(),
        "sk-ecdsa-sha2-nistp256@openssh.com": base64.b64encode(
            _string(b"sk-ecdsa-sha2-nistp256@openssh.com") + _string(b"nistp256") + _string(point)
            + _string(b"ssh:")).decode(),
    }


def _host_key_lines() -> dict[str, str]:
    lines = {line.split()[0]: line for line in (
        public_line(ed25519.Ed25519PrivateKey.generate()), public_line(rsa.generate_private_key(65537, 2048)),
        public_line(ec.generate_private_key(ec.SECP256R1())), public_line(ec.generate_private_key(ec.SECP384R1())),
        public_line(ec.generate_private_key(ec.SECP521R1())))}
    lines.update({kind: f"{kind} {blob}" for kind, blob in _sk_keys().items()})
    return lines


def _reblob(line: str, change) -> str:
    kind, blob = line.split()[:2]
    return f"{kind} {base64.b64encode(change(base64.b64decode(blob))).decode()}"


def _flip_last_bits(line: str) -> str:
    """The base64 with bits set after the key data's end (in its last character before '=')."""
    kind, blob = line.split()[:2]
    stripped = blob.rstrip("=")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet[alphabet.index(stripped[-1]) ^ 1]
    return f"{kind} {stripped[:-1]}{last}{blob[len(stripped):]}"


BLOB_CHANGES = {
    "as scanned": lambda line: line,
    "truncated by a byte": lambda line: _reblob(line, lambda raw: raw[:-1]),
    "truncated by 4 bytes": lambda line: _reblob(line, lambda raw: raw[:-4]),
    "4 bytes after the key": lambda line: _reblob(line, lambda raw: raw + b"\0\0\0\0"),
    "a byte after the key": lambda line: _reblob(line, lambda raw: raw + b"x"),
    "base64 after the padding": lambda line: line + "AAAA",
    "padding added": lambda line: line + "==",
    "padding removed": lambda line: line.rstrip("="),
    "bits after the end": _flip_last_bits,
}


def _rsa_768() -> str:
    """An RSA key below OpenSSH's minimum (cryptography makes none under 1024 bits)."""
    modulus = (1 << 767) | 0xC0FFEE1
    as_mpint = lambda n: _string(n.to_bytes((n.bit_length() + 8) // 8, "big"))  # noqa: E731
    return "ssh-rsa " + base64.b64encode(_string(b"ssh-rsa") + as_mpint(65537) + as_mpint(modulus)).decode()


def test_a_host_key_is_accepted_exactly_when_ssh_keygen_loads_it(openssh_9_2, tmp_path):
    """Every key type, its key data whole, cut, with bytes after it, or its base64 spelled
    otherwise: the program pins exactly what OpenSSH 9.2's ssh-keygen loads."""
    cases = {(kind, change): BLOB_CHANGES[change](line) for kind, line in _host_key_lines().items()
             for change in BLOB_CHANGES}
    cases[("ssh-rsa", "768 bits")] = _rsa_768()
    disagree = {}
    for case, line in cases.items():
        loads = ssh_keygen_loads(["-l", "-f"], tmp_path / "key.pub", line + "\n")
        pinned, error = ssh_host_key(line)
        if loads != (error is None):
            disagree[case] = f"ssh-keygen {'loads' if loads else 'refuses'} {line!r}; the program says {error}"
    assert disagree == {}
    assert len(cases) == 7 * len(BLOB_CHANGES) + 1


KEY = HOST_KEYS["compute1"]


def _hashed(name: str) -> str:
    salt = hashlib.sha256(name.encode()).digest()[:20]
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


@pytest.mark.parametrize("host_key, why", [
    (_reblob(KEY, lambda raw: raw[:-1]), "the ssh-ed25519 key data is truncated (it ends inside the key), which "
                                         "ssh-keygen refuses; copy the line as ssh-keyscan prints it"),
    (_reblob(KEY, lambda raw: raw + b"\0\0\0\0"), "the ssh-ed25519 key data has 4 bytes after the key, which "
                                                  "ssh-keygen refuses; copy the line as ssh-keyscan prints it"),
    (KEY + "==", "the ssh-ed25519 key data is not valid base64"),
    (f"@revoked dev-cmp1.lab.example.org {KEY}", "is marked @revoked: in known_hosts that line distrusts the key, "
                                                 "and pinning it would trust it instead; pin the host's own key"),
    (f"@cert-authority *.lab.example.org {KEY}", "is marked @cert-authority: that line trusts a CA's host "
                                                 "certificates, not the one host key the program pins"),
    (f"@trusted dev-cmp1.lab.example.org {KEY}", "starts with '@trusted', which is no known_hosts marker"),
    (f"garbage {KEY}", "is a line for 'garbage', not for dev-cmp1.lab.example.org or 10.20.0.21: pinning it would "
                       "trust that machine's key for this one; run `ssh-keyscan -t ed25519 dev-cmp1.lab.example.org`"),
    (f"dev-cmp2.lab.example.org {KEY}", "is a line for 'dev-cmp2.lab.example.org', not for"),
    (f"junk dev-cmp1.lab.example.org {KEY}", "has 2 words before the key type ssh-ed25519, where a known_hosts line "
                                             "has only its host list"),
    (f"# {KEY}", "'#' before the key type is not a known_hosts host list"),
    (f"{_hashed('dev-cmp2.lab.example.org')} {KEY}", "is a line for '|1|"),
], ids=["truncated", "bytes after", "padding added", "@revoked", "@cert-authority", "unknown marker", "a word",
        "another node", "two words", "a comment sign", "another node hashed"])
def test_a_host_key_line_that_is_not_this_node_s_key_is_refused_before_registering(host_key, why):
    problems = refused("dev", hypervisors=hypervisors(n0={"hostKey": host_key}))
    assert [p for p in named(problems, "hypervisors[0].hostKey") if p.startswith(f"hypervisors[0].hostKey: {why}")], \
        problems


@pytest.mark.parametrize("host_key", [
    KEY, f"{KEY} root@dev-cmp1", f"dev-cmp1.lab.example.org {KEY}", f"10.20.0.21 {KEY}",
    f"DEV-CMP1.lab.example.org,10.20.0.21 {KEY}", f"*.lab.example.org {KEY}", f"[dev-cmp1.lab.example.org]:2222 {KEY}",
    f"::ffff:10.20.0.21 {KEY}", f"{_hashed('dev-cmp1.lab.example.org')} {KEY}", f"{_hashed('[10.20.0.21]:2222')} {KEY}",
])
def test_a_host_key_line_for_this_node_is_pinned_as_its_key(host_key):
    s = settings_for("dev", hypervisors=hypervisors(n0={"hostKey": host_key, "port": 2222}))
    assert s.hypervisors[0].host_key == KEY


def test_a_jump_host_key_must_be_the_jump_host_s():
    problems = refused("dev", controller={"host": "dev-ctl.lab.example.org", "myIp": "10.20.0.10",
                                          "jumpHost": "bastion.lab.example.org",
                                          "jumpHostKey": f"dev-ctl.lab.example.org {KEY}"})
    assert any(p.startswith("controller.jumpHostKey: is a line for 'dev-ctl.lab.example.org', not for "
                            "bastion.lab.example.org") for p in problems), problems
    s = settings_for("dev", controller={"host": "dev-ctl.lab.example.org", "myIp": "10.20.0.10",
                                        "jumpHost": "bastion.lab.example.org",
                                        "jumpHostKey": f"bastion.lab.example.org {KEY}"})
    assert s.controller.jump_host_key == KEY
