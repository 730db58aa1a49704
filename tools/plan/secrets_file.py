"""`--secrets-file FILE` (or `-`: standard input): a stack's secrets for an offline plan without
putting them on a command line, where `ps` and the shell's history would show them. The file is
a YAML map of secret settings to their text, e.g.

    dbPassword: 'the password'
    sshPrivateKey: |
      -----BEGIN OPENSSH PRIVATE KEY-----
      ...

It must be a regular file of the caller's, readable by nobody else (mode 0600 or 0400), as ssh
wants of a private key. Errors name the file and the key, never a value."""
from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import IO, Optional

import yaml

from components.config import PROJECT, SCHEMA
from tools.plan.stack_file import StackConfigError, StrictLoader

STDIN = "-"


def secret_settings() -> list[str]:
    return sorted(key for key, spec in SCHEMA.items() if spec.secret)


def _file_problem(path: Path) -> Optional[str]:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return "does not exist"
    except OSError as err:
        return f"cannot be read ({err.strerror})"
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file"
    if info.st_uid != os.geteuid():
        return "belongs to another user: a secrets file must be your own"
    if info.st_mode & 0o077:
        return (f"can be read or written by others (mode {stat.S_IMODE(info.st_mode):04o}): "
                f"chmod 600 {path}")
    return None


def read_secrets(source: str, stdin: Optional[IO[str]] = None) -> dict[str, str]:
    """The secrets in `source` (a path, or `-` for standard input), by setting name."""
    where = "standard input" if source == STDIN else source
    if source == STDIN:
        text = (stdin or sys.stdin).read()
    else:
        problem = _file_problem(Path(source))
        if problem:
            raise StackConfigError(f"--secrets-file {source}: {problem}")
        text = Path(source).read_text(encoding="utf-8", errors="strict")
    try:
        document = yaml.load(text, Loader=StrictLoader) if text.strip() else {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise StackConfigError(f"--secrets-file {where}: not a YAML map of KEY: value{line}") from None
    except StackConfigError as err:
        raise StackConfigError(f"--secrets-file {where}: {err}") from None
    if not isinstance(document, dict):
        raise StackConfigError(f"--secrets-file {where}: not a YAML map of KEY: value")
    secrets: dict[str, str] = {}
    problems = []
    for key, value in document.items():
        name = key.removeprefix(f"{PROJECT}:") if isinstance(key, str) else key
        if not isinstance(name, str) or name not in SCHEMA:
            problems.append(f"{key!r} is no setting of this project (its secrets: {', '.join(secret_settings())})")
        elif not SCHEMA[name].secret:
            problems.append(f"{name} is not a secret: plan it with --set {name}=VALUE")
        elif not isinstance(value, str):
            problems.append(f"{name}: its value must be text (quote it, as `pulumi config set --secret` "
                            "takes text)")
        else:
            secrets[name] = value
    if problems:
        raise StackConfigError(f"--secrets-file {where}: " + "; ".join(problems))
    return secrets
