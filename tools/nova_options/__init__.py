"""Validate a rendered nova.conf against nova's real option definitions.

nova and the libraries whose options live in nova.conf are installed, pinned per release, into a
private virtualenv under ``<project>/.cache/nova-<release>/venv`` (never into the project's own
environment: nova's dependency set conflicts with pulumi's grpc/protobuf pins).  From there
``oslo-config-generator --format yaml`` dumps every option nova knows into ``optdata.yaml``, and
``oslo-config-validator`` plus a stricter checker (this package, run by the private venv's
python) compare a rendered nova.conf with it.

A problem is reported for:
  * an option that no namespace defines ("unknown option"),
  * a section that is neither a defined group nor one of nova's dynamic groups ("unknown
    section"),
  * an option whose definition says ``deprecated_for_removal``,
  * an old, deprecated NAME of an option (``deprecated_opts``: old name and/or old section),
  * an unparsable file (reported by line number only).

Problem lines name the section and option and never contain values (nova.conf holds passwords).

Modules:
  pins      per-release pins from components/releases.py; NovaOptionsError
  cache     the cache layout, its fingerprint and marker, the build lock
  build     building the pinned virtualenv and the option data (ensure_optdata)
  optdata   deriving index.json and optdata-strict.yaml (runs in the private venv)
  check     validate(): oslo-config-validator and the stricter pass, merged and scrubbed
  strict    the stricter pass (runs in the private venv)
  __main__  the command line

Public API:
  NOVA_RELEASES                 release profile -> exact nova requirement
  RELEASE_LIBRARY_PINS, CONFIG_NAMESPACES
  ensure_optdata(release)       build (once, cached) the venv and optdata; returns optdata.yaml
  validate(conf_text, release)  list of problem lines; [] means valid
  validate_file(path, release)
  NovaOptionsError              raised when the cache cannot be built
  cache_root(), release_dir(), venv_dir(), cache_is_complete(), MARKER_NAME

CLI (from the project root):
  python3 -m tools.nova_options optdata  --release 2025.1
  python3 -m tools.nova_options validate --release 2025.1 path/to/nova.conf
  exit status: 0 valid, 1 problems found (listed on stdout), 2 the tool itself failed

The package imports only the standard library (and components/releases.py, pure data), so the
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
# Internals the tests reach for, under the names they had in the single-file module.
from .cache import fingerprint as _fingerprint, tool_digest as _tool_digest  # noqa: F401
from .check import scrub as _scrub, secret_values as _secret_values  # noqa: F401
from .check import validate, validate_file
from .optdata import DYNAMIC_GROUP_SOURCES, PRIVSEP_MODULES
from .pins import CONFIG_NAMESPACES, NOVA_RELEASES, RELEASE_LIBRARY_PINS, NovaOptionsError

__all__ = [
    "CACHE_ENV_VAR",
    "CACHE_FORMAT",
    "CONFIG_NAMESPACES",
    "DEFAULT_CACHE_ROOT",
    "DYNAMIC_GROUP_SOURCES",
    "MARKER_NAME",
    "NOVA_RELEASES",
    "PRIVSEP_MODULES",
    "PROJECT_ROOT",
    "RELEASE_LIBRARY_PINS",
    "NovaOptionsError",
    "cache_is_complete",
    "cache_root",
    "ensure_optdata",
    "release_dir",
    "validate",
    "validate_file",
    "venv_dir",
]
