"""The `migration` setting and nova's SSH key between hypervisors (`novaSshPrivateKey`).

`migration: {enabled: true, scheme: ssh}` makes instances movable between the stack's
hypervisors: libvirt's live migration reaches each node at its `myIp` over `scheme` (ssh:
qemu+ssh as the nova user, with nova's key; tls: qemu+tls with the certificates `caFile`,
`certFile`, `keyFile` name on every hypervisor), and nova's cold migration and resize ssh to the
target as nova (always, whatever the scheme). What cannot work is refused here, naming the node
and the fix: no key, a key that does not load, tls without certificates, a hypervisor without a
pinned host key (the others' nova must trust it), a myIp no other node can reach (loopback)."""
from __future__ import annotations

from typing import Optional

from components import validate
from components.config.reader import Reader
from components.config.schema import Secret
from components.config.settings import MigrationSettings, NodeSettings

SCHEMES = ("ssh", "tls")
TLS_FILES = {"caFile": "the CA that signed every hypervisor's libvirt certificate",
             "certFile": "this hypervisor's libvirt certificate (server and client)",
             "keyFile": "its private key"}
KEY_HOWTO = ("ssh-keygen -t ed25519 -N '' -C nova-migration -f nova_migration && "
             "pulumi config set --secret novaSshPrivateKey < nova_migration")


# OpenSSH's own private key format, as sshkey.c (OpenSSH 9.2) reads it: the BEGIN line and its
# newline first in the file, and somewhere an END line with its newline.
OPENSSH_BEGIN, OPENSSH_END = "-----BEGIN OPENSSH PRIVATE KEY-----", "-----END OPENSSH PRIVATE KEY-----"
# How to set a key file as it is (the error adds how to create one).
AS_WRITTEN = "set the key file as ssh-keygen wrote it (`pulumi config set --secret novaSshPrivateKey < FILE`)"
# The curves OpenSSH has ECDSA keys on (sshkey.c's sshkey_curve_nid_to_name), by cryptography's names.
OPENSSH_CURVES = {"secp256r1": "nistp256", "secp384r1": "nistp384", "secp521r1": "nistp521"}


def key_file_text(text: str) -> str:
    """The key file written for nova: `text` with Unix line endings and without the byte order
    mark an editor may put first (a key saved on Windows has both, and OpenSSH's own format
    reads neither), nothing around the key, one final newline. That is all it changes: the rest
    is checked (`nova_key`) as OpenSSH will read it."""
    unix = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    return unix.removeprefix("\ufeff").strip() + "\n"


def _layout_problem(text: str) -> Optional[str]:
    """What in the layout of key file `text` the nodes' OpenSSH (9.2, the oldest they run) does not
    read, though cryptography, more lenient, does. OpenSSH's own format must begin with its BEGIN
    line and hold its END line, each alone on its line (sshkey.c); a PEM key (read by OpenSSL)
    needs its BEGIN and END lines at the start of their lines; and a key holds ASCII only."""
    lines = text.split("\n")
    begin = next((i for i, line in enumerate(lines) if line.lstrip().startswith("-----BEGIN ")), None)
    if begin is None:
        return None  # no key at all: the loaders say so
    if lines[begin].lstrip().startswith(OPENSSH_BEGIN):
        if begin != 0 or lines[0] != OPENSSH_BEGIN:
            return (f"does not start with the line {OPENSSH_BEGIN} alone (nothing before it, no indent, no "
                    f"trailing space), where OpenSSH starts reading its own format; {AS_WRITTEN}")
        if OPENSSH_END not in lines:
            return (f"has no line {OPENSSH_END} alone (no indent, no trailing space), where OpenSSH finds the "
                    f"key's end; {AS_WRITTEN}")
        end = lines.index(OPENSSH_END)
    else:
        end = next((i for i, line in enumerate(lines[begin:], begin) if line.lstrip().startswith("-----END ")), None)
        if any(lines[i] != lines[i].lstrip() for i in (begin, end) if i is not None):
            return f"has an indented BEGIN or END line, which OpenSSH does not find; {AS_WRITTEN}"
    if not "".join(lines[begin:None if end is None else end + 1]).isascii():
        return f"holds a character that is not ASCII (a key file holds none), which OpenSSH refuses; {AS_WRITTEN}"
    return None


