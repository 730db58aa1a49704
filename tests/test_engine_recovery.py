"""What `./dev` says after a run that did not end well (tools/engine/recovery.py): wait for a
lock whose run still goes, recover from one whose run is gone, clear pending operations; and,
through the real CLI, a stack locked by a dead run refused with the recovery named, then
unlocked by `./dev cancel`."""
from __future__ import annotations

import json
import os
import socket
import subprocess

from tools.engine import recovery
from tools.engine.__main__ import _cli_failure
from tools.plan import PROJECT_ROOT

# The engine's error, as pkg/backend/diy/lock.go writes it.
LOCKED = ("error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or "
          "delete the lock file with `pulumi cancel`.\n  file:///s/.pulumi/locks/organization/openstack-nova/e2e/"
          "x.json?no_tmp_dir=true: created by root@vm (pid 4242) at 2026-12-06T11:00:00Z")
RECOVERY = ["  ./dev cancel e2e", "  ./dev refresh e2e --clear-pending-creates", "  ./dev up e2e"]


def test_a_lock_whose_run_is_gone_names_the_recovery_in_order():
    advice = recovery.lock_advice("e2e", LOCKED, hostname="vm", running=lambda pid: False)
    assert advice == ["e2e is locked by a run that is gone (pid 4242, started 2026-12-06T11:00:00Z): it was killed "
                      "or lost its session. Recover (README: \"When a run is interrupted\"):", *RECOVERY]


def test_a_lock_whose_run_still_goes_says_wait_and_not_cancel():
    advice = recovery.lock_advice("e2e", LOCKED, hostname="vm", running=lambda pid: pid == 4242)
    assert len(advice) == 1
    assert advice[0].startswith("e2e is locked by a run still going: pulumi pid 4242 on this machine, started "
                                "2026-12-06T11:00:00Z. Wait for it to end; do not `./dev cancel e2e` while it runs")


def test_a_lock_from_another_machine_is_recovered_only_once_its_run_is_known_gone():
    advice = recovery.lock_advice("e2e", LOCKED, hostname="elsewhere", running=lambda pid: True)
    assert advice[0].startswith("e2e is locked by a run on vm (pid 4242): if it no longer runs there, recover with "
                                "./dev cancel e2e; ./dev refresh e2e --clear-pending-creates; ./dev up e2e")


def test_other_failures_get_no_lock_advice():
    assert recovery.lock_advice("e2e", "error: update failed", hostname="vm") == []


def test_a_running_pulumi_is_told_from_a_recycled_pid(tmp_path):
    for pid, comm in ((1, "pulumi\n"), (2, "bash\n")):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "comm").write_text(comm)
    assert [recovery.pulumi_running(pid, proc=tmp_path) for pid in (1, 2, 3)] == [True, False, False]


def test_pending_operations_are_listed_with_the_refresh_that_clears_them():
    ops = [{"resource": {"urn": "urn:pulumi:e2e::openstack-nova::a$command:remote:Command::e2e-compute1-verify"},
            "type": "creating"}]
    assert recovery.pending_advice("e2e", ops) == [
        "e2e's state holds 1 operation(s) an interrupted run left pending:",
        "  e2e-compute1-verify (interrupted while creating)",
        "`./dev refresh e2e --clear-pending-creates` clears them; the next `./dev up e2e` runs their steps again "
        "(README: \"When a run is interrupted\")."]
    assert recovery.pending_advice("e2e", []) == []


def test_a_cli_ended_by_a_signal_is_told_the_recovery_and_an_exit_code_is_not():
    assert recovery.signal_advice("e2e", -9)[1:] == RECOVERY
    assert recovery.signal_advice("e2e", -9)[0].startswith("the Pulumi CLI was ended by signal 9: e2e stays locked")
    assert recovery.signal_advice("e2e", 1) == recovery.signal_advice("e2e", None) == []


def test_the_cli_s_code_and_stderr_come_from_the_automation_api_s_error():
    from pulumi.automation._cmd import CommandResult
    from pulumi.automation.errors import create_command_error
    err = create_command_error(CommandResult(stdout="Updating\nmore", stderr=LOCKED, code=-9))
    assert _cli_failure(err) == (-9, LOCKED)


