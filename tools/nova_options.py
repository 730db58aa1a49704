#!/usr/bin/env python3
"""Validate a rendered nova.conf against nova's real option definitions.

nova and the libraries whose options live in nova.conf are installed, pinned per release, into a
private virtualenv under ``<project>/.cache/nova-<release>/venv`` (never into the project's own
environment: nova's dependency set conflicts with pulumi's grpc/protobuf pins).  From there
``oslo-config-generator --format yaml`` dumps every option nova knows into ``optdata.yaml``, and
``oslo-config-validator`` plus a stricter checker (this file, run by the private venv's python)
compare a rendered nova.conf with it.

A problem is reported for:
  * an option that no namespace defines ("unknown option"),
  * a section that is neither a defined group nor one of nova's dynamic groups ("unknown
    section"),
  * an option whose definition says ``deprecated_for_removal``,
  * an old, deprecated NAME of an option (``deprecated_opts``: old name and/or old section),
  * an unparsable file (reported by line number only).

Problem lines name the section and option and never contain values (nova.conf holds passwords).

Public API:
  NOVA_RELEASES                 release profile -> exact nova requirement
  ensure_optdata(release)       build (once, cached) the venv and optdata; returns optdata.yaml
  validate(conf_text, release)  list of problem lines; [] means valid
  validate_file(path, release)
  NovaOptionsError              raised when the cache cannot be built

CLI:
  python3 tools/nova_options.py optdata  --release 2025.1
  python3 tools/nova_options.py validate --release 2025.1 path/to/nova.conf
  exit status: 0 valid, 1 problems found (listed on stdout), 2 the tool itself failed

This module imports only the standard library, so the project interpreter can run it without
any of nova's dependencies; the private venv's python runs the ``_venv-*`` subcommands, which do
import oslo.config, keystoneauth1 and nova.
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE_ROOT = PROJECT_ROOT / ".cache"
# CI may point this at a directory it keeps between runs.
CACHE_ENV_VAR = "NOVA_OPTIONS_CACHE_DIR"

# Release profile -> the exact nova release whose options define "valid" (the newest 31.x and
# 26.x on PyPI when this was written).
NOVA_RELEASES: dict[str, str] = {
    "2025.1": "nova==31.3.1",
    "zed": "nova==26.3.0",
}

# The libraries that define options found in nova.conf (and oslo.config itself, which runs the
# generator and validator), pinned to the versions in OpenStack's upper-constraints for that
# release, so that the option set matches what the release actually ships rather than whatever
# is newest on PyPI.  Everything else is left to pip's resolver.  osprofiler is not a dependency
# of nova, but nova reads its [profiler] options, so it is installed explicitly.
RELEASE_LIBRARY_PINS: dict[str, tuple[str, ...]] = {
    "2025.1": (
        "castellan==5.2.1",
        "keystoneauth1==5.10.0",
        "keystonemiddleware==10.9.1",
        "os-brick==6.11.1",
        "os-vif==4.1.0",
        "oslo.cache==3.10.2",
        "oslo.concurrency==7.1.0",
        "oslo.config==9.7.2",
        "oslo.context==5.7.1",
        "oslo.db==17.2.1",
        "oslo.i18n==6.5.1",
        "oslo.limit==2.6.1",
        "oslo.log==7.1.0",
        "oslo.messaging==16.1.2",
        "oslo.middleware==6.3.1",
        "oslo.policy==4.5.1",
        "oslo.privsep==3.6.0",
        "oslo.reports==3.5.1",
        "oslo.serialization==5.7.0",
        "oslo.service==4.1.2",
        "oslo.utils==8.2.0",
        "oslo.versionedobjects==3.6.0",
        "osprofiler==4.2.0",
    ),
    "zed": (
        "castellan==4.0.0",
        "keystoneauth1==5.0.1",
        "keystonemiddleware==10.1.1",
        "os-brick==6.1.2",
        "os-vif==3.0.1",
        "oslo.cache==3.2.0",
        "oslo.concurrency==5.0.1",
        "oslo.config==9.0.0",
        "oslo.context==5.0.0",
        "oslo.db==12.1.2",
        "oslo.i18n==5.1.0",
        "oslo.limit==2.0.1",
        "oslo.log==5.0.0",
        "oslo.messaging==14.0.3",
        "oslo.middleware==5.0.0",
        "oslo.policy==4.0.0",
        "oslo.privsep==3.0.1",
        "oslo.reports==2.4.0",
        "oslo.serialization==5.0.0",
        "oslo.service==3.0.0",
        "oslo.utils==6.0.2",
        "oslo.versionedobjects==3.0.1",
        "osprofiler==3.4.3",
    ),
}

# The namespaces of nova's own etc/nova/nova-config-generator.conf for each release (that file
# is in the sdist only, not in the wheel).  oslo.db and oslo.cache are deliberately absent:
# nova's "nova.conf" namespace already lists [database], [api_database] and [cache] itself.
_NAMESPACES_2025_1 = (
    "nova.conf",
    "oslo.limit",
    "oslo.log",
    "oslo.messaging",
    "oslo.policy",
    "oslo.privsep",
    "oslo.service.periodic_task",
    "oslo.service.service",
    "oslo.middleware",
    "oslo.concurrency",
    "oslo.reports",
    "oslo.versionedobjects",
    "keystonemiddleware.auth_token",
    "osprofiler",
    "os_vif",
    "os_brick",
)
CONFIG_NAMESPACES: dict[str, tuple[str, ...]] = {
    "2025.1": _NAMESPACES_2025_1,
    # zed's generator file lacks oslo.versionedobjects, os_vif and os_brick, but zed's nova
    # reads those sections as well ([oslo_versionedobjects], [os_vif_ovs], [os_brick]).
    "zed": _NAMESPACES_2025_1,
}

# Modules whose import registers the oslo.privsep context sections nova's processes read
# ([nova_sys_admin], [privsep_osbrick], [vif_plug_ovs_privileged], ...).
PRIVSEP_MODULES = (
    "nova.privsep",
    "os_brick.privileged",
    "vif_plug_ovs.privsep",
    "vif_plug_linux_bridge.privsep",
)

# Nova's dynamic groups: (group template, option listing the instances, nova module whose
# register_dynamic_opts() registers them).  "@" stands for each listed value.
DYNAMIC_GROUP_SOURCES = (
    ("mdev_@", ("devices", "enabled_mdev_types"), "nova.conf.devices"),
    ("neutron_physnet_@", ("neutron", "physnets"), "nova.conf.neutron"),
)
_PLACEHOLDER = "XNOVAOPTSDYNX"

# Bump when the layout or the content of the derived cache files changes.
CACHE_FORMAT = 1
MARKER_NAME = "COMPLETE.json"


class NovaOptionsError(RuntimeError):
    """The option data for a release could not be built."""


# --------------------------------------------------------------------------------------------
# Cache layout and build
# --------------------------------------------------------------------------------------------


def _check_release(release: str) -> None:
    if release not in NOVA_RELEASES:
        raise NovaOptionsError(
            f"unknown release {release!r}; known releases: {', '.join(sorted(NOVA_RELEASES))}"
        )


def cache_root() -> Path:
    env = os.environ.get(CACHE_ENV_VAR)
    return Path(env) if env else DEFAULT_CACHE_ROOT


def release_dir(release: str, root: Path | None = None) -> Path:
    return (root or cache_root()) / f"nova-{release}"


def venv_dir(release: str, root: Path | None = None) -> Path:
    return release_dir(release, root) / "venv"


def _venv_bin(release: str, name: str, root: Path | None = None) -> Path:
    return venv_dir(release, root) / "bin" / name


def _fingerprint(release: str) -> dict[str, Any]:
    """What the venv and optdata.yaml were built from; any change means a full rebuild."""
    return {
        "format": CACHE_FORMAT,
        "release": release,
        "nova": NOVA_RELEASES[release],
        "pins": list(RELEASE_LIBRARY_PINS[release]),
        "namespaces": list(CONFIG_NAMESPACES[release]),
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
    }


def _tool_digest() -> str:
    """The derived files (index.json, optdata-strict.yaml) depend on this file's code; when it
    changes they are derived again (seconds), without reinstalling anything."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def _read_marker(rdir: Path) -> dict[str, Any]:
    try:
        marker = json.loads((rdir / MARKER_NAME).read_text())
    except (OSError, ValueError):
        return {}
    return marker if isinstance(marker, dict) else {}


