"""Service config files of a test host: oslo.config files edited in place, and the uwsgi
configuration the services host serves keystone and placement with."""
from __future__ import annotations

from pathlib import Path
from typing import Dict


def set_ini(path: Path, settings: Dict[str, Dict[str, str]]) -> None:
    """Set `key = value` in sections of an oslo.config file in place (comments, owner and mode
    kept; an uncommented existing key is replaced, else the key goes right below its header)."""
    lines = path.read_text().splitlines()
    for section, options in settings.items():
        header = f"[{section}]"
        try:
            start = next(i for i, l in enumerate(lines) if l.strip() == header)
        except StopIteration:
            lines += ["", header]
            start = len(lines) - 1
        end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")),
                   len(lines))
        for key, value in options.items():
            for i in range(start + 1, end):
                stripped = lines[i].strip()
                if not stripped.startswith("#") and "=" in stripped and \
                        stripped.split("=", 1)[0].strip() == key:
                    lines[i] = f"{key} = {value}"
                    break
            else:
                lines.insert(start + 1, f"{key} = {value}")
                end += 1
    with open(path, "r+") as fh:  # same inode: owner and mode (0640 root:<service>) stay
        fh.write("\n".join(lines) + "\n")
        fh.truncate()


def uwsgi_ini(name: str, service_user: str, wsgi_file: str, logfile: Path, extra: str = "") -> str:
    # Debian's /etc/<svc>/*-uwsgi.ini, minus the apparmor plugin (no AppArmor in containers) and
    # with far fewer workers (8 processes x 32 threads each is a lot on a 2-core test machine).
    return f"""[uwsgi]
buffer-size = 65535
rem-header = Content-Length
master = true
thunder-lock = true
plugins = python3
lazy-apps = true
paste-logger = true
no-orphans = true
die-on-term = true
enable-threads = true
processes = 2
threads = 4
listen = 100
logto = {logfile}
name = {name}
uid = {service_user}
gid = {service_user}
chdir = /var/lib/{service_user}
wsgi-file = {wsgi_file}
{extra}"""
