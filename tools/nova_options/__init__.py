"""Validate a rendered nova.conf (or placement.conf) against the project's real option
definitions.

The checked project is nova (the default) or placement (``project="placement"``, ``--project
placement``).  It and the libraries whose options live in its configuration file are installed,
pinned per release, into a private virtualenv under ``.cache/<project>-<release>/venv`` (never into
this program's own environment: nova's dependency set conflicts with pulumi's grpc/protobuf pins);
nova's cache keeps the layout and fingerprint it had before placement was added.  From there
``oslo-config-generator --format yaml`` dumps every option the project knows into
``optdata.yaml``, and ``oslo-config-validator`` plus a stricter checker (this package, run by the
private venv's python) compare a rendered file with it.  The pins and namespaces come from
components/releases/catalog.py: a release's ``option_check`` (nova) and ``placement.option_check``.

A problem is reported for:
  * an option that no namespace defines ("unknown option"),
  * a section that is neither a defined group nor one of nova's dynamic groups ("unknown
    section"),
  * an option whose definition says ``deprecated_for_removal``,
  * an old, deprecated NAME of an option (``deprecated_opts``: old name and/or old section),
  * an unparsable file (reported by line number only).

nova's dynamic groups and run-time sections (privsep contexts, [neutron_tunnel]) are nova's own;
placement has none.  Problem lines name the section and option and never contain values (both
files hold passwords).

Modules:
  pins      per-project, per-release pins from components/releases/; NovaOptionsError
  cache     the cache layout, its fingerprint and marker, the build lock
  build     building the pinned virtualenv and the option data (ensure_optdata)
  optdata   deriving index.json and optdata-strict.yaml (runs in the private venv)
  check     validate(): oslo-config-validator and the stricter pass, merged and scrubbed
  strict    the stricter pass (runs in the private venv)
  __main__  the command line

Public API (every function takes ``project=`` "nova", the default, or "placement"):
  PROJECTS, DEFAULT_PROJECT     ("nova", "placement"), "nova"
  REQUIREMENTS, LIBRARY_PINS, NAMESPACES
                                project -> release -> exact requirement / library pins / namespaces
  NOVA_RELEASES                 release profile -> exact nova requirement (REQUIREMENTS["nova"])
  RELEASE_LIBRARY_PINS, CONFIG_NAMESPACES   likewise nova's
  ensure_optdata(release)       build (once, cached) the venv and optdata; returns optdata.yaml
  validate(conf_text, release)  list of problem lines; [] means valid
  validate_file(path, release)
  NovaOptionsError              raised when the cache cannot be built
  cache_root(), release_dir(), venv_dir(), cache_is_complete(), MARKER_NAME

CLI (from the project root):
  python3 -m tools.nova_options optdata  --release 2025.1
  python3 -m tools.nova_options validate --release 2025.1 path/to/nova.conf
  python3 -m tools.nova_options validate --project placement --release 2025.1 placement.conf
  exit status: 0 valid, 1 problems found (listed on stdout), 2 the tool itself failed

The package imports only the standard library (and components/releases/, pure data), so the
project interpreter can run it without any of nova's dependencies; the private venv's python
runs the ``_venv-*`` subcommands, which do import oslo.config, keystoneauth1 and nova.
"""
from __future__ import annotations

from .build import ensure_optdata
from .cache import (
    CACHE_ENV_VAR,
    CACHE_FORMAT,
    DEFAULT_CACHE_ROOT,
    MARKER_NAME,
    PROJECT_ROOT,
    cache_is_complete,
    cache_root,
    release_dir,
    venv_dir,
)
from .check import validate, validate_file
from .optdata import DYNAMIC_GROUP_SOURCES, PRIVSEP_MODULES
from .pins import (
    CONFIG_NAMESPACES,
    DEFAULT_PROJECT,
    LIBRARY_PINS,
    NAMESPACES,
    NOVA_RELEASES,
    PROJECTS,
    RELEASE_LIBRARY_PINS,
    REQUIREMENTS,
    NovaOptionsError,
)

__all__ = [
    "CACHE_ENV_VAR",
    "CACHE_FORMAT",
    "CONFIG_NAMESPACES",
    "DEFAULT_CACHE_ROOT",
    "DEFAULT_PROJECT",
    "DYNAMIC_GROUP_SOURCES",
    "LIBRARY_PINS",
    "MARKER_NAME",
    "NAMESPACES",
    "NOVA_RELEASES",
    "PRIVSEP_MODULES",
    "PROJECTS",
    "PROJECT_ROOT",
    "RELEASE_LIBRARY_PINS",
    "REQUIREMENTS",
    "NovaOptionsError",
    "cache_is_complete",
    "cache_root",
    "ensure_optdata",
    "release_dir",
    "validate",
    "validate_file",
    "venv_dir",
]
