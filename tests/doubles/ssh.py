"""command:remote:Command as pulumi-command v1.2.1 runs it (provider/pkg/provider/remote/*.go).

Why paramiko and not the `ssh` client: the provider speaks SSH itself (golang.org/x/crypto/ssh),
and so must this, to send what it sends and nothing else: one connection per run, dialled with
the registered `connection` (private key from memory, never a file; the jump host through a
`direct-tcpip` channel of the proxy's connection), the host key pinned to the one `hostKey` and
its algorithm (ssh.FixedHostKey), one `env` request per `environment` entry *with* a reply
awaited (a refusal fails the run, as session.Setenv does; OpenSSH's client sends none unasked
for but LANG/LC_*, and never waits for the answer), then one `exec` request with the command
string, which the remote user's login shell runs. `ssh` would need the key on disk, secrets in
its argv for `environment`, and could not tell a refused variable.

The rules, each from the file it comes from:
- Check applies the schema's defaults: user root, port 22, dialErrorLimit 10, perDialTimeout 15
  (connection.go, proxyConnection.go Annotate; pulumi-go-provider infer DefaultCheck);
- every TCP connection it opens has Go's default keep-alive (see KEEPALIVE), the only bound on a
  run whose link is cut silently: session.Run has none;
- a dial is retried until `dialErrorLimit` failures, 100 ms apart growing 1.5x up to 5 s
  (connection.go dialWithRetry; pulumi sdk util/retry), each attempt bounded by perDialTimeout;
- no `hostKey`: any host key is accepted (ssh.InsecureIgnoreHostKey), as the provider does;
- auth: the private key, then the password, then the agent at SSH_AUTH_SOCK (SSHConfig);
- `stdin` is sent only when non-empty, then EOF; stdout and stderr are captured apart and
  interleaved for the error text; each loses one trailing "\\n" (commandOutputs.go run);
- PULUMI_COMMAND_STDOUT/STDERR are offered unless addPreviousOutputInEnv is false; their refusal
  is not an error there (the provider warns; here a refusal goes unseen: sent without reply);
- a failing command fails the step with "<exit>: running <command>:\\n<output>"; a session torn down
  without an exit status (the connection lost) with "wait: remote command exited without exit
  status or exit signal: running ..." (x/crypto ssh/session.go, ExitMissingError; an
  exit-signal is not modelled);
- create runs `create`; update runs `update`, else `create`; delete runs the *state's* `delete`
  (with the state's connection, stdin and environment), nothing when it has none
  (commandController.go).
"""
from __future__ import annotations

import base64
import io
import json
import os
import socket
import threading
import time
from typing import Callable, Optional, TypeVar

import paramiko
from paramiko.common import cMSG_CHANNEL_REQUEST

DEFAULTS = {"user": "root", "port": 22, "dialErrorLimit": 10, "perDialTimeout": 15}
IDLE_TIMEOUT = 1800  # not the provider's (it has none): a hung step must not hang the test forever
# What the provider's TCP connections carry: ssh.Dial (x/crypto v0.48.0 ssh/client.go, as v1.2.1's
# provider/go.mod pins it) dials with net.DialTimeout, a net.Dialer whose KeepAlive is zero, which
# Go >= 1.23 (that go.mod says go 1.25.0) turns into keep-alive on with src/net/dial.go's defaults:
# defaultTCPKeepAliveIdle 15 s, defaultTCPKeepAliveInterval 15 s, defaultTCPKeepAliveCount 9
# (tcpsock.go newTCPConn, tcpsockopt_unix.go). A link cut silently mid-command therefore fails the
# run about 15 + 9 x 15 = 150 s after the last packet from the node, not after IDLE_TIMEOUT.
KEEPALIVE = {"TCP_KEEPIDLE": 15, "TCP_KEEPINTVL": 15, "TCP_KEEPCNT": 9}
LOST = "wait: remote command exited without exit status or exit signal"
# Go's ssh client offers the RSA key's SHA-2 signature algorithms for an "ssh-rsa" host key.
HOST_KEY_ALGORITHMS = {"ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")}
T = TypeVar("T")


