"""Validating nova.conf (or placement.conf) text (project interpreter side): oslo-config-validator
and the stricter pass (strict.py) run side by side in the project's private venv for the release,
and their findings are merged into problem lines that name sections and options, never values."""
from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

from .build import ensure_optdata, venv_env, venv_tool
from .cache import PROJECT_ROOT, release_dir, venv_bin
from .pins import DEFAULT_PROJECT, NovaOptionsError, conf_name, label

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


def secret_values(conf_text: str) -> set[str]:
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


def scrub(lines: list[str], secrets: set[str]) -> list[str]:
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


def validate(conf_text: str, release: str, *, root: Path | None = None,
             project: str = DEFAULT_PROJECT) -> list[str]:
    """Validate the text of `project`'s configuration file (nova.conf, placement.conf) for
    `release`; return problem lines ([] means valid).

    Runs oslo-config-validator (with --fatal-warnings, against the strict option data in which
    deprecated-for-removal options are listed as deprecated) and this package's stricter
    checker, both in the project's private venv for the release, and merges what they report.
    """
    ensure_optdata(release, root=root, project=project)
    rdir = release_dir(release, root, project=project)
    env = venv_env()
    name = conf_name(project)
    with tempfile.TemporaryDirectory(prefix=f"{project}-conf-") as tmp:
        conf_path = Path(tmp) / name
        fd = os.open(conf_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(conf_text)
        native_cmd = [
            str(venv_bin(release, "oslo-config-validator", root, project=project)),
            "--opt-data", str(rdir / "optdata-strict.yaml"),
            "--input-file", str(conf_path),
            "--fatal-warnings",
        ]
        check_cmd = venv_tool(release, root, "_venv-check", "--index", rdir / "index.json",
                              "--input-file", conf_path, project=project)
        # Both are independent; run them side by side.
        native = subprocess.Popen(native_cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, env=env, stdin=subprocess.DEVNULL)
        check = subprocess.Popen(check_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, env=env, stdin=subprocess.DEVNULL, cwd=PROJECT_ROOT)
        native_out, _ = native.communicate()
        check_out, check_err = check.communicate()

    if check.returncode != 0:
        # Never echo its stderr: a traceback could quote a line of the file.
        last = (check_err.strip().splitlines() or ["no output"])[-1]
        exc = last.split(":", 1)[0]
        raise NovaOptionsError(
            f"{label(release, project)}: the {name} checker failed "
            f"(exit {check.returncode}, {exc})"
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
    return scrub(problems, secret_values(conf_text))


def validate_file(path: str | os.PathLike[str], release: str, *, root: Path | None = None,
                  project: str = DEFAULT_PROJECT) -> list[str]:
    return validate(Path(path).read_text(), release, root=root, project=project)
