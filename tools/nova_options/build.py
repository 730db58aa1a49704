"""Building a project's cache for a release: the private virtualenv with the pinned project
(nova, placement) and libraries, oslo-config-generator's optdata.yaml, and the files derived from
it by the venv's python."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .cache import (
    PACKAGE_DIR,
    PROJECT_ROOT,
    PYTHON_VERSION,
    base_is_complete,
    cache_is_complete,
    cache_root,
    build_lock,
    fingerprint,
    read_marker,
    release_dir,
    tool_digest,
    venv_bin,
    venv_dir,
    write_marker,
)
from .pins import (
    DEFAULT_PROJECT,
    LIBRARY_PINS,
    NAMESPACES,
    REQUIREMENTS,
    NovaOptionsError,
    check_release,
    label,
)

# This package as `python -m` names it.  The private venv's python runs its ``_venv-*`` commands
# started in PROJECT_ROOT (see venv_tool), which puts the project first on its sys.path.
PACKAGE = ".".join(PACKAGE_DIR.relative_to(PROJECT_ROOT).parts)


def venv_env() -> dict[str, str]:
    env = dict(os.environ)
    # Whatever the caller runs in, the private venv must see only its own packages.
    for var in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "PYTHONSAFEPATH"):
        env.pop(var, None)
    env["PYTHONWARNINGS"] = "ignore"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    return env


def venv_tool(release: str, root: Path | None, *args: str | Path,
              project: str = DEFAULT_PROJECT) -> list[str]:
    """The command by which the project's private python for the release runs this package's
    `args` (a ``_venv-*`` command).  Run it with cwd=PROJECT_ROOT, so that the project, and not
    the caller's working directory, is on its sys.path; paths are made absolute for that."""
    return [
        str(venv_bin(release, "python", root, project=project).absolute()), "-m", PACKAGE,
        *(str(arg.absolute()) if isinstance(arg, Path) else arg for arg in args),
    ]


def _noise(line: str) -> bool:
    return line.startswith("WARNING: Location ") or not line.strip()


def tail(text: str, lines: int = 25) -> str:
    """The last lines of a tool's output, preceded by earlier lines that mention an error."""
    kept = [line for line in text.splitlines() if not _noise(line)]
    chosen = kept[-lines:]
    errors = [line for line in kept[:-lines] if re.search(r"\berror\b", line, re.IGNORECASE)]
    return "\n".join("    " + line for line in errors[-10:] + chosen)


def run_logged(cmd: list[str], log: Path, env: dict[str, str] | None = None,
               cwd: Path | None = None) -> tuple[int, str]:
    proc = subprocess.run(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        stdin=subprocess.DEVNULL, cwd=cwd,
    )
    with open(log, "a") as fh:
        fh.write(f"$ {' '.join(cmd)}\n{proc.stdout}\n[exit {proc.returncode}]\n\n")
    return proc.returncode, proc.stdout


def ensure_optdata(release: str, *, root: Path | None = None,
                   project: str = DEFAULT_PROJECT) -> Path:
    """Build (once) the private venv and option data of `project` (nova, placement) for
    `release`; return optdata.yaml.

    The cache is reused when its marker records the current pins, namespaces and Python
    version; otherwise (never built, half built, definitions changed) it is rebuilt from
    scratch.  When only this package's code changed, the derived files are derived again
    (seconds).  Concurrent callers are serialised by a lock file.  Raises NovaOptionsError,
    naming the release and quoting pip's failure, when the pinned project cannot be installed.
    """
    check_release(release, project)
    root = root or cache_root()
    rdir = release_dir(release, root, project=project)
    if cache_is_complete(release, root, project=project):
        return rdir / "optdata.yaml"
    with build_lock(release, root, project=project):
        if cache_is_complete(release, root, project=project):
            return rdir / "optdata.yaml"
        if not base_is_complete(release, root, project=project):
            _build(release, root, project)
        _derive(release, root, project)
    return rdir / "optdata.yaml"


def _build(release: str, root: Path, project: str) -> None:
    """From scratch: the venv, the project and its libraries, then optdata.yaml."""
    rdir = release_dir(release, root, project=project)
    if rdir.exists():
        shutil.rmtree(rdir)
    rdir.mkdir(parents=True)
    log = rdir / "build.log"
    env = venv_env()
    started = time.monotonic()
    spec = REQUIREMENTS[project][release]
    what = label(release, project)

    rc, out = run_logged(
        [sys.executable, "-m", "venv", str(venv_dir(release, root, project=project))], log, env)
    if rc != 0:
        raise NovaOptionsError(
            f"{what}: cannot create a virtualenv with {sys.executable} "
            f"(exit {rc}):\n{tail(out)}"
        )
    vpy = str(venv_bin(release, "python", root, project=project))

    requirements = [spec, *LIBRARY_PINS[project][release]]
    rc, out = run_logged([vpy, "-m", "pip", "install", *requirements], log, env)
    if rc != 0:
        raise NovaOptionsError(
            f"{what}: pip cannot install {spec} (with its release's library pins) "
            f"on Python {PYTHON_VERSION}; pip exited {rc}. Last lines of its output "
            f"(full log: {log}):\n{tail(out)}"
        )

    raw = rdir / "optdata.yaml"
    tmp_raw = rdir / "optdata.yaml.tmp"
    gen = [str(venv_bin(release, "oslo-config-generator", root, project=project)),
           "--format", "yaml", "--output-file", str(tmp_raw)]
    for namespace in NAMESPACES[project][release]:
        gen += ["--namespace", namespace]
    rc, out = run_logged(gen, log, env)
    # The generator only warns when a namespace cannot be found; treat that as fatal.
    missing = re.findall(r"Could not load (\S+)", out)
    if rc != 0 or missing or not tmp_raw.is_file():
        why = f"namespaces that could not be loaded: {', '.join(missing)}" if missing else (
            f"exit {rc}")
        raise NovaOptionsError(
            f"{what}: oslo-config-generator failed for {spec} ({why}):\n{tail(out)}"
        )
    tmp_raw.rename(raw)
    write_marker(rdir, {
        "fingerprint": fingerprint(release, project),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "build_seconds": round(time.monotonic() - started, 1),
    })


def _derive(release: str, root: Path, project: str) -> None:
    """optdata.yaml -> optdata-strict.yaml and index.json, by the private venv's python."""
    rdir = release_dir(release, root, project=project)
    # The old derived files stay until the new ones replace them (optdata.py writes each whole):
    # checks that read the cache without the build lock never find them missing.
    rc, out = run_logged(
        venv_tool(release, root, "_venv-postprocess", "--project", project,
                  "--release", release, "--dir", rdir, project=project),
        rdir / "build.log", venv_env(), cwd=PROJECT_ROOT,
    )
    if rc != 0:
        raise NovaOptionsError(
            f"{label(release, project)}: post-processing the option data of "
            f"{REQUIREMENTS[project][release]} failed (exit {rc}):\n{tail(out)}"
        )
    marker = read_marker(rdir)
    marker["tool"] = tool_digest()
    write_marker(rdir, marker)