class CommandError(RuntimeError):
    """A failed dial, handshake or command, worded as the provider words it."""


def check(news: dict) -> dict:
    """The inputs with the schema's connection defaults filled in."""
    checked = dict(news)
    if "connection" in checked:
        conn = {**DEFAULTS, **checked["connection"]}
        if conn.get("proxy"):
            conn["proxy"] = {**DEFAULTS, **conn["proxy"]}
        checked["connection"] = conn
    return checked


def _with_retry(limit: int, attempt: Callable[[], T]) -> T:
    """Every error is retried (a refused host key or login too) until `limit` failures."""
    delay, failures = 0.1, 0
    while True:
        try:
            return attempt()
        except Exception as exc:  # noqa: BLE001 (as retry.Until accepts any error)
            failures += 1
            if limit != -1 and failures > limit:
                raise CommandError(f"after {failures - 1} failed attempts: {exc}") from None
            time.sleep(delay)
            delay = min(delay * 1.5, 5.0)


def connect(endpoint: tuple[str, int], timeout: Optional[float]) -> socket.socket:
    """A TCP connection as Go's net.Dialer opens it (keep-alive: see KEEPALIVE)."""
    sock = socket.create_connection(endpoint, timeout)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for option, value in KEEPALIVE.items():
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
    except BaseException:
        sock.close()
        raise
    return sock


def _private_key(text: str, password: Optional[str]) -> paramiko.PKey:
    for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return cls.from_private_key(io.StringIO(text), password=password)
        except paramiko.SSHException:
            continue
    raise CommandError("ssh: no key found (privateKey is not a private key paramiko reads)")


def _credentials(conn: dict) -> list[tuple[str, object]]:
    """The auth methods in the provider's order (SSHConfig), parsed before any dial."""
    methods: list[tuple[str, object]] = []
    if conn.get("privateKey"):
        methods.append(("publickey", _private_key(conn["privateKey"], conn.get("privateKeyPassword"))))
    if conn.get("password"):
        methods.append(("password", conn["password"]))
    if os.environ.get("SSH_AUTH_SOCK"):
        methods += [("publickey", key) for key in paramiko.Agent().get_keys()]
    return methods


def _handshake(sock, conn: dict, methods: list[tuple[str, object]]) -> paramiko.Transport:
    transport = paramiko.Transport(sock)
    pinned = conn.get("hostKey")
    if pinned:
        key_type, blob = pinned.split()[:2]
        transport.get_security_options().key_types = HOST_KEY_ALGORITHMS.get(key_type, (key_type,))
    try:
        transport.start_client(timeout=float(conn["perDialTimeout"]) or None)
        if pinned and transport.get_remote_server_key().asbytes() != base64.b64decode(blob):
            raise CommandError("ssh: handshake failed: ssh: host key mismatch")
        for kind, secret in methods:
            try:
                if kind == "password":
                    transport.auth_password(conn["user"], secret)
                else:
                    transport.auth_publickey(conn["user"], secret)
                break
            except paramiko.AuthenticationException:
                continue
        if not transport.is_authenticated():
            raise CommandError("ssh: handshake failed: ssh: unable to authenticate, "
                               f"attempted methods {sorted({kind for kind, _ in methods})}, no supported methods remain")
    except BaseException:
        transport.close()
        raise
    return transport


