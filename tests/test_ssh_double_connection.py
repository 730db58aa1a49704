"""The command provider double's TCP connections (tests/doubles/ssh.py): each carries the
keep-alive Go's dialer gives pulumi-command's, and a connection lost under a running command
fails it as x/crypto's session.Run does, instead of waiting for output that never comes."""
from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.doubles import ssh


@pytest.fixture
def listener():
    """A TCP server on loopback that accepts and says nothing (the handshake is not under test)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server


def keepalive(sock: socket.socket) -> tuple[int, int, int, int]:
    return (sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
            sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
            sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
            sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT))


class Jump:
    """A proxy's transport as dial uses it: a channel to the target, nothing else."""

    def open_channel(self, *args, **kwargs):
        return "channel"

    def close(self) -> None:
        pass


def test_every_socket_the_double_dials_has_go_dialer_keepalive(listener, monkeypatch):
    """Go's defaults for a net.Dialer whose KeepAlive is zero (src/net/dial.go: idle 15 s,
    interval 15 s, 9 probes), on the node's socket and on a jump host's; the channel through a
    jump host is no socket of its own, as in the provider."""
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    handed: list = []

    def handshake(sock, conn: dict, methods):
        handed.append(sock)
        return Jump() if conn.get("role") == "proxy" else sock

    monkeypatch.setattr(ssh, "_handshake", handshake)
    port = listener.getsockname()[1]
    direct = ssh.check({"connection": {"host": "127.0.0.1", "port": port}})["connection"]
    ssh.dial(direct)
    proxied = ssh.check({"connection": {"host": "10.0.0.9", "port": 22,
                                        "proxy": {"host": "127.0.0.1", "port": port, "role": "proxy"}}})["connection"]
    ssh.dial(proxied)
    try:
        assert [type(s).__name__ for s in handed] == ["socket", "socket", "str"]
        assert keepalive(handed[0]) == (1, 15, 15, 9)
        assert keepalive(handed[1]) == (1, 15, 15, 9)
    finally:
        for sock in handed[:2]:
            sock.close()


def test_a_connection_lost_under_a_running_command_fails_it_as_the_provider_says(sshd, monkeypatch):
    """The link goes away while the command runs (here: the socket shut down under the
    transport): the run ends at once with x/crypto's ExitMissingError text, the command and what
    it printed, not "status -1" and not after the double's idle limit."""
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    dialled: list = []
    real_dial = ssh.dial
    monkeypatch.setattr(ssh, "dial", lambda conn: dialled.extend(real_dial(conn)) or dialled)
    conn = ssh.check({"connection": {"host": sshd.host, "port": sshd.port, "privateKey": sshd.private_key,
                                     "hostKey": sshd.host_key}})["connection"]
    marker = sshd.workdir / "lost-connection-started"
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(ssh.run({"connection": conn}, f"echo begun; touch {marker}; sleep 120"))
        except ssh.CommandError as err:
            outcome.append(err)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert time.monotonic() < deadline, "the command did not start within 30 s"
        time.sleep(0.1)
    cut = time.monotonic()
    dialled[-1].sock.shutdown(socket.SHUT_RDWR)
    runner.join(timeout=20)
    assert not runner.is_alive(), "the run did not end within 20 s of its connection going away"
    assert time.monotonic() - cut < 20
    assert isinstance(outcome[0], ssh.CommandError), outcome
    assert str(outcome[0]) == (f'wait: remote command exited without exit status or exit signal: running '
                               f'"echo begun; touch {marker}; sleep 120":\nbegun\n')
