"""Hostile SSH keys and addresses: nova's private key accepted exactly as the nodes' OpenSSH
loads it, pinned host keys only as ssh-keygen loads them and only for the node they name, and an
IPv4-mapped IPv6 address seen as the IPv4 machine it is by every address rule. What is refused
is refused before anything is registered, naming the key, never showing a secret; the
comparisons with OpenSSH run its real ssh-keygen."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

from components.config.migration import key_file_text, nova_key
from components.nova_conf import render_masked
from components.template_context import COMPUTE
from components.ssh_keys import ssh_host_key
from tests.conftest import service_unavailable
from tests.support import record, settings_for
from tests.test_hostile_settings import named, refused
from tools.plan import PROJECT_ROOT, unwrap

PEM, OPENSSH, PKCS8, TRADITIONAL = (serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                    serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL)


def private_text(key, form) -> str:
    return key.private_bytes(PEM, form, serialization.NoEncryption()).decode()


def public_line(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def _fixed_key(label: str) -> ed25519.Ed25519PrivateKey:
    """A key of this module's own, the same in every process: the keys appear in test ids, which
    pytest-xdist's workers must collect identically."""
    return ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"{__name__}:{label}".encode()).digest())


HOST_KEYS = {f"compute{i}": public_line(_fixed_key(f"compute{i}")) for i in (1, 2)}
NOVA_KEY = private_text(_fixed_key("nova"), OPENSSH)


def hypervisors(**changes) -> list[dict]:
    nodes = [{"name": f"compute{i}", "host": f"dev-cmp{i}.lab.example.org", "myIp": f"10.20.0.2{i}",
              "hostKey": HOST_KEYS[f"compute{i}"], "virtType": "kvm"} for i in (1, 2)]
    for index, change in changes.items():
        nodes[int(index.removeprefix("n"))].update(change)
    return nodes


def migration_problems(key_text: str) -> list[str]:
    """What the program says of `key_text` as nova's key, having registered nothing."""
    problems = refused("dev", secrets={"novaSshPrivateKey": key_text}, migration={"enabled": True},
                       hypervisors=hypervisors())
    assert problems == named(problems, "novaSshPrivateKey"), problems
    return problems


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


# ---------------------------------------------------------------------------------------------
# nova's private key (novaSshPrivateKey)
# ---------------------------------------------------------------------------------------------
KEY_FORMS = {
    "ed25519, OpenSSH's format": lambda: private_text(ed25519.Ed25519PrivateKey.generate(), OPENSSH),
    "ed25519, PKCS#8": lambda: private_text(ed25519.Ed25519PrivateKey.generate(), PKCS8),
    "RSA, OpenSSH's format": lambda: private_text(rsa.generate_private_key(65537, 2048), OPENSSH),
    "RSA, PKCS#1": lambda: private_text(rsa.generate_private_key(65537, 2048), TRADITIONAL),
    "RSA, PKCS#8": lambda: private_text(rsa.generate_private_key(65537, 2048), PKCS8),
    "nistp256, SEC1": lambda: private_text(ec.generate_private_key(ec.SECP256R1()), TRADITIONAL),
    "nistp384, PKCS#8": lambda: private_text(ec.generate_private_key(ec.SECP384R1()), PKCS8),
    "nistp521, OpenSSH's format": lambda: private_text(ec.generate_private_key(ec.SECP521R1()), OPENSSH),
    "secp256k1, SEC1": lambda: private_text(ec.generate_private_key(ec.SECP256K1()), TRADITIONAL),
    "secp256k1, PKCS#8": lambda: private_text(ec.generate_private_key(ec.SECP256K1()), PKCS8),
}


def _lines(text: str, change) -> str:
    return "\n".join(change(i, line) for i, line in enumerate(text.split("\n")))


def _marker(line: str) -> bool:
    return line.startswith("-----")