def dial(conn: dict) -> list[paramiko.Transport]:
    """The connection (last) and, with a proxy, the proxy's (first): close them all after use."""
    timeout = float(conn["perDialTimeout"]) or None
    endpoint = (conn["host"], int(conn["port"]))
    methods = _credentials(conn)
    proxy = conn.get("proxy")
    if not proxy:
        return [_with_retry(int(conn["dialErrorLimit"]),
                            lambda: _handshake(connect(endpoint, timeout), conn, methods))]
    proxy_methods = _credentials(proxy)
    jump = _with_retry(int(proxy["dialErrorLimit"]), lambda: _handshake(
        connect((proxy["host"], int(proxy["port"])), timeout), proxy, proxy_methods))
    try:
        channel = _with_retry(int(conn["dialErrorLimit"]),
                              lambda: jump.open_channel("direct-tcpip", endpoint, ("0.0.0.0", 0), timeout=timeout))
        return [jump, _with_retry(int(conn["dialErrorLimit"]), lambda: _handshake(channel, conn, methods))]
    except BaseException:
        jump.close()
        raise


def _setenv(channel: paramiko.Channel, name: str, value: str, want_reply: bool) -> None:
    """An `env` request; with want_reply a refusal raises, as ssh.Session.Setenv returns an error
    (paramiko's own set_environment_variable never asks for the reply)."""
    m = paramiko.Message()
    m.add_byte(cMSG_CHANNEL_REQUEST)
    m.add_int(channel.remote_chanid)
    m.add_string("env")
    m.add_boolean(want_reply)
    m.add_string(name)
    m.add_string(value)
    if not want_reply:
        channel.transport._send_user_message(m)
        return
    channel._event_pending()
    channel.transport._send_user_message(m)
    try:
        channel._wait_for_event()
    except paramiko.SSHException as exc:
        raise CommandError(f"could not set environment variable {name!r}: ssh: setenv failed ({exc})") from None


def run(state: dict, command: str) -> tuple[str, str]:
    """Run `command` as the provider's CommandOutputs.run does with `state` (inputs, plus the
    previous stdout/stderr on an update); returns (stdout, stderr), each trimmed of one "\\n"."""
    transports = dial(state["connection"])
    try:
        channel = transports[-1].open_session(timeout=IDLE_TIMEOUT)
        channel.settimeout(IDLE_TIMEOUT)
        for name, value in (state.get("environment") or {}).items():
            _setenv(channel, name, value, want_reply=True)
        if state.get("addPreviousOutputInEnv") is not False:
            for name, key in (("PULUMI_COMMAND_STDOUT", "stdout"), ("PULUMI_COMMAND_STDERR", "stderr")):
                if state.get(key):
                    _setenv(channel, name, state[key], want_reply=False)
        channel.exec_command(command)
        out, err, both = _exchange(channel, state.get("stdin") or "")
        status = channel.recv_exit_status()
    finally:
        for transport in reversed(transports):
            transport.close()
    if status == -1:  # paramiko's value until an exit-status arrives: none did
        raise CommandError(f"{LOST}: running {json.dumps(command)}:\n{both}")
    if status != 0:
        raise CommandError(f"Process exited with status {status}: running {json.dumps(command)}:\n{both}")
    return out.removesuffix("\n"), err.removesuffix("\n")


def _exchange(channel: paramiko.Channel, stdin: str) -> tuple[str, str, str]:
    """Feed stdin while reading stdout and stderr to their ends (no side can block the other)."""
    both: list[bytes] = []
    streams: dict[str, list[bytes]] = {"out": [], "err": []}
    lock = threading.Lock()

    def drain(kind: str, recv: Callable[[int], bytes]) -> None:
        try:
            while data := recv(32768):
                with lock:
                    streams[kind].append(data)
                    both.append(data)
        except socket.timeout:
            idle.append(kind)

    idle: list[str] = []
    readers = [threading.Thread(target=drain, args=("out", channel.recv), daemon=True),
               threading.Thread(target=drain, args=("err", channel.recv_stderr), daemon=True)]
    for reader in readers:
        reader.start()
    if stdin:
        channel.sendall(stdin.encode())
    channel.shutdown_write()
    for reader in readers:
        reader.join()
    if idle:
        raise CommandError(f"no output and no exit for {IDLE_TIMEOUT} s: gave up (the e2e engine's limit)")
    text = lambda chunks: b"".join(chunks).decode(errors="replace")  # noqa: E731
    return text(streams["out"]), text(streams["err"]), text(both)
