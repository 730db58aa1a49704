"""The node checks of components/scripts/services.py, executed for real: preflight (clock synchronised,
the services a node needs reachable) and detect_virt_type.

Each script runs with bash in the sandbox of tests/sandbox.py (the node's tools are fake
commands on PATH that log every call); its fixtures `box` and `listener` are registered
by tests/conftest.py.
"""
from __future__ import annotations

import os
import shutil

import pytest

from components import scripts
from tests.sandbox import Sandbox, assert_no_markers, free_port


# --------------------------------------------------------------------------------------------
# preflight
# --------------------------------------------------------------------------------------------

CHRONY_TRACKING = (
    "Reference ID    : A9FEA97B (169.254.169.123)\n"
    "Stratum         : 4\n"
    "System time     : 0.000012 seconds fast of NTP time\n"
    "Leap status     : {leap}\n"
)


def chrony(box: Sandbox, leap: str = "Normal") -> None:
    box.shim("chronyc", f"cat <<'EOF'\n{CHRONY_TRACKING.format(leap=leap)}EOF")


def test_preflight_passes_with_synced_clock_and_open_port(box, listener):
    chrony(box)

    r = box.run(scripts.preflight([("database", "127.0.0.1", listener), ("rabbitmq", "127.0.0.1", listener)]))

    assert (r.rc, r.out, r.err) == (0, "preflight ok\n", "")
    assert box.calls("chronyc") == ["-n tracking"]


def test_preflight_reports_a_closed_port(box, listener):
    chrony(box)
    closed = free_port()

    r = box.run(scripts.preflight([("database", "127.0.0.1", listener), ("rabbitmq", "127.0.0.1", closed)]))

    assert r.rc == 1
    assert r.out == ""
    assert r.err == f"preflight failed:\n  - unreachable: rabbitmq (127.0.0.1:{closed})\n"


def test_preflight_reports_every_problem_at_once(box, listener):
    chrony(box, leap="Not synchronised")
    closed1, closed2 = free_port(), free_port()

    r = box.run(scripts.preflight([
        ("database", "127.0.0.1", closed1),
        ("rabbitmq", "127.0.0.1", listener),
        ("keystone", "127.0.0.1", closed2),
    ]))

    assert r.rc == 1
    assert r.err == (
        "preflight failed:\n"
        "  - time: chrony is not synchronised (chronyc tracking)\n"
        f"  - unreachable: database (127.0.0.1:{closed1})\n"
        f"  - unreachable: keystone (127.0.0.1:{closed2})\n"
    )


def test_preflight_reports_unsynchronised_chrony(box, listener):
    chrony(box, leap="Not synchronised")
    r = box.run(scripts.preflight([("database", "127.0.0.1", listener)]))
    assert (r.rc, r.out) == (1, "")
    assert r.err == "preflight failed:\n  - time: chrony is not synchronised (chronyc tracking)\n"


def test_preflight_without_any_time_tool_reports_it(box, listener):
    # PATH holds only what the script needs besides the time tools (the system has timedatectl).
    tools = box.root / "tools"
    tools.mkdir()
    for tool in ("bash", "timeout"):
        (tools / tool).symlink_to(shutil.which(tool))

    r = box.run(scripts.preflight([("database", "127.0.0.1", listener)]), path=str(tools))

    assert r.rc == 1
    assert r.err == "preflight failed:\n  - time: neither chrony nor ntp is installed\n"


def test_preflight_uses_timedatectl_when_it_is_the_only_tool(box, listener):
    tools = box.root / "tools"
    tools.mkdir()
    for tool in ("bash", "timeout"):
        (tools / tool).symlink_to(shutil.which(tool))
    (tools / "timedatectl").symlink_to(box.shim("timedatectl", 'printf "%s\\n" "$(< "$STATE/ntp-synced")"'))
    (box.state / "ntp-synced").write_text("no\n")
    script = scripts.preflight([("database", "127.0.0.1", listener)])

    r = box.run(script, path=str(tools))
    assert r.rc == 1
    assert r.err == "preflight failed:\n  - time: the clock is not NTP-synchronised (timedatectl)\n"

    (box.state / "ntp-synced").write_text("yes\n")
    r = box.run(script, path=str(tools))
    assert (r.rc, r.out, r.err) == (0, "preflight ok\n", "")
    assert box.calls("timedatectl") == ["show -p NTPSynchronized --value"] * 2


def test_preflight_never_executes_a_hostile_host(box, listener):
    chrony(box)
    evil1 = "$(touch pwned1)"
    evil2 = "x'\"; touch pwned2; echo \"'"
    evil3 = "`touch pwned3`"

    r = box.run(scripts.preflight([("database", evil1, 3306), ("rabbitmq", evil2, 5672),
                                   ("keystone", evil3, 5000), ("ok", "127.0.0.1", listener)]))

    assert r.rc == 1
    assert r.err == (
        "preflight failed:\n"
        f"  - unreachable: database ({evil1}:3306)\n"
        f"  - unreachable: rabbitmq ({evil2}:5672)\n"
        f"  - unreachable: keystone ({evil3}:5000)\n"
    )
    assert_no_markers(box)


# --------------------------------------------------------------------------------------------
# detect_virt_type
# --------------------------------------------------------------------------------------------

def test_detect_virt_type_prints_one_of_the_two(box):
    r = box.run(scripts.detect_virt_type())
    assert r.rc == 0
    usable = os.path.exists("/dev/kvm") and os.access("/dev/kvm", os.R_OK | os.W_OK)
    assert r.out == ("kvm\n" if usable else "qemu\n")


def test_kvm_is_chosen_by_a_usable_device_not_by_cpu_flags(box):
    """A nested hypervisor's CPU may hide vmx/svm while its /dev/kvm works: the device decides.
    /dev/null stands for a character device that opens read-write."""
    assert box.run(scripts.detect_virt_type(device="/dev/null")).out == "kvm\n"
    plain = box.root / "not-a-device"
    plain.touch()
    assert box.run(scripts.detect_virt_type(device=str(plain))).out == "qemu\n"
    assert box.run(scripts.detect_virt_type(device=str(box.root / "missing"))).out == "qemu\n"
    with pytest.raises(ValueError):
        scripts.detect_virt_type(device="/dev/kvm; reboot")


def test_a_forced_kvm_without_dev_kvm_fails_saying_so(box):
    box.shim("hostname", "echo compute1")
    missing = box.root / "no-kvm-here"
    r = box.run(scripts.require_virt_type("kvm", device=str(missing)) + "echo restarted\n")
    assert (r.rc, r.out) == (1, "")
    assert r.err == (f"virt_type kvm, but {missing} is missing or unusable on compute1: enable hardware virtualisation "
                     "(or nested KVM) or set the node's virtType to qemu\n")
    missing.touch()  # a plain file is no KVM device either
    assert box.run(scripts.require_virt_type("kvm", device=str(missing)) + "echo restarted\n").rc == 1
    assert box.run(scripts.require_virt_type("kvm", device="/dev/null") + "echo restarted\n").out == "restarted\n"
    assert scripts.require_virt_type("qemu") == ""
    with pytest.raises(ValueError):
        scripts.require_virt_type("kvm; reboot")
