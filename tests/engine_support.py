"""The real Pulumi engine for tests: the CLI from tools/toolchain.sh, programs run inline through
the Automation API, the provider doubles (or NOVA_E2E_PLUGINS' real plugins) installed into a
PULUMI_HOME of the session's own, a file backend in a temporary directory. And `sshd`, an
OpenSSH server on loopback for the command provider to reach (a root login by key only).

Fixtures: `engine` (session), `sshd` (session). A test gets a stack with `engine.stack(name,
program)`; the engine's printed output is kept in `engine.output` (each run's lines)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import pytest

from tests.conftest import service_unavailable
from tests.doubles.plugins import install
from tools.engine.workspace import EngineError, engine_env, toolchain

PASSPHRASE = "engine-tests"  # the tests' own stacks' passphrase (no secret of any deployment)


@dataclass
class Engine:
    env: dict[str, str] = field(repr=False)  # holds the tests' passphrase
    root: Path
    installed: str
    output: list[str] = field(default_factory=list)

    def stack(self, name: str, program: Callable[[], None], project: str = "conformance"):
        """A new stack of an inline program in a project directory of its own."""
        import pulumi.automation as auto

        work = self.root / "projects" / project
        work.mkdir(parents=True, exist_ok=True)
        tools = Path(shutil.which("pulumi", path=self.env["PATH"])).parent
        opts = auto.LocalWorkspaceOptions(
            work_dir=str(work), env_vars=self.env, secrets_provider="passphrase",
            pulumi_command=auto.PulumiCommand(root=str(tools.parent)),
            project_settings=auto.ProjectSettings(name=project, runtime="python"))
        return auto.create_or_select_stack(name, project_name=project, program=program, opts=opts)

    def printer(self) -> Callable[[str], None]:
        self.output.append("")
        def keep(line: str) -> None:
            self.output[-1] += line + "\n"
        return keep


@pytest.fixture(scope="session")
def engine(tmp_path_factory) -> Engine:
    root = tmp_path_factory.mktemp("engine")
    base = {**os.environ, "PULUMI_HOME": str(root / "home"), "PULUMI_BACKEND_URL": f"file://{root / 'backend'}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE}
    base.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
    (root / "backend").mkdir(mode=0o700)
    try:
        env = engine_env(base, toolchain(base))
    except EngineError as err:
        service_unavailable(f"the Pulumi engine: {err}")
    installed = install(env, root)
    return Engine(env, root, installed)


@dataclass(frozen=True)
class Sshd:
    host: str
    port: int
    host_key: str  # "ssh-ed25519 AAAA..." as a stack pins it
    private_key: str = field(repr=False)  # the client's (root's login)
    workdir: Path  # where the tests' commands write


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def sshd(tmp_path_factory) -> Optional[Sshd]:
    daemon = shutil.which("sshd") or "/usr/sbin/sshd"
    if not Path(daemon).exists():
        service_unavailable("no OpenSSH server (apt-get install openssh-server; tools/test-services.sh installs it)")
    if os.geteuid() != 0:
        service_unavailable("sshd for the command provider's tests runs as root (a root login by key)")
    d = tmp_path_factory.mktemp("sshd")
    os.chmod(d, 0o700)
    for name in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)], check=True)
    (d / "authorized_keys").write_text((d / "client.pub").read_text())
    port = _free_port()
    (d / "sshd_config").write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {d / 'host'}", "PermitRootLogin prohibit-password",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", f"AuthorizedKeysFile {d / 'authorized_keys'}",
        "StrictModes no", "UsePAM no", f"PidFile {d / 'sshd.pid'}", "AcceptEnv PULUMI_TEST_*", ""]))
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
    proc = subprocess.Popen([daemon, "-D", "-e", "-f", str(d / "sshd_config")], stderr=open(d / "sshd.log", "w"))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        service_unavailable(f"sshd did not start: {(d / 'sshd.log').read_text()[-500:]}")
    work = d / "work"
    work.mkdir()
    host_key = " ".join((d / "host.pub").read_text().split()[:2])
    try:
        yield Sshd("127.0.0.1", port, host_key, (d / "client").read_text(), work)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
