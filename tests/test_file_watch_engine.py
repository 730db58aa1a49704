"""File watches under the real engine (the CLI, the SDK's dynamic-provider host, the command
provider's double or NOVA_E2E_PLUGINS' real plugin) against an OpenSSH server on loopback: a
node's file written by `NodeSteps.write_file`, a restart and a verify on its content hash, as the
components build them. A hand edit or a deletion shows at `refresh` as a change of the watch; the
next preview and `up` rewrite that file and run restart and verify again, nothing else; then
nothing changes. A config change keeps today's behaviour (the write step updates, restart and
verify replace), and a stack deployed before the watches only gets them created."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pulumi
import pytest
from pulumi_command import remote

from components.config import NodeSettings
from components.node import NodeSteps, content_hash, repaired
from components.scripts import write_file_from_stdin
from tools.plan import PROJECT_ROOT

WATCH = "pulumi-python:dynamic/files:FileWatch"


def node_program(sshd, path: Path, content: str, watched: bool = True):
    """One node: `conf` written, then `restart` and `verify` (each appends its name to a log)."""
    def program():
        parent = pulumi.ComponentResource("test:index:Node", "node")
        conn = remote.ConnectionArgs(host=sshd.host, port=sshd.port, user="root", host_key=sshd.host_key,
                                     private_key=pulumi.Output.secret(sshd.private_key))
        node = NodeSettings(name="node", host=sshd.host, port=sshd.port, user="root", my_ip="127.0.0.1", jump_host=None)
        steps = NodeSteps(parent, "node", node, conn=conn)
        text = pulumi.Output.secret(content)
        if watched:
            conf = steps.write_file("conf", str(path), text, mode="0640")
            trigger = repaired(content_hash(text), steps.watches["conf"])
        else:  # the program before the watches: the same write, restart and verify
            conf = steps.run("conf", write_file_from_stdin(str(path), "root", "root", "0640"), stdin=text, quiet=True)
            trigger = content_hash(text)
        log = path.parent / "steps.log"
        restart = steps.run("restart", f"echo restart >> {log}", depends_on=[conf], triggers=[trigger])
        steps.run("verify", f"echo verify >> {log}", depends_on=[restart], triggers=[trigger])
    return program


def ops(result) -> dict[str, int]:
    """What a preview, refresh or up changed (the same left out)."""
    counts = result.change_summary if hasattr(result, "change_summary") else result.summary.resource_changes
    return {op: count for op, count in (counts or {}).items() if op != "same"}


@pytest.fixture
def stack(engine, sshd, request):
    made = []

    def make(program):
        st = engine.stack(f"watch-{request.node.name[:40]}".replace("[", "-").replace("]", ""), program, project="watch")
        st.workspace.env_vars["PYTHONPATH"] = str(PROJECT_ROOT)  # the provider's module, for its host
        made.append(st)
        return st
    yield make
    for st in made:
        st.destroy(color="never")
        st.workspace.remove_stack(st.name)


def watch_state(st) -> dict:
    return next(r for r in st.export_stack().deployment["resources"] if r["type"] == WATCH)["outputs"]


def run_log(path: Path) -> list[str]:
    log = path.parent / "steps.log"
    lines = log.read_text().split() if log.exists() else []
    log.unlink(missing_ok=True)
    return lines


def test_a_hand_edit_shows_at_refresh_and_the_next_up_rewrites_the_file_then_restarts_and_verifies(stack, sshd, engine):
    path = sshd.workdir / "drift" / "nova.conf"
    st = stack(node_program(sshd, path, "[DEFAULT]\ndebug = false\n"))
    st.up(color="never", on_output=engine.printer())
    assert path.read_text() == "[DEFAULT]\ndebug = false\n" and run_log(path) == ["restart", "verify"]
    assert ops(st.preview(color="never", expect_no_changes=True)) == {}
    assert ops(st.refresh(color="never")) == {}  # nothing drifted: refresh changes nothing

    for damage, expected_drift in ((lambda: path.write_text("[DEFAULT]\ndebug = true\n"), "content differs"),
                                   (path.unlink, "absent"),
                                   (lambda: path.chmod(0o644), "mode 0644, expected 0640")):
        damage()
        refreshed = st.refresh(color="never", on_output=engine.printer(), diff=expected_drift == "absent")
        assert ops(refreshed) == {"update": 1}
        shown = engine.output[-1]
        if expected_drift == "absent":  # `./dev refresh STACK --diff`: what drifted, in words, and no secret
            assert '+ drift     : "absent"' in shown and "connection: [secret]" in shown, shown
            assert not [line for line in sshd.private_key.splitlines()[1:-1] if line in shown]
        else:  # the CLI's line: `~ pulumi-python:dynamic/files:FileWatch node-conf-watch updated (0.7s) [diff: ~drift]`
            assert [line for line in shown.splitlines() if "node-conf-watch updated" in line and "drift]" in line], shown
        assert watch_state(st)["drift"] == expected_drift
        # the preview says what the up does: the file's write step and what follows it run again
        assert ops(st.preview(color="never", diff=True)) == {"update": 1, "replace": 3}
        done = st.up(color="never", on_output=engine.printer())
        assert ops(done) == {"update": 1, "replace": 3}
        assert path.read_text() == "[DEFAULT]\ndebug = false\n" and path.stat().st_mode & 0o777 == 0o640
        assert run_log(path) == ["restart", "verify"]
        assert ops(st.preview(color="never", expect_no_changes=True)) == {}
        assert ops(st.up(color="never")) == {} and run_log(path) == []


def test_a_config_change_updates_the_write_and_replaces_restart_and_verify_as_before(stack, sshd):
    path = sshd.workdir / "change" / "nova.conf"
    st = stack(node_program(sshd, path, "[DEFAULT]\ndebug = false\n"))
    st.up(color="never")
    run_log(path)
    changed = st.up(color="never", program=node_program(sshd, path, "[DEFAULT]\ndebug = true\n"))
    # the watch records the new content, the write step updates (no replace: no repair), restart and verify replace
    assert ops(changed) == {"update": 2, "replace": 2}
    assert path.read_text() == "[DEFAULT]\ndebug = true\n" and run_log(path) == ["restart", "verify"]


def test_a_stack_deployed_before_the_watches_gets_them_created_and_runs_nothing_again(stack, sshd):
    path = sshd.workdir / "upgrade" / "nova.conf"
    st = stack(node_program(sshd, path, "x = 1\n", watched=False))
    st.up(color="never")
    run_log(path)
    upgraded = node_program(sshd, path, "x = 1\n")
    assert ops(st.preview(color="never", program=upgraded)) == {"create": 1}
    assert ops(st.up(color="never", program=upgraded)) == {"create": 1}
    assert run_log(path) == []


def test_no_secret_of_the_connection_or_the_file_is_in_the_backend(stack, sshd, engine):
    """The node's key, and the hash of a file holding a password, are secrets in every file the
    backend keeps (the stack, its history and backups), before and after a refresh found drift."""
    path = sshd.workdir / "secrets" / "nova.conf"
    st = stack(node_program(sshd, path, "password = hunter2-of-the-watch\n"))
    st.up(color="never")
    path.write_text("edited\n")
    st.refresh(color="never")
    digest = hashlib.sha256(b"password = hunter2-of-the-watch\n").hexdigest()
    key_lines = sshd.private_key.strip().splitlines()[1:-1]
    files = [f for f in (engine.root / "backend").rglob("*") if f.is_file() and st.name in str(f)]
    assert files
    for f in files:
        text = f.read_text(errors="replace")
        assert not [line for line in key_lines if line in text], f
        assert digest not in text and "hunter2-of-the-watch" not in text, f
    state = json.loads(next(f for f in files if f.name == f"{st.name}.json").read_text())
    watch = next(r for r in state["checkpoint"]["latest"]["resources"] if r["type"] == WATCH)
    for part in ("inputs", "outputs"):
        assert {k: "ciphertext" in watch[part][k] for k in ("connection", "expected")} == {
            "connection": True, "expected": True}
    assert watch["outputs"]["drift"] == "content differs"