def _base_is_complete(release: str, root: Path | None) -> bool:
    rdir = release_dir(release, root)
    if _read_marker(rdir).get("fingerprint") != _fingerprint(release):
        return False
    return (rdir / "optdata.yaml").is_file() and all(
        _venv_bin(release, name, root).exists()
        for name in ("python", "oslo-config-generator", "oslo-config-validator")
    )


def cache_is_complete(release: str, root: Path | None = None) -> bool:
    """True when the release's cache was fully built from the current definitions."""
    rdir = release_dir(release, root)
    return (
        _base_is_complete(release, root)
        and _read_marker(rdir).get("tool") == _tool_digest()
        and all((rdir / name).is_file() for name in ("optdata-strict.yaml", "index.json"))
    )


@contextlib.contextmanager
def _build_lock(release: str, root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"nova-{release}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _noise(line: str) -> bool:
    return line.startswith("WARNING: Location ") or not line.strip()


def _tail(text: str, lines: int = 25) -> str:
    """The last lines of a tool's output, preceded by earlier lines that mention an error."""
    kept = [line for line in text.splitlines() if not _noise(line)]
    chosen = kept[-lines:]
    errors = [line for line in kept[:-lines] if re.search(r"\berror\b", line, re.IGNORECASE)]
    return "\n".join("    " + line for line in errors[-10:] + chosen)


def _run_logged(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    proc = subprocess.run(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        stdin=subprocess.DEVNULL,
    )
    with open(log, "a") as fh:
        fh.write(f"$ {' '.join(cmd)}\n{proc.stdout}\n[exit {proc.returncode}]\n\n")
    return proc.returncode, proc.stdout


def _venv_env() -> dict[str, str]:
    env = dict(os.environ)
    # Whatever the caller runs in, the private venv must see only its own packages.
    for var in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"):
        env.pop(var, None)
    env["PYTHONWARNINGS"] = "ignore"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    return env


def ensure_optdata(release: str, *, root: Path | None = None) -> Path:
    """Build (once) the private venv and option data for `release`; return optdata.yaml.

    The cache is reused when its marker records the current pins, namespaces and Python
    version; otherwise (never built, half built, definitions changed) it is rebuilt from
    scratch.  When only this file changed, the derived files are derived again (seconds).
    Concurrent callers are serialised by a lock file.  Raises NovaOptionsError, naming the
    release and quoting pip's failure, when the pinned nova cannot be installed.
    """
    _check_release(release)
    root = root or cache_root()
    rdir = release_dir(release, root)
    if cache_is_complete(release, root):
        return rdir / "optdata.yaml"
    with _build_lock(release, root):
        if cache_is_complete(release, root):
            return rdir / "optdata.yaml"
        if not _base_is_complete(release, root):
            _build(release, root)
        _derive(release, root)
    return rdir / "optdata.yaml"


def _build(release: str, root: Path) -> None:
    """From scratch: the venv, nova and its libraries, then optdata.yaml."""
    rdir = release_dir(release, root)
    if rdir.exists():
        shutil.rmtree(rdir)
    rdir.mkdir(parents=True)
    log = rdir / "build.log"
    env = _venv_env()
    started = time.monotonic()
    pyver = f"{sys.version_info.major}.{sys.version_info.minor}"
    spec = NOVA_RELEASES[release]

    rc, out = _run_logged([sys.executable, "-m", "venv", str(venv_dir(release, root))], log, env)
    if rc != 0:
        raise NovaOptionsError(
            f"release {release}: cannot create a virtualenv with {sys.executable} "
            f"(exit {rc}):\n{_tail(out)}"
        )
    vpy = str(_venv_bin(release, "python", root))

    requirements = [spec, *RELEASE_LIBRARY_PINS[release]]
    rc, out = _run_logged([vpy, "-m", "pip", "install", *requirements], log, env)
    if rc != 0:
        raise NovaOptionsError(
            f"release {release}: pip cannot install {spec} (with its release's library pins) "
            f"on Python {pyver}; pip exited {rc}. Last lines of its output "
            f"(full log: {log}):\n{_tail(out)}"
        )

    raw = rdir / "optdata.yaml"
    tmp_raw = rdir / "optdata.yaml.tmp"
    gen = [str(_venv_bin(release, "oslo-config-generator", root)), "--format", "yaml",
           "--output-file", str(tmp_raw)]
    for namespace in CONFIG_NAMESPACES[release]:
        gen += ["--namespace", namespace]
    rc, out = _run_logged(gen, log, env)
    # The generator only warns when a namespace cannot be found; treat that as fatal.
    missing = re.findall(r"Could not load (\S+)", out)
    if rc != 0 or missing or not tmp_raw.is_file():
        why = f"namespaces that could not be loaded: {', '.join(missing)}" if missing else (
            f"exit {rc}")
        raise NovaOptionsError(
            f"release {release}: oslo-config-generator failed for {spec} ({why}):\n{_tail(out)}"
        )
    tmp_raw.rename(raw)
    _write_marker(rdir, {
        "fingerprint": _fingerprint(release),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "build_seconds": round(time.monotonic() - started, 1),
    })


def _derive(release: str, root: Path) -> None:
    """optdata.yaml -> optdata-strict.yaml and index.json, by the private venv's python."""
    rdir = release_dir(release, root)
    for name in ("optdata-strict.yaml", "index.json"):
        (rdir / name).unlink(missing_ok=True)
    rc, out = _run_logged(
        [str(_venv_bin(release, "python", root)), str(Path(__file__).resolve()),
         "_venv-postprocess", "--release", release, "--dir", str(rdir)],
        rdir / "build.log", _venv_env(),
    )
    if rc != 0:
        raise NovaOptionsError(
            f"release {release}: post-processing the option data of {NOVA_RELEASES[release]} "
            f"failed (exit {rc}):\n{_tail(out)}"
        )
    marker = _read_marker(rdir)
    marker["tool"] = _tool_digest()
    _write_marker(rdir, marker)


def _write_marker(rdir: Path, marker: dict[str, Any]) -> None:
    tmp = rdir / (MARKER_NAME + ".tmp")
    tmp.write_text(json.dumps(marker, indent=2) + "\n")
    tmp.replace(rdir / MARKER_NAME)


# --------------------------------------------------------------------------------------------
# Validation (project interpreter side)
# --------------------------------------------------------------------------------------------

_NATIVE_RE = re.compile(
    r"^(?P<level>ERROR|WARNING):[^:]*:(?:"
    r"(?P<us>\S+?)/(?P<uo>\S+) is not part of the sample config"
    r"|Deprecated opt (?P<ds>\S+?)/(?P<do>\S+) found)\s*$"
)

# Keys whose values are secret or may embed one (URLs with credentials, connection strings).
# Problem lines are built from section and option names only; scrubbing these values out of
# them as well is a second line of defence.
_SECRET_KEY_RE = re.compile(
    r"password|passwd|secret|(^|_)token$|(^|_)key$|connection$|transport_url$",
    re.IGNORECASE,
)
_URL_USERINFO_RE = re.compile(r"//[^/@\s:]*:([^@/\s]+)@")


def _secret_values(conf_text: str) -> set[str]:
    values: set[str] = set()
    for line in conf_text.splitlines():
        stripped = line.strip()
        if not stripped or stripped[0] in "#;[":
            continue
        match = re.match(r"\s*([^=:\s][^=:]*?)\s*[=:]\s*(.*)$", line)
        if not match:
            continue
        key, value = match.group(1), match.group(2).strip()
        for password in _URL_USERINFO_RE.findall(value):
            values.add(password)
        if _SECRET_KEY_RE.search(key):
            values.add(value)
    return {v for v in values if len(v) >= 4}


def _scrub(lines: list[str], secrets: set[str]) -> list[str]:
    out = []
    for line in lines:
        for secret in sorted(secrets, key=len, reverse=True):
            line = line.replace(secret, "***")
        out.append(line)
    return out


def _parse_native(output: str) -> list[tuple[str, str, str]]:
    """(section, option, kind) for each finding printed by oslo-config-validator."""
    found = []
    for line in output.splitlines():
        match = _NATIVE_RE.match(line.strip())
        if not match:
            continue
        if match.group("us") is not None:
            found.append((match.group("us"), match.group("uo"), "unknown"))
        else:
            found.append((match.group("ds"), match.group("do"), "deprecated"))
    return found


def validate(conf_text: str, release: str, *, root: Path | None = None) -> list[str]:
    """Validate nova.conf text for `release`; return problem lines ([] means valid).

    Runs oslo-config-validator (with --fatal-warnings, against the strict option data in which
    deprecated-for-removal options are listed as deprecated) and this module's stricter checker,
    both in the release's private venv, and merges what they report.
    """
    ensure_optdata(release, root=root)
    rdir = release_dir(release, root)
    env = _venv_env()
    with tempfile.TemporaryDirectory(prefix="nova-conf-") as tmp:
        conf_path = Path(tmp) / "nova.conf"
        fd = os.open(conf_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(conf_text)
        native_cmd = [
            str(_venv_bin(release, "oslo-config-validator", root)),
            "--opt-data", str(rdir / "optdata-strict.yaml"),
            "--input-file", str(conf_path),
            "--fatal-warnings",
        ]
        check_cmd = [
            str(_venv_bin(release, "python", root)), str(Path(__file__).resolve()),
            "_venv-check", "--index", str(rdir / "index.json"), "--input-file", str(conf_path),
        ]
        # Both are independent; run them side by side.
        native = subprocess.Popen(native_cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, env=env, stdin=subprocess.DEVNULL)
        check = subprocess.Popen(check_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, env=env, stdin=subprocess.DEVNULL)
        native_out, _ = native.communicate()
        check_out, check_err = check.communicate()

    if check.returncode != 0:
        # Never echo its stderr: a traceback could quote a line of the file.
        last = (check_err.strip().splitlines() or ["no output"])[-1]
        exc = last.split(":", 1)[0]
        raise NovaOptionsError(
            f"release {release}: the nova.conf checker failed (exit {check.returncode}, {exc})"
        )
    report = json.loads(check_out)
    problems: list[str] = [p["message"] for p in report["problems"]]
    covered = {(p["section"], p["option"]) for p in report["problems"]}
    covered_sections = {p["section"] for p in report["problems"] if p["option"] is None}
    allowed = {tuple(x) for x in report["allowed_by_extension"]}

    native_findings = _parse_native(native_out)
    for section, option, kind in native_findings:
        if (section, option) in covered or section in covered_sections:
            continue
        if (section, option) in allowed:
            # A documented false positive of the sample data: a dynamic group or an option of
            # the keystoneauth plugin that the section's auth_type selects.
            continue
        what = "unknown option" if kind == "unknown" else "deprecated option"
        problems.append(f"[{section}] {option}: {what} (reported by oslo-config-validator)")
    if native.returncode != 0 and not native_findings and not report["parse_error"]:
        problems.append(
            f"oslo-config-validator exited {native.returncode} without a recognisable report"
        )
    return _scrub(problems, _secret_values(conf_text))


def validate_file(path: str | os.PathLike[str], release: str, *,
                  root: Path | None = None) -> list[str]:
    return validate(Path(path).read_text(), release, root=root)


# --------------------------------------------------------------------------------------------
# Code run by the private venv's python (may import oslo.config, keystoneauth1, nova)
# --------------------------------------------------------------------------------------------


def _opt_entry(opt: Any, group: str) -> dict[str, Any]:
    """A compact description of an oslo.config Opt, like one entry of the generator's YAML."""
    return {
        "name": opt.name,
        "dest": opt.dest,
        "deprecated_for_removal": bool(getattr(opt, "deprecated_for_removal", False)),
        "deprecated_since": getattr(opt, "deprecated_since", None),
        "deprecated_opts": [
            {"name": d.name or opt.dest, "group": d.group or group}
            for d in (opt.deprecated_opts or [])
        ],
    }


def _collect_plugins() -> dict[str, Any]:
    from keystoneauth1 import loading

    plugins: dict[str, Any] = {}
    for name in sorted(loading.get_available_plugin_names()):
        try:
            opts = loading.get_auth_plugin_conf_options(name)
        except Exception:  # a plugin whose optional dependencies are missing
            continue
        plugins[name] = [_opt_entry(o, "@") for o in opts]
    return plugins


def _collect_dynamic_and_privsep(known_groups: set[str]) -> dict[str, Any]:
    import importlib

    from oslo_config import cfg

    import nova.conf

    conf = nova.conf.CONF
    conf([], project="nova", default_config_files=[], default_config_dirs=[])
    before = set(conf.keys())
    templates: list[dict[str, Any]] = []
    for _template, (src_group, src_opt), _module in DYNAMIC_GROUP_SOURCES:
        conf.set_override(src_opt, [_PLACEHOLDER], group=src_group)
    static_groups: dict[str, list[dict[str, Any]]] = {}
    for module in sorted({m for _, _, m in DYNAMIC_GROUP_SOURCES}):
        importlib.import_module(module).register_dynamic_opts(conf)
    for group in sorted(set(conf.keys()) - before):
        opts = [_opt_entry(info["opt"], group) for info in conf._groups[group]._opts.values()]
        for template, source, _module in DYNAMIC_GROUP_SOURCES:
            if group == template.replace("@", _PLACEHOLDER):
                for entry in opts:
                    for dep in entry["deprecated_opts"]:
                        dep["group"] = dep["group"].replace(_PLACEHOLDER, "@")
                templates.append({"group": template, "source": list(source), "opts": opts})
                break
        else:
            # Registered unconditionally by register_dynamic_opts (e.g. [neutron_tunnel]).
            static_groups[group] = opts

    privsep_names = {"helper_command", "capabilities"}
    for module in PRIVSEP_MODULES:
        try:
            importlib.import_module(module)
        except ImportError:
            continue
    for group, obj in cfg.CONF._groups.items():
        if group in known_groups or group in static_groups:
            continue
        dests = {info["opt"].dest for info in obj._opts.values()}
        if privsep_names <= dests:
            static_groups[group] = [
                _opt_entry(info["opt"], group) for info in obj._opts.values()
            ]
    return {"templates": templates, "static_groups": static_groups}


def _yaml_load(path: Path) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path) as fh:
        return yaml.load(fh, Loader=loader)  # noqa: S506 - a safe loader


def _venv_postprocess(release: str, rdir: Path) -> None:
    """Derive optdata-strict.yaml and index.json from optdata.yaml (runs in the private venv)."""
    import yaml

    data = _yaml_load(rdir / "optdata.yaml")
    options: dict[str, Any] = data["options"]

    seen = {o.get("namespace") for g in options.values() for o in g["opts"]}
    empty = [n for n in CONFIG_NAMESPACES[release] if n not in seen]
    if empty:
        raise SystemExit(f"namespaces that produced no options: {', '.join(empty)}")

    groups: dict[str, Any] = {}
    for group, gdata in options.items():
        entries = {}
        for opt in gdata["opts"]:
            info = {
                "name": opt["name"],
                "dfr": bool(opt.get("deprecated_for_removal")),
                "since": opt.get("deprecated_since"),
            }
            entries[opt["name"]] = info
            if opt.get("dest"):
                entries[opt["dest"]] = info
        groups[group] = {
            "opts": entries,
            # keystoneauth plugin loading is possible where both common auth options exist.
            "auth": "auth_type" in entries and "auth_section" in entries,
        }
    deprecated: dict[str, dict[str, Any]] = {}
    for group, entries in data["deprecated_options"].items():
        for dep in entries:
            deprecated.setdefault(group, {})[dep["name"]] = {
                "group": dep["replacement_group"], "name": dep["replacement_name"],
            }

    extras = _collect_dynamic_and_privsep(set(options))
    index = {
        "release": release,
        "nova": NOVA_RELEASES[release],
        "groups": groups,
        "deprecated": deprecated,
        "plugins": _collect_plugins(),
        "dynamic_templates": extras["templates"],
        "extra_groups": extras["static_groups"],
    }
    (rdir / "index.json").write_text(json.dumps(index, sort_keys=True))

    # The strict option data for oslo-config-validator: names only (it reads nothing else
    # unless --check-defaults is given, which makes it load ~20x faster than optdata.yaml), and
    # every deprecated-for-removal option also listed under deprecated_options, which the
    # validator reports as a warning (fatal with --fatal-warnings).
    strict_opts = {}
    strict_deprecated = {g: list(v) for g, v in data["deprecated_options"].items()}
    for group, gdata in options.items():
        strict_opts[group] = {
            "opts": [{"name": o["name"], "dest": o.get("dest")} for o in gdata["opts"]]
        }
        for opt in gdata["opts"]:
            if opt.get("deprecated_for_removal"):
                strict_deprecated.setdefault(group, []).append({
                    "name": opt["name"], "replacement_group": None, "replacement_name": None,
                })
    strict = {"options": strict_opts, "deprecated_options": strict_deprecated}
    with open(rdir / "optdata-strict.yaml", "w") as fh:
        yaml.safe_dump(strict, fh, default_flow_style=False)


def _problem(section: str, option: str | None, kind: str, message: str) -> dict[str, Any]:
    return {"section": section, "option": option, "kind": kind, "message": message}


def _list_value(values: list[str] | None) -> list[str]:
    if not values:
        return []
    return [item.strip() for item in values[-1].split(",") if item.strip()]


def _plugin_entries(index: dict[str, Any], plugin: str, group: str) -> dict[str, Any]:
    """Allowed keys and deprecated aliases of a keystoneauth plugin's options in `group`."""
    allowed: dict[str, Any] = {}
    aliases: dict[str, Any] = {}
    for opt in index["plugins"].get(plugin, []):
        info = {"name": opt["name"], "dfr": opt["deprecated_for_removal"],
                "since": opt["deprecated_since"]}
        allowed[opt["name"]] = info
        allowed[opt["dest"]] = info
        for dep in opt["deprecated_opts"]:
            dep_group = group if dep["group"] == "@" else dep["group"]
            if dep_group == group:
                aliases[dep["name"]] = {"group": group, "name": opt["name"]}
    return {"opts": allowed, "deprecated": aliases}


def _venv_check(index_path: Path, input_file: Path) -> dict[str, Any]:
    """Classify every section and option of input_file (runs in the private venv)."""
    from oslo_config import cfg, iniparser

    index = json.loads(index_path.read_text())
    sections: dict[str, dict[str, list[str]]] = {}
    try:
        cfg.ConfigParser(str(input_file), sections).parse()
    except iniparser.ParseError as exc:
        # The message and line number only, never the line itself.  oslo.config reports an
        # assignment when it reads the line after it, so the number can be one too high.
        return {
            "problems": [_problem("", None, "parse",
                                  f"near line {exc.lineno}: cannot parse nova.conf: {exc.msg}")],
            "allowed_by_extension": [],
            "parse_error": True,
        }

    groups: dict[str, dict[str, Any]] = {
        g: {"opts": dict(v["opts"]), "auth": v["auth"], "extended": set()}
        for g, v in index["groups"].items()
    }
    deprecated: dict[str, dict[str, Any]] = {g: dict(v) for g, v in index["deprecated"].items()}

    def add_group(name: str, opts: list[dict[str, Any]]) -> None:
        target = groups.setdefault(name, {"opts": {}, "auth": False, "extended": set()})
        for opt in opts:
            info = {"name": opt["name"], "dfr": opt["deprecated_for_removal"],
                    "since": opt["deprecated_since"]}
            for key in (opt["name"], opt["dest"]):
                if key not in target["opts"]:
                    target["opts"][key] = info
                    target["extended"].add(key)
            for dep in opt["deprecated_opts"]:
                deprecated.setdefault(dep["group"], {})[dep["name"]] = {
                    "group": name, "name": opt["name"],
                }

    # Sections that exist only at run time: nova's privsep context sections, [neutron_tunnel],
    # and one dynamic group per value of the option that lists them.
    for name, opts in index["extra_groups"].items():
        add_group(name, opts)
    for template in index["dynamic_templates"]:
        src_group, src_opt = template["source"]
        for value in _list_value(sections.get(src_group, {}).get(src_opt)):
            name = template["group"].replace("@", value)
            opts = [
                {**o, "deprecated_opts": [
                    {"name": d["name"], "group": d["group"].replace("@", value)}
                    for d in o["deprecated_opts"]
                ]}
                for o in template["opts"]
            ]
            add_group(name, opts)

    # keystoneauth: auth_type selects a plugin whose options become valid in that section;
    # auth_section names another section that holds the plugin's settings instead.
    for name in list(sections):
        group = groups.get(name)
        if not group or not group["auth"]:
            continue
        values = sections[name]
        ref = _list_value(values.get("auth_section"))
        if ref:
            target = ref[0]
            if target not in groups:
                groups[target] = {"opts": {}, "auth": True, "extended": set()}
                for key in ("auth_type", "auth_section"):
                    groups[target]["opts"][key] = {"name": key, "dfr": False, "since": None}
                    groups[target]["extended"].add(key)
            else:
                groups[target]["auth"] = True
    for name in list(sections):
        group = groups.get(name)
        if not group or not group["auth"]:
            continue
        plugin_values = sections[name].get("auth_type")
        plugin = plugin_values[-1].strip() if plugin_values else ""
        if not plugin:
            continue
        extra = _plugin_entries(index, plugin, name)
        for key, info in extra["opts"].items():
            if key not in group["opts"]:
                group["opts"][key] = info
                group["extended"].add(key)
        for old, new in extra["deprecated"].items():
            deprecated.setdefault(name, {}).setdefault(old, new)

    problems: list[dict[str, Any]] = []
    allowed_by_extension: list[list[str]] = []
    for section, values in sections.items():
        group = groups.get(section)
        section_deprecated = deprecated.get(section, {})
        if group is None and not section_deprecated:
            names = ", ".join(values) if values else "no options"
            problems.append(_problem(section, None, "unknown-section",
                                     f"[{section}]: unknown section ({names})"))
            continue
        for key in values:
            notes = []
            alias = section_deprecated.get(key)
            info = group["opts"].get(key) if group else None
            if alias is not None:
                notes.append(f"deprecated name; use [{alias['group']}] {alias['name']}")
            if info is not None and info["dfr"]:
                since = f" (since {info['since']})" if info.get("since") else ""
                notes.append(f"deprecated for removal{since}")
            if notes:
                kind = "deprecated-name" if alias is not None else "deprecated-for-removal"
                problems.append(_problem(section, key, kind,
                                         f"[{section}] {key}: {'; '.join(notes)}"))
            elif info is None:
                where = "" if group else " (section holds only deprecated names)"
                problems.append(_problem(section, key, "unknown-option",
                                         f"[{section}] {key}: unknown option{where}"))
            elif group and key in group["extended"]:
                allowed_by_extension.append([section, key])
    return {"problems": problems, "allowed_by_extension": allowed_by_extension,
            "parse_error": False}


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Validate a rendered nova.conf against nova's option definitions.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{optdata,validate}")
    p_opt = sub.add_parser("optdata", help="build (or reuse) the option data; print its path")
    p_opt.add_argument("--release", required=True, choices=sorted(NOVA_RELEASES))
    p_val = sub.add_parser("validate", help="validate nova.conf files")
    p_val.add_argument("--release", required=True, choices=sorted(NOVA_RELEASES))
    p_val.add_argument("files", nargs="+", metavar="nova.conf")
    # Internal: run by the private venv's python.
    p_post = sub.add_parser("_venv-postprocess")
    p_post.add_argument("--release", required=True)
    p_post.add_argument("--dir", required=True, type=Path)
    p_chk = sub.add_parser("_venv-check")
    p_chk.add_argument("--index", required=True, type=Path)
    p_chk.add_argument("--input-file", required=True, type=Path)
    args = parser.parse_args(argv)

    if args.command == "_venv-postprocess":
        _venv_postprocess(args.release, args.dir)
        return 0
    if args.command == "_venv-check":
        json.dump(_venv_check(args.index, args.input_file), sys.stdout)
        return 0

    try:
        if args.command == "optdata":
            print(ensure_optdata(args.release))
            return 0
        failed = False
        for name in args.files:
            problems = validate_file(name, args.release)
            if problems:
                failed = True
                print(f"{name}: {len(problems)} problem(s) for nova release {args.release} "
                      f"({NOVA_RELEASES[args.release]}):")
                for line in problems:
                    print(f"  {line}")
            else:
                print(f"{name}: valid for nova release {args.release} "
                      f"({NOVA_RELEASES[args.release]})")
        return 1 if failed else 0
    except (NovaOptionsError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
