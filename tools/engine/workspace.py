"""The program under the real Pulumi engine, without the Go language host: the Python SDK's
Automation API serves the language runtime in-process and hands the CLI its address (the CLI's
`--client`), so only `pulumi` (tools/toolchain.sh) and the dynamic-provider host it ships are
needed, plus the two providers in the plugin cache.

Everything here is about where things are and what the engine needs in its environment; the
command line is tools/engine/__main__.py."""
from __future__ import annotations

import json
import os
import runpy
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from tools.plan.paths import PROJECT_ROOT
from tools.plan.secure_values import passphrase_from
from tools.plan.stack_file import StackConfigError

PROJECT = "openstack-nova"
# The providers the program's SDKs ask for, at exactly the versions their pulumi-plugin.json name.
PROVIDER_PACKAGES = ("pulumi_command", "pulumi_openstack")


class EngineError(Exception):
    """Something the engine needs is missing; the message names the fix."""


@dataclass(frozen=True)
class Plugin:
    name: str
    version: str


def required_plugins() -> list[Plugin]:
    """What the installed provider SDKs request (their pulumi-plugin.json)."""
    found = []
    for package in PROVIDER_PACKAGES:
        module = __import__(package)
        meta = json.loads((Path(module.__file__).parent / "pulumi-plugin.json").read_text())
        found.append(Plugin(meta["name"], meta["version"]))
    return found


def toolchain(env: Mapping[str, str]) -> Path:
    """The directory holding `pulumi` and `pulumi-resource-pulumi-python`: built once and cached
    by tools/toolchain.sh, or the `pulumi` on PATH with NOVA_PULUMI_FROM_PATH=1."""
    if env.get("NOVA_PULUMI_FROM_PATH") == "1":
        found = shutil.which("pulumi", path=env.get("PATH"))
        if not found:
            raise EngineError("NOVA_PULUMI_FROM_PATH=1 but no pulumi on PATH; unset it to build the CLI (./dev toolchain)")
        return Path(found).resolve().parent
    done = subprocess.run([str(PROJECT_ROOT / "tools" / "toolchain.sh")], env=dict(env), stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise EngineError(f"the Pulumi toolchain could not be built (tools/toolchain.sh exit {done.returncode}; see above)")
    return Path(done.stdout.strip().splitlines()[-1])


def engine_env(base: Mapping[str, str], tools: Path) -> dict[str, str]:
    """The environment the CLI and its plugins run in: this project's backend, no download of
    anything at run time, the dynamic-provider host running our venv's Python."""
    env = dict(base)
    env["PATH"] = f"{tools}{os.pathsep}{env.get('PATH', '')}"
    if not env.get("PULUMI_BACKEND_URL"):
        state = PROJECT_ROOT / ".pulumi-state"
        state.mkdir(mode=0o700, exist_ok=True)
        os.chmod(state, 0o700)  # the file backend writes its files 0644: the directory keeps them private
        env["PULUMI_BACKEND_URL"] = f"file://{state}"
    env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] = "true"
    env["PULUMI_SKIP_UPDATE_CHECK"] = "true"
    env["PULUMI_RUNTIME_VIRTUALENV"] = sys.prefix
    # The dynamic providers (the database's, the file watches) are pickled by reference to this
    # project's modules: their host imports them whatever the work dir (--work-dir, the lab's).
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), *filter(None, [base.get("PYTHONPATH")])])
    if not env.get("PULUMI_CONFIG_PASSPHRASE") and not env.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        raise EngineError("the stacks' secrets are encrypted with a passphrase: set PULUMI_CONFIG_PASSPHRASE_FILE "
                          "(a file only you can read) or PULUMI_CONFIG_PASSPHRASE (the tutorial's is `openstack`)")
    try:
        passphrase_from(env)  # a passphrase file the CLI cannot read would stop it once under way
    except StackConfigError as err:
        raise EngineError(str(err)) from None
    return env


def missing_plugins(env: Mapping[str, str]) -> list[Plugin]:
    done = subprocess.run(["pulumi", "plugin", "ls", "--json"], env=dict(env), capture_output=True, text=True)
    if done.returncode != 0:
        raise EngineError(f"`pulumi plugin ls` failed: {done.stderr.strip()}")
    have = {(p.get("name"), str(p.get("version", "")).lstrip("v")) for p in json.loads(done.stdout or "[]")
            if p.get("kind") == "resource"}
    return [p for p in required_plugins() if (p.name, p.version) not in have]