def test_a_stack_locked_by_a_dead_run_is_refused_naming_the_recovery_and_cancel_unlocks_it(engine, tmp_path):
    """The real CLI: `./dev up` of a stack whose lock names a pid that is no `pulumi` refuses
    before any step, with the engine's error and the recovery; `./dev cancel` removes the lock."""
    env = {**engine.env, "PULUMI_BACKEND_URL": f"file://{tmp_path}", "PULUMI_CONFIG_PASSPHRASE": "openstack"}
    dev = lambda *args: subprocess.run([str(PROJECT_ROOT / "dev"), *args], cwd=PROJECT_ROOT, env=env,  # noqa: E731
                                       capture_output=True, text=True, timeout=300)
    assert dev("cancel", "tutorial").returncode == 0  # creates the stack; nothing to cancel yet
    locks = tmp_path / ".pulumi" / "locks" / "organization" / "openstack-nova" / "tutorial"
    locks.mkdir(parents=True, exist_ok=True)  # the CLI may have left it (its own lock came and went)
    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid that was a process and is none now
    (locks / "lock.json").write_text(json.dumps({"pid": dead.pid, "username": "root", "hostname": socket.gethostname(),
                                                 "timestamp": "2026-12-06T11:00:00Z"}))
    refused = dev("up", "tutorial", "--skip-preview")
    assert refused.returncode == 1
    assert "the stack is currently locked by 1 lock(s)" in refused.stderr
    assert (f"tutorial is locked by a run that is gone (pid {dead.pid}, started 2026-12-06T11:00:00Z)"
            in refused.stderr)
    assert "\n  ./dev cancel tutorial\n  ./dev refresh tutorial --clear-pending-creates\n  ./dev up tutorial\n" in refused.stderr
    cancelled = dev("cancel", "tutorial")
    assert cancelled.returncode == 0 and "The currently running update for 'tutorial' has been canceled!" in cancelled.stdout
    assert os.listdir(locks) == []


def test_locks_are_read_from_a_file_backend_in_the_engine_s_words(tmp_path):
    locks = tmp_path / ".pulumi" / "locks" / "organization" / "openstack-nova" / "e2e"
    assert recovery.held_locks(f"file://{tmp_path}", "openstack-nova", "e2e") == ""
    locks.mkdir(parents=True)
    (locks / "a.json").write_text(json.dumps({"pid": 7, "username": "root", "hostname": "vm",
                                              "timestamp": "2026-12-06T11:00:00.5Z"}))
    (locks / "b.json").write_text('{"pid": 8, "user')  # being written: not yet a lock to report
    held = recovery.held_locks(f"file://{tmp_path}", "openstack-nova", "e2e")
    assert held == (f"the stack is currently locked by 1 lock(s):\n  {locks / 'a.json'}: created by root@vm (pid 7) "
                    "at 2026-12-06T11:00:00.5Z")
    assert recovery.lock_holders(held) == [recovery.Holder("root", "vm", 7, "2026-12-06T11:00:00.5Z")]
    assert recovery.held_locks("s3://bucket", "openstack-nova", "e2e") == ""


def test_after_a_failure_a_running_run_s_steps_are_not_called_pending():
    """A run that failed reading the state another run was writing: that run's steps in flight
    are no interrupted run's; a killed run's are, listed after the recovery that clears them."""
    ops = [{"resource": {"urn": "urn:pulumi:e2e::p::t::e2e-compute1-nova-conf"}, "type": "updating"}]
    held = LOCKED.replace("@vm", "@" + socket.gethostname())
    waiting = recovery.failure_advice("e2e", "error: failed to load checkpoint: EOF", 1, held, lambda: ops,
                                      running=lambda pid: True)
    assert len(waiting) == 1 and waiting[0].startswith("e2e is locked by a run still going: pulumi pid 4242")
    gone = recovery.failure_advice("e2e", "", -9, held, lambda: ops, running=lambda pid: False)
    assert gone[0].startswith("the Pulumi CLI was ended by signal 9") and gone[1:4] == RECOVERY
    assert gone[4:] == ["e2e's state holds 1 operation(s) an interrupted run left pending:",
                        "  e2e-compute1-nova-conf (interrupted while updating)"]
    assert recovery.failure_advice("e2e", "error: update failed", 1, "", lambda: []) == []
