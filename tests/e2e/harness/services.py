"""keystone and placement from Debian's packages: their databases, their config files (edited in
place, the originals kept under `<state_dir>/orig` for `down`), and Debian's uwsgi serving them on
127.0.0.1, in processes this harness starts and stops itself."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Dict, Iterable

from .accounts import ensure_database
from .common import (KEYSTONE_CONF, KEYSTONE_PORT, KEYSTONE_URL, LOOPBACK, PLACEMENT_CONF,
                     PLACEMENT_PORT, PLACEMENT_URL, REGION, UWSGI, as_user, run)
from .identity import Keystone, wait_http
from .processes import port_open, start_daemon
from .state import State


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


def _backup_of(state: State, path: Path) -> Path:
    return state.dir / "orig" / path.name


def backup_conf(state: State, path: Path) -> None:
    backup = _backup_of(state, path)
    if not backup.exists():
        backup.parent.mkdir(exist_ok=True)
        shutil.copy2(path, backup)
        os.chmod(backup, 0o600)


def restore_conf(state: State, path: Path) -> None:
    backup = _backup_of(state, path)
    if backup.exists() and path.exists():
        with open(path, "w") as fh:  # same inode, owner and mode
            fh.write(backup.read_text())
        backup.unlink()


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


def serve_uwsgi(state: State, name: str, port: int, ini: str, url: str, ok: Iterable[int]) -> int:
    ini_path = state.dir / f"{name}-uwsgi.ini"
    ini_path.write_text(ini)
    os.chmod(ini_path, 0o644)
    pid = start_daemon(state, name, [UWSGI, "--http-socket", f"{LOOPBACK}:{port}",
                                     "--ini", str(ini_path)], UWSGI,
                       taken=lambda: port_open(LOOPBACK, port),
                       resource=f"{LOOPBACK}:{port} (a Debian init script's {name}?)")
    wait_http(url, ok, timeout=120, proc_pid=pid, logfile=state.log_path(f"{name}.log"))
    return pid


def admin_keystone(admin_password: str) -> Keystone:
    return Keystone(KEYSTONE_URL, "admin", admin_password, "admin")


def setup_keystone(state: State, admin_password: str) -> None:
    db_password = state.secret("keystone_db")
    ensure_database(state, "keystone", "keystone", db_password)
    backup_conf(state, KEYSTONE_CONF)
    set_ini(KEYSTONE_CONF, {
        "database": {"connection": f"mysql+pymysql://keystone:{db_password}@{LOOPBACK}/keystone"},
        "token": {"provider": "fernet"},
    })
    for d in ("fernet-keys", "credential-keys"):
        p = Path("/etc/keystone") / d
        p.mkdir(exist_ok=True)
        shutil.chown(p, "keystone", "keystone")
        os.chmod(p, 0o700)
    Path("/var/log/keystone").mkdir(exist_ok=True)
    shutil.chown("/var/log/keystone", "keystone", "adm")
    for f in Path("/var/log/keystone").glob("*"):
        shutil.chown(f, "keystone", "keystone")
    run(as_user("keystone", ["keystone-manage", "db_sync"]), what="keystone-manage db_sync")
    for cmd in ("fernet_setup", "credential_setup"):
        run(as_user("keystone", ["keystone-manage", cmd, "--keystone-user", "keystone",
                                 "--keystone-group", "keystone"]), what=f"keystone-manage {cmd}")
    url = f"{KEYSTONE_URL}/"
    env = dict(os.environ, OS_BOOTSTRAP_PASSWORD=admin_password)  # not argv
    run(as_user("keystone", [
        "keystone-manage", "bootstrap", "--bootstrap-username", "admin",
        "--bootstrap-project-name", "admin", "--bootstrap-role-name", "admin",
        "--bootstrap-admin-url", url, "--bootstrap-internal-url", url,
        "--bootstrap-public-url", url, "--bootstrap-region-id", REGION]),
        env=env, what="keystone-manage bootstrap")
    serve_uwsgi(state, "keystone", KEYSTONE_PORT,
                uwsgi_ini("keystone-api", "keystone", "/usr/bin/keystone-wsgi-public",
                          state.log_path("keystone.log")),
                KEYSTONE_URL, ok=[200])
    admin_keystone(admin_password).ensure_project("service", "Service Project")


def setup_placement(state: State, admin_password: str, placement_password: str) -> None:
    db_password = state.secret("placement_db")
    ensure_database(state, "placement", "placement", db_password)
    backup_conf(state, PLACEMENT_CONF)
    auth = f"http://{LOOPBACK}:{KEYSTONE_PORT}"
    set_ini(PLACEMENT_CONF, {
        "placement_database": {
            "connection": f"mysql+pymysql://placement:{db_password}@{LOOPBACK}/placement"},
        "api": {"auth_strategy": "keystone"},
        "keystone_authtoken": {
            "auth_url": KEYSTONE_URL, "www_authenticate_uri": auth, "auth_type": "password",
            "project_domain_name": "Default", "user_domain_name": "Default",
            "project_name": "service", "username": "placement", "password": placement_password,
            "region_name": REGION, "service_token_roles_required": "true"},
    })
    run(as_user("placement", ["placement-manage", "db", "sync"]), what="placement-manage db sync")
    ks = admin_keystone(admin_password)
    service_project = ks.ensure_project("service", "Service Project")
    user = ks.ensure_user("placement", placement_password)
    ks.grant(service_project, user, "admin")
    service = ks.ensure_service("placement", "placement", "Placement API")
    ks.ensure_endpoints(service, PLACEMENT_URL, REGION)
    serve_uwsgi(state, "placement", PLACEMENT_PORT,
                uwsgi_ini("placement-api", "placement", "/usr/bin/placement-api",
                          state.log_path("placement.log"),
                          extra="socket-timeout = 10\nhttp-auto-chunked = true\n"
                                "http-chunked-input = true\nhttp-raw-body = true\n"
                                "add-header = Connection: close\n"
                                "wsgi-manage-chunked-input = true\n"),
                f"{PLACEMENT_URL}/", ok=[200])
