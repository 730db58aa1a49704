"""The node's own daemons, started by this harness and not the system's: chronyd (the time
service the program's preflight checks) and a dedicated sshd on 127.0.0.1:2222 that lets root in
with a key pair generated for the run (the program's remote commands go through it)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from .common import CHRONYD, LOOPBACK, SSH_PORT, SSHD, run, write_private
from .processes import port_open, start_daemon, wait_until
from .state import State

CHRONY_PIDFILE = Path("/run/chrony/chronyd.pid")


def setup_chrony(state: State) -> None:
    """Time service, as the tutorial's "all nodes installation" sets up. This sandbox reaches
    no NTP server, so chronyd serves the local clock (`local stratum 10`) and, with -x, never
    steps it: `chronyc tracking` then reports a synchronised, Normal leap status, which is
    what the program's preflight checks."""
    conf = state.dir / "chrony.conf"
    conf.write_text(f"local stratum 10\nport 0\ndriftfile {state.dir / 'chrony.drift'}\n"
                    f"pidfile {CHRONY_PIDFILE}\n")
    run_dir = CHRONY_PIDFILE.parent
    run_dir.mkdir(mode=0o750, exist_ok=True)
    shutil.chown(run_dir, "_chrony", "_chrony")
    pid = start_daemon(state, "chronyd", [CHRONYD, "-x", "-d", "-f", str(conf)], CHRONYD,
                       taken=CHRONY_PIDFILE.exists, resource=f"{CHRONY_PIDFILE} (a chronyd)")
    wait_until(lambda: "Leap status     : Normal" in run(["chronyc", "-n", "tracking"],
                                                            check=False).stdout,
               what="chronyd to report a Normal leap status", timeout=30, interval=0.5,
               pid=pid, logfile=state.log_path("chronyd.out"))


def _keygen(path: Path, *options: str) -> None:
    if not path.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", *options, "-f", str(path)],
            what=f"ssh-keygen ({path.name})")


def setup_sshd(state: State) -> Path:
    d = state.dir
    key = d / "id_ed25519"
    _keygen(key, "-C", "nova-e2e")
    host_key = d / "ssh_host_ed25519_key"
    _keygen(host_key)
    write_private(d / "authorized_keys", (d / "id_ed25519.pub").read_text())
    config = d / "sshd_config"
    config.write_text(f"""# dedicated sshd of the nova e2e test (not the system's)
Port {SSH_PORT}
ListenAddress {LOOPBACK}
HostKey {host_key}
PidFile {d / 'sshd.pid.sshd'}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile {d / 'authorized_keys'}
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# the state dir may live under /tmp (world-writable parent); the key files are root's, 0600
StrictModes no
# as Debian's stock sshd_config: a remote.Command's `environment` (SSH env requests) gets only these
AcceptEnv LANG LC_*
PrintMotd no
X11Forwarding no
Subsystem sftp /usr/lib/openssh/sftp-server
""")
    os.chmod(config, 0o600)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation directory
    run([SSHD, "-t", "-f", str(config)], what="sshd -t (config test)")
    pid = start_daemon(state, "sshd", [SSHD, "-D", "-f", str(config),
                                       "-E", str(state.log_path("sshd.log"))], SSHD,
                       taken=lambda: port_open(LOOPBACK, SSH_PORT),
                       resource=f"{LOOPBACK}:{SSH_PORT}")
    wait_until(lambda: port_open(LOOPBACK, SSH_PORT), what="sshd to listen", timeout=30,
               interval=0.2, pid=pid, logfile=state.log_path("sshd.log"))
    return key
