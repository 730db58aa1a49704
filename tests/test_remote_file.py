"""components/remote_file.py against a real OpenSSH server on loopback (tests/engine_support.py's
`sshd`, a root login by key): what a file is, edited, deleted or unchanged; the pinned host key
the only one accepted, for the node and its jump host; hostile paths quoted, relative ones
refused; the private key only ever in a private file that is gone afterwards."""
from __future__ import annotations

import hashlib
import shlex
import subprocess
from pathlib import Path

import pytest

from components import remote_file
from components.remote_file import Observation, RemoteFileError, observe, parse_output, read_script


def conn(sshd, **changes) -> dict:
    return {"host": sshd.host, "port": sshd.port, "user": "root", "privateKey": sshd.private_key,
            "hostKey": sshd.host_key, **changes}


def other_host_key(tmp_path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    return " ".join((tmp_path / "other.pub").read_text().split()[:2])


@pytest.fixture
def conf(sshd, request) -> Path:
    path = sshd.workdir / f"rf-{request.node.name[:50]}" / "nova.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[DEFAULT]\ndebug = false\n")
    path.chmod(0o640)
    return path


def test_an_unchanged_file_is_what_it_is(sshd, conf):
    seen = observe(conn(sshd), str(conf))
    assert seen == Observation(hashlib.sha256(conf.read_bytes()).hexdigest(), "root", "root", 0o640)


def test_an_edited_file_has_another_hash_and_a_changed_mode_shows(sshd, conf):
    before = observe(conn(sshd), str(conf))
    conf.write_text("[DEFAULT]\ndebug = true\n")
    conf.chmod(0o644)
    after = observe(conn(sshd), str(conf))
    assert after.sha256 != before.sha256 and after.mode == 0o644


def test_a_deleted_file_a_directory_and_a_symbolic_link_are_absent(sshd, conf):
    link = conf.parent / "link.conf"
    link.symlink_to(conf)
    assert observe(conn(sshd), str(link)) == Observation(None)
    assert observe(conn(sshd), str(conf.parent)) == Observation(None)
    conf.unlink()
    assert observe(conn(sshd), str(conf)) == Observation(None)


def test_a_host_key_other_than_the_pinned_one_is_refused_naming_the_node_and_path(sshd, conf, tmp_path):
    with pytest.raises(RemoteFileError) as refused:
        observe(conn(sshd, hostKey=other_host_key(tmp_path)), str(conf))
    message = str(refused.value)
    assert f"root@{sshd.host}:{sshd.port}" in message and str(conf) in message
    assert "Host key verification failed" in message
    assert not [line for line in sshd.private_key.splitlines()[1:-1] if line in message]


def test_without_a_pinned_key_any_host_key_is_accepted_as_the_steps_do(sshd, conf):
    assert observe(conn(sshd, hostKey=None), str(conf)).sha256 is not None


def test_through_a_jump_host_each_pinned_key_is_checked(sshd, conf, tmp_path):
    jump = {"host": sshd.host, "port": sshd.port, "user": "root", "privateKey": sshd.private_key,
            "hostKey": sshd.host_key}
    assert observe(conn(sshd, proxy=jump), str(conf)).sha256 is not None
    with pytest.raises(RemoteFileError, match="through root@127.0.0.1"):
        observe(conn(sshd, proxy={**jump, "hostKey": other_host_key(tmp_path)}), str(conf))


@pytest.mark.parametrize("name", ["a b.conf", "x'; touch PWNED; '", "$(touch PWNED)", "`touch PWNED`",
                                  "x\"; touch PWNED #", "-rf", "*"])
def test_a_hostile_path_is_read_as_one_file_name(sshd, conf, name):
    hostile = conf.parent / name
    assert observe(conn(sshd), str(hostile)) == Observation(None)
    hostile.write_text("mine\n")
    assert observe(conn(sshd), str(hostile)).sha256 == hashlib.sha256(b"mine\n").hexdigest()
    assert not list(conf.parent.glob("PWNED")) and not (Path.home() / "PWNED").exists()
    assert shlex.quote(str(hostile)) in read_script(str(hostile))


@pytest.mark.parametrize("path", ["etc/nova/nova.conf", "nova.conf", "", "/etc/nova\n/x", "/etc/\x00x", None])
def test_a_path_that_is_not_absolute_or_not_printable_is_refused_before_any_connection(path, monkeypatch):
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("connected"))
    with pytest.raises(RemoteFileError, match="refusing to read"):
        observe({"host": "10.0.0.5", "user": "root"}, path)


@pytest.mark.parametrize("field, value", [("host", "h\n  ProxyCommand touch /tmp/x"), ("host", "h o"),
                                          ("user", "root\nProxyCommand x"), ("port", 0), ("hostKey", "not a key")])
def test_a_connection_field_that_would_add_ssh_options_is_refused(field, value, monkeypatch):
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("connected"))
    with pytest.raises(RemoteFileError):
        observe({"host": "10.0.0.5", "user": "root", field: value}, "/etc/nova/nova.conf")


def test_the_key_is_in_a_private_file_never_on_the_command_line_and_gone_after(sshd, conf, monkeypatch):
    seen = []
    real_run = subprocess.run

    def run(args, **kwargs):
        config = Path(args[args.index("-F") + 1])
        key = config.parent / "id"
        seen.append((list(args), kwargs.get("env"), oct(config.parent.stat().st_mode & 0o777),
                     oct(key.stat().st_mode & 0o777), key.read_text(), config.parent))
        return real_run(args, **kwargs)
    monkeypatch.setattr(remote_file.subprocess, "run", run)
    observe(conn(sshd), str(conf))
    [(args, env, dir_mode, key_mode, key_text, directory)] = seen
    assert key_text.strip() == sshd.private_key.strip() and (dir_mode, key_mode) == ("0o700", "0o600")
    assert not [part for part in args if "PRIVATE KEY" in part or sshd.private_key.splitlines()[1] in part]
    assert env is None and not directory.exists()


def test_an_unreachable_node_fails_in_bounded_time_naming_node_and_path(sshd):
    with pytest.raises(RemoteFileError, match=r"cannot read '/etc/nova/nova.conf' on root@127.0.0.1:1\b"):
        observe({"host": "127.0.0.1", "port": 1, "user": "root", "privateKey": sshd.private_key},
                "/etc/nova/nova.conf")


def test_a_non_root_login_reads_through_sudo(monkeypatch):
    commands = []

    def run(args, **kwargs):
        commands.append(args[-1])
        return subprocess.CompletedProcess(args, 0, "absent\n", "")
    monkeypatch.setattr(remote_file.subprocess, "run", run)
    observe({"host": "10.0.0.5", "user": "deploy"}, "/etc/nova/nova.conf")
    observe({"host": "10.0.0.5", "user": "root"}, "/etc/nova/nova.conf")
    assert commands[0].startswith("sudo -n ") and commands[1] == read_script("/etc/nova/nova.conf")


@pytest.mark.parametrize("text", ["", "absent\nabsent\n", "x" * 64 + "\nroot:root 640\n", "a" * 64 + "\nroot root 640\n"])
def test_an_answer_of_another_shape_is_an_error(text):
    with pytest.raises(RemoteFileError):
        parse_output(text)


def test_the_ssh_options_bound_every_wait():
    config = remote_file.ssh_config(remote_file.Endpoint("h", 22, "root", None), None, Path("/d"), None)
    assert {"  BatchMode yes", "  ConnectTimeout 15", "  ServerAliveInterval 5", "  StrictHostKeyChecking no",
            "  GlobalKnownHostsFile /dev/null", "  ForwardAgent no"} <= set(config.splitlines())
