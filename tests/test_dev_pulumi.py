"""`./dev pulumi`: the Pulumi CLI on PATH (else the toolchain's, once built), run with the project's backend and rules, for a
machine with the Python language host (README: "Running it: the real Pulumi engine"). A
recording `pulumi` stands in for it here: these tests check what the wrapper hands the CLI and
what it tells a user, not the CLI (tests/test_program_engine.py runs the real one)."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tools.plan import PROJECT_ROOT

RECORDER = """#!/bin/sh
if [ "$1" = version ]; then echo "v{version}"; exit 0; fi
echo "args: $*"
echo "cwd: $(pwd)"
echo "backend: $PULUMI_BACKEND_URL"
echo "acquisition: $PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"
echo "update-check: $PULUMI_SKIP_UPDATE_CHECK"
"""


def run(tmp_path: Path, version: str | None, *args: str, **env: str) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    if version is not None:
        fake = bin_dir / "pulumi"
        fake.write_text(RECORDER.format(version=version))
        fake.chmod(0o755)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    environment.update(PATH=f"{bin_dir}:/usr/bin:/bin", **env)
    return subprocess.run([str(PROJECT_ROOT / "tools" / "pulumi.sh"), *args], capture_output=True, text=True,
                          env=environment, cwd=tmp_path, timeout=60)


def test_the_cli_runs_in_the_project_with_a_local_backend_and_no_downloads(tmp_path):
    done = run(tmp_path, "3.280.1", "preview", "-s", "tutorial", "--diff")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "args: preview -s tutorial --diff", f"cwd: {PROJECT_ROOT}",
        f"backend: file://{PROJECT_ROOT}/.pulumi-state", "acquisition: true", "update-check: true"]
    assert (PROJECT_ROOT / ".pulumi-state").stat().st_mode & 0o777 == 0o700


def test_a_backend_of_the_user_s_wins(tmp_path):
    done = run(tmp_path, "3.280.1", "stack", "ls", PULUMI_BACKEND_URL="file:///srv/state")
    assert "backend: file:///srv/state" in done.stdout


def test_an_older_cli_is_refused_naming_the_version_needed(tmp_path):
    want = next(line.split("==")[1] for line in (PROJECT_ROOT / "requirements.txt").read_text().splitlines()
                if line.startswith("pulumi=="))
    done = run(tmp_path, "3.100.0", "up")
    assert done.returncode == 2 and "args:" not in done.stdout
    assert done.stderr.strip() == (f"error: pulumi 3.100.0 on PATH is older than the SDK the program pins ({want}); "
                                   f"upgrade the CLI to {want} or later")
    assert run(tmp_path, want, "up").returncode == 0  # the pinned version itself is fine


def test_no_cli_says_how_to_get_one(tmp_path):
    """It named a README section that was not there; now the command that builds the CLI and a
    section that exists."""
    done = run(tmp_path, None, "up", NOVA_TOOLCHAIN_DIR=str(tmp_path / "no-toolchain"))
    assert (done.returncode, done.stdout) == (127, "")
    assert done.stderr.startswith("error: no pulumi CLI on PATH, and the project's toolchain is not built yet: "
                                  "./dev toolchain builds it")
    assert "./dev plan STACK" in done.stderr
    section = re.search(r'README: "([^"]+)"', done.stderr).group(1)
    assert f"\n## {section}\n" in (PROJECT_ROOT / "README.md").read_text()
    assert not (tmp_path / "no-toolchain").exists()  # asking built nothing


def test_without_a_cli_on_path_the_toolchain_s_is_used(tmp_path):
    """`./dev toolchain` built it earlier: no need to put it on PATH first (and without Go on PATH)."""
    built = tmp_path / "toolchain" / "pulumi-v3.280.1-0123456789ab" / "bin"
    built.mkdir(parents=True)
    (built / "pulumi").write_text(RECORDER.format(version="3.280.1"))
    (built / "pulumi-resource-pulumi-python").write_text("#!/bin/sh\n")
    for binary in built.iterdir():
        binary.chmod(0o755)
    done = run(tmp_path, None, "stack", "ls", NOVA_TOOLCHAIN_DIR=str(tmp_path / "toolchain"), PULUMI_VERSION="3.280.1")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines()[:2] == ["args: stack ls", f"cwd: {PROJECT_ROOT}"]
