"""Where a project's option data is cached per release, what it was built from, and the build
lock.  <project> is nova or placement; each has a cache of its own per release:

    <root>/<project>-<release>.lock           serialises concurrent builders
    <root>/<project>-<release>/venv/          the private virtualenv: the project and its libraries
    <root>/<project>-<release>/optdata.yaml   oslo-config-generator's dump of every option
    <root>/<project>-<release>/optdata-strict.yaml, index.json
                                              derived from optdata.yaml (optdata.py)
    <root>/<project>-<release>/build.log      every command run to build them, with its output
    <root>/<project>-<release>/COMPLETE.json  the marker: the fingerprint the venv and optdata.yaml
                                              were built from, and the digest of the code that
                                              derived the other files

<root> is .cache/ in the project, or $NOVA_OPTIONS_CACHE_DIR.  The ``project`` arguments below
default to nova, whose layout and fingerprint are those it had before placement was added.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Iterator

from .pins import DEFAULT_PROJECT, LIBRARY_PINS, NAMESPACES, REQUIREMENTS

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent.parent
DEFAULT_CACHE_ROOT = PROJECT_ROOT / ".cache"
# CI may point this at a directory it keeps between runs.
CACHE_ENV_VAR = "NOVA_OPTIONS_CACHE_DIR"

# Bump when the layout or the content of the derived cache files changes.
CACHE_FORMAT = 1
MARKER_NAME = "COMPLETE.json"
PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
VENV_TOOLS = ("python", "oslo-config-generator", "oslo-config-validator")
DERIVED_FILES = ("optdata-strict.yaml", "index.json")


def cache_root() -> Path:
    env = os.environ.get(CACHE_ENV_VAR)
    return Path(env) if env else DEFAULT_CACHE_ROOT


def release_dir(release: str, root: Path | None = None, *, project: str = DEFAULT_PROJECT) -> Path:
    return (root or cache_root()) / f"{project}-{release}"


def venv_dir(release: str, root: Path | None = None, *, project: str = DEFAULT_PROJECT) -> Path:
    return release_dir(release, root, project=project) / "venv"


def venv_bin(release: str, name: str, root: Path | None = None, *,
             project: str = DEFAULT_PROJECT) -> Path:
    return venv_dir(release, root, project=project) / "bin" / name


def fingerprint(release: str, project: str = DEFAULT_PROJECT) -> dict[str, Any]:
    """What the venv and optdata.yaml were built from; any change means a full rebuild.
    The project's requirement is recorded under its name (nova's: "nova", as it always was)."""
    return {
        "format": CACHE_FORMAT,
        "release": release,
        project: REQUIREMENTS[project][release],
        "pins": list(LIBRARY_PINS[project][release]),
        "namespaces": list(NAMESPACES[project][release]),
        "python": PYTHON_VERSION,
    }


def tool_digest() -> str:
    """The derived files (index.json, optdata-strict.yaml) depend on this package's code; when it
    changes they are derived again (seconds), without reinstalling anything."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def read_marker(rdir: Path) -> dict[str, Any]:
    try:
        marker = json.loads((rdir / MARKER_NAME).read_text())
    except (OSError, ValueError):
        return {}
    return marker if isinstance(marker, dict) else {}


def write_marker(rdir: Path, marker: dict[str, Any]) -> None:
    tmp = rdir / (MARKER_NAME + ".tmp")
    tmp.write_text(json.dumps(marker, indent=2) + "\n")
    tmp.replace(rdir / MARKER_NAME)


def base_is_complete(release: str, root: Path | None, *, project: str = DEFAULT_PROJECT) -> bool:
    """True when the venv and optdata.yaml were fully built from the current fingerprint."""
    rdir = release_dir(release, root, project=project)
    if read_marker(rdir).get("fingerprint") != fingerprint(release, project):
        return False
    return (rdir / "optdata.yaml").is_file() and all(
        venv_bin(release, name, root, project=project).exists() for name in VENV_TOOLS
    )


def cache_is_complete(release: str, root: Path | None = None, *,
                      project: str = DEFAULT_PROJECT) -> bool:
    """True when the project's cache for the release was fully built from the current
    definitions."""
    rdir = release_dir(release, root, project=project)
    return (
        base_is_complete(release, root, project=project)
        and read_marker(rdir).get("tool") == tool_digest()
        and all((rdir / name).is_file() for name in DERIVED_FILES)
    )


@contextlib.contextmanager
def build_lock(release: str, root: Path, *, project: str = DEFAULT_PROJECT) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"{project}-{release}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