def check_plugins(env: Mapping[str, str]) -> None:
    """Stop before the engine starts when a provider is missing (it would stop half-way, or try
    a download this machine cannot make)."""
    missing = missing_plugins(env)
    if missing:
        home = env.get("PULUMI_HOME") or "~/.pulumi"
        lines = [f"  pulumi plugin install resource {p.name} {p.version} --file <pulumi-resource-{p.name} binary>"
                 for p in missing]
        raise EngineError(f"the plugin cache ({home}) lacks the providers the program's SDKs request; install them:\n"
                          + "\n".join(lines))


def run_program() -> None:
    """The inline program: the project's own __main__.py, as `pulumi up` would run it."""
    runpy.run_path(str(PROJECT_ROOT / "__main__.py"), run_name="__main__")


def preview(stack, **kwargs):
    """`pulumi preview` without the file backend's checkpoints: the backend re-serialises the
    whole deployment after every step (its cost grows with the square of the resources: 100
    hypervisors took 33-39 s instead of 10), and a preview changes nothing worth keeping. `up`
    keeps them, so a run killed half-way leaves the state of every step that finished."""
    env = stack.workspace.env_vars
    env["PULUMI_SKIP_CHECKPOINTS"] = "true"
    try:
        return stack.preview(**kwargs)
    finally:
        env.pop("PULUMI_SKIP_CHECKPOINTS", None)


def cancel(stack) -> str:
    """`pulumi cancel`: removes the stack's lock (with the file backend, only that: the run that
    took it is not stopped). What the CLI printed. (The Automation API's own cancel keeps it.)"""
    done = subprocess.run(["pulumi", "cancel", "--yes", "--non-interactive", "--color", "never", "--stack", stack.name],
                          cwd=stack.workspace.work_dir, env={**os.environ, **stack.workspace.env_vars},
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise EngineError(f"pulumi cancel {stack.name}: {(done.stderr or done.stdout).strip()}")
    return (done.stdout + done.stderr).strip()


def pending_operations(stack) -> list[dict]:
    """The operations an interrupted run left in the stack's state (the engine warns of them at
    every `up` and keeps them until a refresh clears them); none known when the state cannot be
    read (another run writing it)."""
    import pulumi.automation as auto

    if stack is None:
        return []
    try:
        return list(stack.export_stack().deployment.get("pending_operations") or [])
    except auto.errors.CommandError:
        return []


def set_config(stack, values: Mapping[str, Any], secret_keys: Iterable[str]) -> None:
    """Make the stack's config exactly `values` (full keys; strings, JSON text or structures, as
    the program reads them). Each secret goes to `pulumi config set --secret` on stdin, one at a
    time: never on a command line, where any user's `ps` would show it (the Automation API's own
    set_config puts values in argv). The rest goes in one `pulumi config set-all --json`, lists
    and maps as structures (the CLI checks Pulumi.yaml's declared types: `array<string>`).
    Keys the stack has and `values` lacks are removed."""
    secret_keys = set(secret_keys)
    env = {**os.environ, **stack.workspace.env_vars}
    cwd = stack.workspace.work_dir

    def cli(*args: str, stdin: Optional[str] = None) -> None:
        done = subprocess.run(["pulumi", "config", *args, "--stack", stack.name], cwd=cwd, env=env, input=stdin,
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise EngineError(f"pulumi config {args[0]} ({', '.join(a for a in args[1:] if ':' in a) or 'values'}): "
                              f"{done.stderr.strip()}")

    stale = [key for key in stack.get_all_config() if key not in values]
    if stale:
        cli("rm-all", *stale)
    plain = {}
    for key, value in values.items():
        if key in secret_keys:
            continue
        parsed = _structure(value)
        plain[key] = {"value": value if isinstance(value, str) else json.dumps(value), "secret": False,
                      **({"objectValue": parsed} if parsed is not None else {})}
    if plain:
        cli("set-all", "--json", json.dumps(plain))
    for key in sorted(secret_keys & set(values)):
        value = values[key]
        cli("set", "--secret", key, stdin=value if isinstance(value, str) else json.dumps(value))


def _structure(value: Any) -> Any:
    """A list or map, from itself or from its JSON text; None for anything else."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    return value if isinstance(value, (list, dict)) else None


def select(stack: str, env: Mapping[str, str], work_dir: Optional[Path] = None):
    """The stack (created when new, with passphrase secrets) in the project's LocalWorkspace."""
    import pulumi.automation as auto  # only the engine's commands need it

    tools = Path(shutil.which("pulumi", path=env["PATH"])).parent  # engine_env put the toolchain first
    opts = auto.LocalWorkspaceOptions(work_dir=str(work_dir or PROJECT_ROOT), env_vars=dict(env),
                                      secrets_provider="passphrase", pulumi_command=auto.PulumiCommand(root=str(tools.parent)))
    return auto.create_or_select_stack(stack, project_name=PROJECT, program=run_program, opts=opts)