# How a key's text reaches a stack: pasted, from Windows, through YAML, with text around it.
LAYOUTS = {
    "as written": lambda t: t,
    "CRLF": lambda t: t.replace("\n", "\r\n"),
    "CR": lambda t: t.replace("\n", "\r"),
    "byte order mark and CRLF": lambda t: "\ufeff" + t.replace("\n", "\r\n"),
    "every line indented": lambda t: _lines(t, lambda i, line: "  " + line if line else line),
    "END indented": lambda t: _lines(t, lambda i, line: "  " + line if line.startswith("-----END") else line),
    "body indented": lambda t: _lines(t, lambda i, line: line if _marker(line) or not line else "  " + line),
    "trailing spaces": lambda t: _lines(t, lambda i, line: line + " " if line else line),
    "BEGIN with a trailing space": lambda t: _lines(t, lambda i, line: line + " " if line.startswith("-----BEGIN")
                                                    else line),
    "a blank line in the body": lambda t: _lines(t, lambda i, line: line + "\n" if i == 1 else line),
    "body on one line": lambda t: "\n".join([t.split("\n")[0], "".join(t.split("\n")[1:-2]), t.split("\n")[-2]]),
    "text before": lambda t: "the key:\n" + t,
    "text after": lambda t: t + "that was the key\n",
    "END with a space, then text": lambda t: _lines(t, lambda i, line: line + " " if line.startswith("-----END")
                                                    else line) + "more\n",
    "indented BEGIN after text": lambda t: "the key:\n  " + t,
    "no-break spaces in the body": lambda t: _lines(t, lambda i, line: line if _marker(line) or not line
                                                    else "\u00a0" + line),
    "blank lines around": lambda t: "\n \n" + t + "\n\n",
}


@pytest.mark.parametrize("form", sorted(KEY_FORMS))
def test_nova_s_key_is_accepted_exactly_when_the_nodes_openssh_loads_what_is_written(form, openssh_9_2, tmp_path):
    """Each key form in each layout: accepted if and only if OpenSSH 9.2's ssh-keygen loads the
    file the program writes (the layout's line endings made Unix ones, nothing else changed)."""
    text = KEY_FORMS[form]()
    disagree = {}
    for layout, change in LAYOUTS.items():
        written = key_file_text(change(text))
        loads = ssh_keygen_loads(["-y", "-f"], tmp_path / "id", written)
        public, kind, error = nova_key(change(text))
        if loads != (error is None):
            disagree[layout] = f"ssh-keygen {'loads' if loads else 'refuses'} it, the program says {error}"
        elif loads:
            derived = subprocess.run(["ssh-keygen", "-y", "-f", str(tmp_path / "id")], capture_output=True,
                                     text=True, check=True).stdout
            assert public.split()[:2] == derived.split()[:2], layout
    assert disagree == {}


@pytest.mark.parametrize("form, why", [
    ("secp256k1, SEC1", "is an ECDSA key on the curve secp256k1, which OpenSSH does not support; it has ECDSA on "
                        "nistp256, nistp384, nistp521 only"),
    ("secp256k1, PKCS#8", "is an ECDSA key on the curve secp256k1"),
    ("ed25519, PKCS#8", "is an ed25519 key in PEM (PKCS#8) form, which OpenSSH 9.2 (Debian 12's) cannot read "
                        "(\"invalid format\"): it reads ed25519 keys in its own format only"),
])
def test_a_key_openssh_cannot_use_is_refused_naming_the_key_without_showing_it(form, why):
    """The reported crash (secp256k1: a ValueError traceback) and the PKCS#8 ed25519 key
    OpenSSH 9.2 calls "invalid format": refused before anything is registered."""
    text = KEY_FORMS[form]()
    problems = migration_problems(text)
    assert len(problems) == 1 and problems[0].startswith(f"novaSshPrivateKey: {why}"), problems
    assert "create one with `ssh-keygen -t ed25519" in problems[0]
    body = "".join(text.strip().split("\n")[1:-1])
    assert not any(body[i:i + 16] in problems[0] for i in range(0, len(body) - 16, 8))


