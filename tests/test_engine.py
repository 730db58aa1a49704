"""`./dev preview|up|...`: what it tells a user before the engine starts, when something it needs
is missing (the engine would otherwise stop half-way, or try a download this machine cannot make)."""
from __future__ import annotations

import os
import subprocess

from tools.plan import PROJECT_ROOT



def dev(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(PROJECT_ROOT / "dev"), *args], cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True, timeout=600)


def test_missing_providers_stop_before_anything_runs_and_name_the_install(engine, tmp_path):
    env = {**engine.env, "PULUMI_HOME": str(tmp_path / "empty-home"), "PULUMI_BACKEND_URL": f"file://{tmp_path}"}
    done = dev("preview", "tutorial", env=env)
    assert done.returncode == 2, done.stderr
    assert "lacks the providers the program's SDKs request" in done.stderr
    assert "pulumi plugin install resource command 1.2.1 --file <pulumi-resource-command binary>" in done.stderr
    assert "pulumi plugin install resource openstack 5.5.3 --file <pulumi-resource-openstack binary>" in done.stderr
    assert not list(tmp_path.rglob("*.json")), "a stack was created"


def test_without_a_passphrase_it_says_how_to_give_one(engine, tmp_path):
    env = {k: v for k, v in engine.env.items() if not k.startswith("PULUMI_CONFIG_PASSPHRASE")}
    done = dev("up", "tutorial", env={**env, "PULUMI_BACKEND_URL": f"file://{tmp_path}"})
    assert done.returncode == 2
    assert "set PULUMI_CONFIG_PASSPHRASE_FILE" in done.stderr and "Traceback" not in done.stderr


def test_an_unknown_operation_is_a_usage_error(engine):
    done = subprocess.run([str(PROJECT_ROOT / "venv/bin/python"), "-m", "tools.engine", "apply", "tutorial"],
                          cwd=PROJECT_ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "invalid choice: 'apply'" in done.stderr


def test_a_stack_without_a_stack_file_is_refused_not_created(engine, tmp_path):
    """A typo would otherwise make a new, empty stack in the backend and its file in stacks/."""
    env = {**engine.env, "PULUMI_BACKEND_URL": f"file://{tmp_path}"}
    done = dev("up", "tutoral", env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(f"error: no stack 'tutoral': {PROJECT_ROOT}/stacks/Pulumi.tutoral.yaml does not "
                                  "exist (stacks: ")
    assert not (PROJECT_ROOT / "stacks" / "Pulumi.tutoral.yaml").exists() and not list(tmp_path.rglob("*.json"))


def test_the_dynamic_providers_find_the_project_from_any_work_dir(tmp_path):
    """The database provider and the file watches are pickled by reference to components/: the
    provider host must import them when the stack is read from --work-dir (or the lab's)."""
    from tools.engine.workspace import engine_env
    env = engine_env({"PULUMI_CONFIG_PASSPHRASE": "x", "PATH": "/usr/bin", "PYTHONPATH": "/elsewhere"}, tmp_path)
    assert env["PYTHONPATH"].split(os.pathsep) == [str(PROJECT_ROOT), "/elsewhere"]
    assert engine_env({"PULUMI_CONFIG_PASSPHRASE": "x", "PATH": "/usr/bin"}, tmp_path)["PYTHONPATH"] == str(PROJECT_ROOT)