def nova_key(text: str) -> tuple[Optional[str], Optional[str], Optional[str]]:
    """(`keytype base64 nova-migration`, key type, error) of an SSH private key's text (OpenSSH
    or PEM, no passphrase), derived in Python: the key never reaches a command line. Accepted
    is what the nodes' OpenSSH loads from the file the program writes (`key_file_text`), and
    nova's ssh offers: an ed25519, RSA or ECDSA key. The error never quotes the key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    # what a key's algorithm is called in its file name (~/.ssh/id_<type>, which ssh tries by default)
    kinds = ((ed25519.Ed25519PrivateKey, "ed25519"), (rsa.RSAPrivateKey, "rsa"), (ec.EllipticCurvePrivateKey, "ecdsa"))

    written = key_file_text(text)
    if (problem := _layout_problem(written)):
        return None, None, problem
    data = written.encode()
    loaders = (serialization.load_ssh_private_key, serialization.load_pem_private_key)
    key, why = None, "is not an SSH private key (OpenSSH or PEM)"
    for load in loaders:
        try:
            key = load(data, password=None)
            break
        except TypeError:  # encrypted, and no password given
            why = "is protected by a passphrase, which nova's non-interactive ssh cannot type"
        except Exception:  # noqa: BLE001 (cryptography raises several kinds; none is shown)
            continue
    if key is None:
        return None, None, why
    kind = next((name for cls, name in kinds if isinstance(key, cls)), None)
    if kind is None:
        return None, None, "is neither an ed25519, an RSA nor an ECDSA key, which OpenSSH's client reads by default"
    if kind == "ed25519" and not written.startswith(OPENSSH_BEGIN):
        return None, None, ("is an ed25519 key in PEM (PKCS#8) form, which OpenSSH 9.2 (Debian 12's) cannot read "
                            f"(\"invalid format\"): it reads ed25519 keys in its own format only ({OPENSSH_BEGIN})")
    if kind == "ecdsa" and key.curve.name not in OPENSSH_CURVES:
        return None, None, (f"is an ECDSA key on the curve {key.curve.name}, which OpenSSH does not support; it has "
                            f"ECDSA on {', '.join(OPENSSH_CURVES.values())} only")
    if kind == "rsa" and key.key_size < 2048:
        return None, None, (f"is a {key.key_size}-bit RSA key, too short to trust (OpenSSH's own ssh-keygen makes "
                            "3072 bits); use ed25519 (or RSA of 3072 bits)")
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return public.decode() + " nova-migration", kind, None


def migration(r: Reader, hypervisors: tuple[NodeSettings, ...], release_name: Optional[str],
              has_live_migration_options: bool) -> MigrationSettings:
    value = r.get("migration", {})
    private = r.secret("novaSshPrivateKey", multiline=True)  # a key spans lines
    if not isinstance(value, dict):
        r.problem("migration", "must be a map: {enabled: true, scheme: ssh}")
        return MigrationSettings()
    for extra in sorted(set(value) - {"enabled", "scheme", *TLS_FILES}):
        r.problem(f"migration.{extra}", f"is not a migration setting; use enabled, scheme, {', '.join(TLS_FILES)}")
    enabled = value.get("enabled", False)
    if not isinstance(enabled, bool):
        r.problem("migration.enabled", "must be true or false")
        enabled = False
    scheme = value.get("scheme", "ssh")
    stated = scheme in SCHEMES
    if not stated:
        r.problem("migration.scheme", f"{scheme!r} is not a transport the program configures; use ssh (qemu+ssh with "
                  "nova's key, no certificates) or tls (qemu+tls: set caFile, certFile and keyFile too)")
        scheme = "ssh"
    files: dict[str, Optional[str]] = {}
    for key, what in TLS_FILES.items():
        path = value.get(key)
        if path is not None and (not isinstance(path, str) or not validate.PATH_RE.fullmatch(path)):
            r.problem(f"migration.{key}", f"{path!r} is not an absolute path of plain characters; use e.g. "
                      "/etc/pki/nova-migration/" + {"caFile": "ca.pem", "certFile": "cert.pem", "keyFile": "key.pem"}[key])
            path = None
        files[key] = path
        if enabled and scheme == "tls" and value.get(key) is None:
            r.problem(f"migration.{key}", f"is required by scheme tls ({what}, a path on every hypervisor): "
                      f"set it with `pulumi config set --path migration.{key} <path>`, or use scheme ssh, "
                      "which needs no certificates")
        elif stated and scheme != "tls" and value.get(key) is not None:
            r.problem(f"migration.{key}", f"is a certificate for scheme tls, but the scheme is {scheme}; "
                      "remove it or set migration.scheme to tls")
    if not enabled:
        return MigrationSettings(scheme=scheme)

    if not has_live_migration_options:
        r.problem("migration.enabled", f"release {release_name} predates the live migration options the program "
                  "writes (live_migration_scheme, live_migration_inbound_addr); use a modern release or remove migration")
    public = kind = None
    if private is None:
        r.problem("novaSshPrivateKey", "is required by migration (nova ssh'es between the hypervisors for cold "
                  f"migration and resize, and libvirt for live migration); create one with `{KEY_HOWTO}`")
    elif isinstance(private.value, str) and private.value:
        public, kind, error = nova_key(private.value)
        if error:
            r.problem("novaSshPrivateKey", f"{error}; create one with `{KEY_HOWTO}`")
        private = Secret(key_file_text(private.value))  # what is written: the line endings made Unix ones
    for i, node in enumerate(hypervisors):
        where = f"hypervisors[{i}]"
        if node.host_key is None:
            r.problem(f"{where}.hostKey", f"node {node.name!r} has no pinned SSH host key, which migration needs: the "
                      "other hypervisors' nova trusts it by that key (known_hosts) and never accepts an unknown one; "
                      f"set it to the output of `ssh-keyscan -t ed25519 {node.my_ip or node.host}`")
        address = validate.ip(node.my_ip) if isinstance(node.my_ip, str) else None
        if address is not None and (address.is_loopback or address.is_unspecified or address.is_link_local
                                    or address.is_multicast):
            r.problem(f"{where}.myIp", f"node {node.name!r}: {node.my_ip} is not an address the other hypervisors can "
                      "reach, and migration sends instances there (libvirt and nova's ssh connect to myIp); set "
                      "it to the node's management address")
    return MigrationSettings(enabled=True, scheme=scheme, ca_file=files["caFile"], cert_file=files["certFile"],
                             key_file=files["keyFile"], nova_private_key=private, nova_public_key=public,
                             nova_key_type=kind)