@pytest.mark.parametrize("layout, why", [
    ("every line indented", "has no line -----END OPENSSH PRIVATE KEY----- alone (no indent, no trailing space)"),
    ("END indented", "has no line -----END OPENSSH PRIVATE KEY----- alone"),
    ("text before", "does not start with the line -----BEGIN OPENSSH PRIVATE KEY----- alone"),
    ("BEGIN with a trailing space", "does not start with the line -----BEGIN OPENSSH PRIVATE KEY----- alone"),
    ("no-break spaces in the body", "holds a character that is not ASCII"),
])
def test_a_key_laid_out_so_openssh_cannot_read_it_is_refused_with_the_fix(layout, why):
    problems = migration_problems(LAYOUTS[layout](NOVA_KEY))
    assert len(problems) == 1 and problems[0].startswith(f"novaSshPrivateKey: {why}"), problems
    assert "set the key file as ssh-keygen wrote it (`pulumi config set --secret novaSshPrivateKey < FILE`)" in problems[0]


def test_a_pem_key_with_an_indented_end_line_is_refused():
    problems = migration_problems(LAYOUTS["END indented"](KEY_FORMS["RSA, PKCS#1"]()))
    assert problems[0].startswith("novaSshPrivateKey: has an indented BEGIN or END line, which OpenSSH does not find")


@pytest.mark.parametrize("layout", ["CRLF", "CR", "byte order mark and CRLF", "blank lines around"])
def test_a_key_saved_on_windows_is_written_with_unix_line_endings(layout):
    """Normalised, not refused: the file nova gets is the key as ssh-keygen wrote it."""
    rec = record("dev", secrets={"novaSshPrivateKey": LAYOUTS[layout](NOVA_KEY)}, migration={"enabled": True},
                 hypervisors=hypervisors())
    for node in ("compute1", "compute2"):
        assert unwrap(rec.by_name(f"{node}-nova-ssh-key").raw_inputs)["stdin"] == NOVA_KEY
        authorized = unwrap(rec.by_name(f"{node}-nova-authorized-keys").raw_inputs)["stdin"]
        assert authorized == nova_key(NOVA_KEY)[0] + "\n"


def test_a_dsa_key_is_still_refused():
    """OpenSSH 9.2 loads DSA keys, but its client no longer offers them: nova's ssh could not log in."""
    problems = migration_problems(private_text(dsa.generate_private_key(2048), TRADITIONAL))
    assert problems[0].startswith("novaSshPrivateKey: is neither an ed25519, an RSA nor an ECDSA key")


def test_the_offline_plans_placeholder_is_a_key_openssh_loads(openssh_9_2, tmp_path):
    from tools.plan.stack import placeholder

    text = placeholder("novaSshPrivateKey")
    assert text.startswith("-----BEGIN OPENSSH PRIVATE KEY-----\n") and nova_key(text)[2] is None
    assert ssh_keygen_loads(["-y", "-f"], tmp_path / "id", text)


# ---------------------------------------------------------------------------------------------
# What the user sees: exit 2, the key, no traceback, no secret
# ---------------------------------------------------------------------------------------------
SECP256K1_KEY = KEY_FORMS["secp256k1, SEC1"]()


@pytest.mark.parametrize("settings, key", [
    ([f"novaSshPrivateKey={SECP256K1_KEY}", 'migration={"enabled": true}',
      f"hypervisors={json.dumps(hypervisors())}"], "novaSshPrivateKey"),
    ([f"hypervisors={json.dumps(hypervisors(n1={'hostKey': f'@revoked dev-cmp2.lab.example.org {KEY}'}))}"],
     "hypervisors[1].hostKey"),
    ([f"novaSshPrivateKey={NOVA_KEY}", 'migration={"enabled": true}',
      f"hypervisors={json.dumps(hypervisors(n1={'myIp': '::ffff:127.0.0.1'}))}"], "hypervisors[1].myIp"),
], ids=["secp256k1 key", "revoked host key", "mapped loopback"])
def test_the_offline_plan_exits_2_naming_the_key(tmp_path, settings, key):
    command = [sys.executable, "-m", "tools.plan", "dev", "--placeholder-secrets", "--out", str(tmp_path)]
    for setting in settings:
        command += ["--set", setting]
    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert f"  - {key}:" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert SECP256K1_KEY.split("\n")[1][:20] not in done.stderr + done.stdout
    assert not list(tmp_path.iterdir())
