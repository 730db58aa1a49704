#!/usr/bin/env python3
"""Prerequisites of the end-to-end test, set up on this (Debian 12) machine.

What the earlier chapters of the install guide would have left behind before nova's chapter, made
here by the test harness and not by the program under test:

- Debian's packages: keystone, placement-api, python3-openstackclient, openssh-server/-client
  (debconf pre-seeded so that no package configures a database, an admin tenant or an endpoint);
- a RabbitMQ user `openstack` with full permissions on `/`;
- keystone (database `keystone` on the local MariaDB, fernet tokens, bootstrapped admin, project
  `service`) served by Debian's uwsgi on 127.0.0.1:5000;
- placement (database `placement`, keystone user/service/endpoints) served on 127.0.0.1:8778;
- a MariaDB account with the rights the program's database component needs (its dbAdminUser);
- a dedicated sshd on 127.0.0.1:2222 that lets root in with a key pair generated for the run.

Every password is generated per run with `secrets`, kept in `<state_dir>/state.json` (mode 0600)
so `down` can undo exactly what `up` did, and handed to commands on stdin, in 0600/0640 files or in
the environment, never in argv. Only loopback addresses are used.

    python3 tests/e2e/prereqs.py up [--state-dir DIR]      # idempotent
    python3 tests/e2e/prereqs.py status [--state-dir DIR]
    python3 tests/e2e/prereqs.py down [--state-dir DIR]

Only the standard library is imported, so any python3 can run it (the venv's or the system's).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence

DEFAULT_STATE_DIR = Path(os.environ.get("NOVA_E2E_STATE_DIR", "/var/tmp/nova-e2e"))

APT_PACKAGES = ["keystone", "placement-api", "python3-openstackclient", "python3-osc-placement",
                "openssh-server", "openssh-client", "curl", "mariadb-client", "chrony"]
CHRONYD = "/usr/sbin/chronyd"

# Debian's openstack packages ask these (templates of keystone, placement-common, placement-api).
# All false: the packages must not touch a database (dbconfig-common), create an admin tenant or
# register endpoints; the harness does that itself below.
DEBCONF_SELECTIONS = [
    ("keystone", "keystone/configure_db", "boolean", "false"),
    ("keystone", "keystone/create-admin-tenant", "boolean", "false"),
    ("keystone", "keystone/register-endpoint", "boolean", "false"),
    ("placement-common", "placement/configure_db", "boolean", "false"),
    ("placement-common", "placement/configure_ksat", "boolean", "false"),
    ("placement-api", "placement/configure_api-endpoint", "boolean", "false"),
]

LOOPBACK = "127.0.0.1"
KEYSTONE_PORT = 5000
PLACEMENT_PORT = 8778
SSH_PORT = 2222
REGION = "RegionOne"
RABBIT_USER = "openstack"
DB_ADMIN_USER = "nova_e2e_admin"
DB_HOSTS = ("localhost", LOOPBACK)
KEYSTONE_CONF = Path("/etc/keystone/keystone.conf")
PLACEMENT_CONF = Path("/etc/placement/placement.conf")
UWSGI = "/usr/bin/uwsgi_python3"
SSHD = "/usr/sbin/sshd"


class PrereqError(RuntimeError):
    """A prerequisite could not be set up: the e2e test must fail (never skip) on it."""


@dataclass
class E2EEnvironment:
    keystone_url: str
    admin_user: str
    admin_password: str
    admin_project: str
    region: str
    rabbit_user: str
    rabbit_password: str
    ssh_host: str
    ssh_port: int
    ssh_user: str
    ssh_private_key: str
    placement_user: str
    placement_password: str
    db_admin_user: str
    db_admin_password: str
    state_dir: str
    placement_url: str = f"http://{LOOPBACK}:{PLACEMENT_PORT}"
    ssh_private_key_file: str = ""
    timings: Dict[str, float] = field(default_factory=dict)

    def __repr__(self) -> str:  # never show a secret in a traceback or a pytest report
        return (f"E2EEnvironment(keystone_url={self.keystone_url!r}, ssh={self.ssh_user}@"
                f"{self.ssh_host}:{self.ssh_port}, state_dir={self.state_dir!r})")

    __str__ = __repr__

    def openstack_env(self, base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
        """Environment for the `openstack` CLI as admin (credentials never in argv)."""
        env = dict(os.environ if base is None else base)
        for key in [k for k in env if k.startswith("OS_")]:
            del env[key]
        env.update({
            "OS_AUTH_URL": self.keystone_url,
            "OS_IDENTITY_API_VERSION": "3",
            "OS_USERNAME": self.admin_user,
            "OS_PASSWORD": self.admin_password,
            "OS_PROJECT_NAME": self.admin_project,
            "OS_USER_DOMAIN_NAME": "Default",
            "OS_PROJECT_DOMAIN_NAME": "Default",
            "OS_REGION_NAME": self.region,
            "OS_INTERFACE": "public",
        })
        return env

    def ssh_command(self, *remote: str) -> List[str]:
        """argv for `ssh` into the harness' sshd with the run's key (no secret in it)."""
        return ["ssh", "-i", self.ssh_private_key_file, "-p", str(self.ssh_port),
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10",
                f"{self.ssh_user}@{self.ssh_host}", *remote]


# ----------------------------------------------------------------------------------- helpers

def log(msg: str) -> None:
    print(f"[e2e-prereqs] {msg}", file=sys.stderr, flush=True)


def run(argv: Sequence[str], *, input: Optional[str] = None, env: Optional[Dict[str, str]] = None,
        check: bool = True, timeout: float = 600, what: str = "") -> subprocess.CompletedProcess:
    """Run a command; on failure raise PrereqError with its output (argv never holds a secret)."""
    try:
        proc = subprocess.run(list(argv), input=input, env=env, text=True, capture_output=True,
                              timeout=timeout)
    except FileNotFoundError as exc:
        raise PrereqError(f"{what or argv[0]}: {exc}") from None
    except subprocess.TimeoutExpired:
        raise PrereqError(f"{what or ' '.join(argv)}: timed out after {timeout}s") from None
    if check and proc.returncode != 0:
        out = (proc.stdout + proc.stderr)[-4000:]
        raise PrereqError(f"{what or ' '.join(argv)} failed (exit {proc.returncode}):\n{out}")
    return proc


def as_user(user: str, argv: Sequence[str]) -> List[str]:
    # runuser keeps the caller's environment (OS_BOOTSTRAP_PASSWORD) apart from HOME/SHELL/USER.
    return ["runuser", "-u", user, "--", *argv]


def new_password() -> str:
    return secrets.token_urlsafe(24)


def write_private(path: Path, text: str, mode: int = 0o600) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, mode)


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_get(url: str, timeout: float = 5.0) -> tuple:
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def wait_http(url: str, ok: Iterable[int], timeout: float, proc_pid: Optional[int] = None,
              logfile: Optional[Path] = None) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc_pid is not None and not pid_alive(proc_pid):
            raise PrereqError(f"server for {url} exited during start-up\n{tail(logfile)}")
        try:
            status, _ = http_get(url, timeout=5)
            if status in ok:
                return
            last = f"HTTP {status}"
        except (OSError, urllib.error.URLError) as exc:
            last = str(exc)
        time.sleep(0.5)
    raise PrereqError(f"{url} did not answer within {timeout}s ({last})\n{tail(logfile)}")


def tail(path: Optional[Path], n: int = 40) -> str:
    if not path or not path.exists():
        return ""
    lines = path.read_text(errors="replace").splitlines()[-n:]
    return f"--- last lines of {path}:\n" + "\n".join(lines)


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


def pid_alive(pid: Optional[int], exe_hint: str = "") -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return exe_hint in cmdline if exe_hint else True


# ------------------------------------------------------------------------------------- state

class State:
    """`<state_dir>/state.json` (0600): generated secrets, pids, what this harness created."""

    def __init__(self, state_dir: Path):
        self.dir = Path(state_dir)
        self.path = self.dir / "state.json"
        self.data: Dict[str, Any] = {}
        if self.path.exists():
            self.data = json.loads(self.path.read_text())

    def ensure_dir(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        (self.dir / "logs").mkdir(exist_ok=True)

    def save(self) -> None:
        self.ensure_dir()
        write_private(self.path, json.dumps(self.data, indent=2, sort_keys=True))

    def secret(self, name: str) -> str:
        secrets_ = self.data.setdefault("secrets", {})
        if name not in secrets_:
            secrets_[name] = new_password()
            self.save()
        return secrets_[name]

    def created(self, kind: str) -> List[str]:
        return self.data.setdefault("created", {}).setdefault(kind, [])

    def mark_created(self, kind: str, name: str) -> None:
        items = self.created(kind)
        if name not in items:
            items.append(name)
            self.save()

    @property
    def pids(self) -> Dict[str, int]:
        return self.data.setdefault("pids", {})


# -------------------------------------------------------------------------------------- apt

def missing_packages(packages: Sequence[str]) -> List[str]:
    missing = []
    for pkg in packages:
        proc = run(["dpkg-query", "-W", "-f=${Status}", pkg], check=False)
        if proc.returncode != 0 or "install ok installed" not in proc.stdout:
            missing.append(pkg)
    return missing


def ensure_packages(packages: Sequence[str] = APT_PACKAGES) -> float:
    """Install what is missing, non-interactively; returns the seconds the install took."""
    missing = missing_packages(packages)
    if not missing:
        return 0.0
    started = time.monotonic()
    log(f"installing {' '.join(missing)} (apt-get, debconf pre-seeded)")
    run(["debconf-set-selections"], what="debconf-set-selections",
        input="".join(f"{p} {q} {t} {v}\n" for p, q, t, v in DEBCONF_SELECTIONS))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", DEBCONF_NONINTERACTIVE_SEEN="true",
               NEEDRESTART_MODE="a")
    run(["apt-get", "update", "-q"], env=env, timeout=900, what="apt-get update")
    run(["apt-get", "install", "-y", "-q", "--no-install-recommends",
         "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold",
         *missing], env=env, timeout=1800, what="apt-get install")
    still = missing_packages(packages)
    if still:
        raise PrereqError(f"packages still not installed after apt-get: {still}")
    return time.monotonic() - started


# ---------------------------------------------------------------------------------- mariadb

def sql_str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sql_ident(value: str) -> str:
    if not value.replace("_", "").isalnum():
        raise PrereqError(f"unexpected SQL identifier {value!r}")
    return f"`{value}`"


def mysql(sql: str, what: str = "mysql") -> str:
    """Run SQL as MariaDB's root over the unix socket; statements go on stdin (with passwords)."""
    return run(["mysql", "--protocol=socket", "-uroot", "-N", "-B"], input=sql, what=what).stdout


def db_exists(name: str) -> bool:
    return bool(mysql(f"SELECT SCHEMA_NAME FROM information_schema.SCHEMATA "
                      f"WHERE SCHEMA_NAME = {sql_str(name)};").strip())


def db_user_exists(user: str, host: str) -> bool:
    return bool(mysql(f"SELECT User FROM mysql.user WHERE User = {sql_str(user)} "
                      f"AND Host = {sql_str(host)};").strip())


def ensure_database(state: State, db: str, user: str, password: str) -> None:
    if not db_exists(db):
        mysql(f"CREATE DATABASE {sql_ident(db)} CHARACTER SET utf8mb4;", what=f"create db {db}")
        state.mark_created("databases", db)
    elif db not in state.created("databases"):
        log(f"database {db} already existed before this harness: using it, will not drop it")
    ensure_account(state, user, password, [f"GRANT ALL PRIVILEGES ON {sql_ident(db)}.* TO {{who}};"])


def ensure_account(state: State, user: str, password: str, grants: Sequence[str]) -> None:
    for host in DB_HOSTS:
        who = f"{sql_str(user)}@{sql_str(host)}"
        if not db_user_exists(user, host):
            mysql(f"CREATE USER {who} IDENTIFIED BY {sql_str(password)};", what=f"create user {user}")
            state.mark_created("db_users", f"{user}@{host}")
        elif f"{user}@{host}" not in state.created("db_users"):
            raise PrereqError(f"MariaDB account {user}@{host} exists and was not created by this "
                              "harness: refusing to change its password")
        else:
            mysql(f"ALTER USER {who} IDENTIFIED BY {sql_str(password)};", what=f"alter user {user}")
        mysql("".join(g.format(who=who) for g in grants), what=f"grant {user}")


# --------------------------------------------------------------------------------- rabbitmq

def ensure_rabbit_user(state: State, user: str, password: str) -> None:
    proc = run(["rabbitmqctl", "-q", "list_users"], what="rabbitmqctl list_users (is RabbitMQ up?)",
               timeout=120)
    users = {line.split()[0] for line in proc.stdout.splitlines() if line.strip()}
    if user in users:
        if user not in state.created("rabbit_users"):
            log(f"RabbitMQ user {user} existed before this harness: resetting its password")
        # the password is read from stdin when omitted from argv
        run(["rabbitmqctl", "change_password", user], input=password + "\n",
            what="rabbitmqctl change_password", timeout=120)
    else:
        run(["rabbitmqctl", "add_user", user], input=password + "\n", what="rabbitmqctl add_user",
            timeout=120)
        state.mark_created("rabbit_users", user)
    run(["rabbitmqctl", "set_permissions", "-p", "/", user, ".*", ".*", ".*"],
        what="rabbitmqctl set_permissions", timeout=120)
    run(["rabbitmqctl", "authenticate_user", user], input=password + "\n",
        what="rabbitmqctl authenticate_user", timeout=120)


# ------------------------------------------------------------------------ uwsgi processes

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


def start_daemon(state: State, name: str, argv: Sequence[str], exe_hint: str) -> int:
    """Start a foreground daemon in its own session; its pid goes to state + <name>.pid."""
    pid = state.pids.get(name)
    if pid_alive(pid, exe_hint):
        return pid
    out = open(state.dir / "logs" / f"{name}.out", "ab")
    proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                            start_new_session=True, close_fds=True)
    out.close()
    state.pids[name] = proc.pid
    state.save()
    (state.dir / f"{name}.pid").write_text(f"{proc.pid}\n")
    return proc.pid


def stop_daemon(state: State, name: str, exe_hint: str, timeout: float = 20) -> None:
    pid = state.pids.get(name)
    if pid and pid_alive(pid, exe_hint):
        log(f"stopping {name} (pid {pid})")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.2)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        # workers of a uwsgi master are in the session/process group we created for it
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        _reap(pid)
    state.pids.pop(name, None)
    state.save()
    (state.dir / f"{name}.pid").unlink(missing_ok=True)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def serve_uwsgi(state: State, name: str, port: int, ini: str, url: str, ok: Iterable[int]) -> int:
    pid = state.pids.get(name)
    if not pid_alive(pid, UWSGI) and port_open(LOOPBACK, port):
        raise PrereqError(f"{LOOPBACK}:{port} is already taken by a process this harness did not "
                          f"start (a Debian init script's {name}?); stop it first")
    ini_path = state.dir / f"{name}-uwsgi.ini"
    ini_path.write_text(ini)
    os.chmod(ini_path, 0o644)
    pid = start_daemon(state, name, [UWSGI, "--http-socket", f"{LOOPBACK}:{port}",
                                     "--ini", str(ini_path)], UWSGI)
    wait_http(url, ok, timeout=120, proc_pid=pid, logfile=state.dir / "logs" / f"{name}.log")
    return pid


# ------------------------------------------------------------------------------ keystone API

class Keystone:
    """Just enough of keystone's v3 API (stdlib only; passwords only in request bodies)."""

    def __init__(self, url: str, user: str, password: str, project: str):
        self.url = url.rstrip("/")
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"id": "default"}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}
        req = urllib.request.Request(f"{self.url}/auth/tokens", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                self.token = resp.headers["X-Subject-Token"]
        except urllib.error.HTTPError as exc:
            raise PrereqError(f"keystone refused the admin login: HTTP {exc.code}") from None

    def call(self, method: str, path: str, body: Optional[dict] = None) -> dict:
        req = urllib.request.Request(
            f"{self.url}{path}", data=json.dumps(body).encode() if body is not None else None,
            headers={"X-Auth-Token": self.token, "Content-Type": "application/json",
                     "Accept": "application/json"}, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise PrereqError(f"keystone {method} {path}: HTTP {exc.code} "
                              f"{exc.read().decode(errors='replace')[:500]}") from None
        return json.loads(raw) if raw else {}

    def find(self, collection: str, **query: str) -> Optional[dict]:
        qs = "&".join(f"{k}={urllib.request.quote(v)}" for k, v in query.items())
        items = self.call("GET", f"/{collection}?{qs}")[collection]
        return items[0] if items else None

    def ensure_project(self, name: str, description: str) -> dict:
        return self.find("projects", name=name, domain_id="default") or self.call(
            "POST", "/projects", {"project": {"name": name, "domain_id": "default",
                                              "description": description}})["project"]

    def ensure_user(self, name: str, password: str) -> dict:
        user = self.find("users", name=name, domain_id="default")
        if user:
            self.call("PATCH", f"/users/{user['id']}", {"user": {"password": password}})
            return user
        return self.call("POST", "/users", {"user": {"name": name, "domain_id": "default",
                                                     "password": password,
                                                     "enabled": True}})["user"]

    def grant(self, project: dict, user: dict, role_name: str) -> None:
        role = self.find("roles", name=role_name)
        if not role:
            raise PrereqError(f"keystone has no role {role_name!r}")
        self.call("PUT", f"/projects/{project['id']}/users/{user['id']}/roles/{role['id']}")

    def ensure_service(self, name: str, type_: str, description: str) -> dict:
        return self.find("services", type=type_) or self.call(
            "POST", "/services", {"service": {"name": name, "type": type_,
                                              "description": description, "enabled": True}})["service"]

    def ensure_endpoints(self, service: dict, url: str, region: str) -> None:
        existing = self.call("GET", f"/endpoints?service_id={service['id']}")["endpoints"]
        for interface in ("public", "internal", "admin"):
            found = [e for e in existing if e["interface"] == interface]
            if found:
                if found[0]["url"] != url or found[0].get("region_id") != region:
                    self.call("PATCH", f"/endpoints/{found[0]['id']}",
                              {"endpoint": {"url": url, "region_id": region}})
            else:
                self.call("POST", "/endpoints", {"endpoint": {
                    "service_id": service["id"], "interface": interface, "url": url,
                    "region_id": region, "enabled": True}})


# ------------------------------------------------------------------------------- components

def backup_conf(state: State, path: Path) -> None:
    backup = state.dir / "orig" / path.name
    if not backup.exists():
        backup.parent.mkdir(exist_ok=True)
        shutil.copy2(path, backup)
        os.chmod(backup, 0o600)


def restore_conf(state: State, path: Path) -> None:
    backup = state.dir / "orig" / path.name
    if backup.exists() and path.exists():
        with open(path, "w") as fh:  # same inode, owner and mode
            fh.write(backup.read_text())
        backup.unlink()


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
    url = f"http://{LOOPBACK}:{KEYSTONE_PORT}/v3/"
    env = dict(os.environ, OS_BOOTSTRAP_PASSWORD=admin_password)  # not argv
    run(as_user("keystone", [
        "keystone-manage", "bootstrap", "--bootstrap-username", "admin",
        "--bootstrap-project-name", "admin", "--bootstrap-role-name", "admin",
        "--bootstrap-admin-url", url, "--bootstrap-internal-url", url,
        "--bootstrap-public-url", url, "--bootstrap-region-id", REGION]),
        env=env, what="keystone-manage bootstrap")
    logfile = state.dir / "logs" / "keystone.log"
    serve_uwsgi(state, "keystone", KEYSTONE_PORT,
                uwsgi_ini("keystone-api", "keystone", "/usr/bin/keystone-wsgi-public", logfile),
                f"http://{LOOPBACK}:{KEYSTONE_PORT}/v3", ok=[200])
    ks = Keystone(url, "admin", admin_password, "admin")
    ks.ensure_project("service", "Service Project")


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
            "auth_url": f"{auth}/v3", "www_authenticate_uri": auth, "auth_type": "password",
            "project_domain_name": "Default", "user_domain_name": "Default",
            "project_name": "service", "username": "placement", "password": placement_password,
            "region_name": REGION, "service_token_roles_required": "true"},
    })
    run(as_user("placement", ["placement-manage", "db", "sync"]), what="placement-manage db sync")
    ks = Keystone(f"{auth}/v3", "admin", admin_password, "admin")
    service_project = ks.ensure_project("service", "Service Project")
    user = ks.ensure_user("placement", placement_password)
    ks.grant(service_project, user, "admin")
    service = ks.ensure_service("placement", "placement", "Placement API")
    ks.ensure_endpoints(service, f"http://{LOOPBACK}:{PLACEMENT_PORT}", REGION)
    logfile = state.dir / "logs" / "placement.log"
    serve_uwsgi(state, "placement", PLACEMENT_PORT,
                uwsgi_ini("placement-api", "placement", "/usr/bin/placement-api", logfile,
                          extra="socket-timeout = 10\nhttp-auto-chunked = true\n"
                                "http-chunked-input = true\nhttp-raw-body = true\n"
                                "add-header = Connection: close\n"
                                "wsgi-manage-chunked-input = true\n"),
                f"http://{LOOPBACK}:{PLACEMENT_PORT}/", ok=[200])


def setup_chrony(state: State) -> None:
    """Time service, as the tutorial's "all nodes installation" sets up. This sandbox reaches
    no NTP server, so chronyd serves the local clock (`local stratum 10`) and, with -x, never
    steps it: `chronyc tracking` then reports a synchronised, Normal leap status, which is
    what the program's preflight checks."""
    conf = state.dir / "chrony.conf"
    conf.write_text(f"local stratum 10\nport 0\ndriftfile {state.dir / 'chrony.drift'}\n"
                    "pidfile /run/chrony/chronyd.pid\n")
    run_dir = Path("/run/chrony")
    run_dir.mkdir(mode=0o750, exist_ok=True)
    shutil.chown(run_dir, "_chrony", "_chrony")
    if not pid_alive(state.pids.get("chronyd"), CHRONYD) and Path("/run/chrony/chronyd.pid").exists():
        raise PrereqError("a chronyd this harness did not start is running; stop it first")
    start_daemon(state, "chronyd", [CHRONYD, "-x", "-d", "-f", str(conf)], CHRONYD)
    deadline = time.monotonic() + 30
    while "Leap status     : Normal" not in run(["chronyc", "-n", "tracking"], check=False).stdout:
        if time.monotonic() > deadline:
            raise PrereqError(f"chronyd did not report a Normal leap status\n{tail(state.dir / 'logs' / 'chronyd.out')}")
        time.sleep(0.5)


def setup_sshd(state: State) -> Path:
    d = state.dir
    key = d / "id_ed25519"
    if not key.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "nova-e2e", "-f", str(key)],
            what="ssh-keygen (client key)")
    host_key = d / "ssh_host_ed25519_key"
    if not host_key.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)],
            what="ssh-keygen (host key)")
    write_private(d / "authorized_keys", (d / "id_ed25519.pub").read_text())
    config = d / "sshd_config"
    config.write_text(f"""# dedicated sshd of the nova e2e test (not the system's)
Port {SSH_PORT}
ListenAddress {LOOPBACK}
HostKey {host_key}
PidFile {d / 'sshd.pid.sshd'}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile {d / 'authorized_keys'}
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# the state dir may live under /tmp (world-writable parent); the key files are root's, 0600
StrictModes no
# pulumi-command's remote.Command sends its `environment` with SSH setenv requests
AcceptEnv *
PrintMotd no
X11Forwarding no
Subsystem sftp /usr/lib/openssh/sftp-server
""")
    os.chmod(config, 0o600)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation directory
    run([SSHD, "-t", "-f", str(config)], what="sshd -t (config test)")
    pid = state.pids.get("sshd")
    if not pid_alive(pid, SSHD) and port_open(LOOPBACK, SSH_PORT):
        raise PrereqError(f"{LOOPBACK}:{SSH_PORT} is taken by a process this harness did not start")
    pid = start_daemon(state, "sshd", [SSHD, "-D", "-f", str(config),
                                       "-E", str(d / "logs" / "sshd.log")], SSHD)
    deadline = time.monotonic() + 30
    while not port_open(LOOPBACK, SSH_PORT):
        if not pid_alive(pid) or time.monotonic() > deadline:
            raise PrereqError(f"sshd did not start\n{tail(d / 'logs' / 'sshd.log')}")
        time.sleep(0.2)
    return key


# ----------------------------------------------------------------------------------- public

def _environment(state: State) -> E2EEnvironment:
    s = state.data["secrets"]
    key = state.dir / "id_ed25519"
    return E2EEnvironment(
        keystone_url=f"http://{LOOPBACK}:{KEYSTONE_PORT}/v3", admin_user="admin",
        admin_password=s["keystone_admin"], admin_project="admin", region=REGION,
        rabbit_user=RABBIT_USER, rabbit_password=s["rabbit"], ssh_host=LOOPBACK, ssh_port=SSH_PORT,
        ssh_user="root", ssh_private_key=key.read_text() if key.exists() else "",
        ssh_private_key_file=str(key), placement_user="placement",
        placement_password=s["placement"], db_admin_user=DB_ADMIN_USER,
        db_admin_password=s["db_admin"], state_dir=str(state.dir),
        timings=dict(state.data.get("timings", {})))


def setup(state_dir: os.PathLike | str = DEFAULT_STATE_DIR, *,
          install: bool = True) -> E2EEnvironment:
    """Set everything up (idempotent: re-running re-uses the state dir's secrets and processes).
    Raises PrereqError when a prerequisite cannot be installed or started."""
    if os.geteuid() != 0:
        raise PrereqError("the e2e prerequisites need root (apt-get, MariaDB root, sshd)")
    t0 = time.monotonic()
    state = State(Path(state_dir))
    state.ensure_dir()
    timings = state.data.setdefault("timings", {})
    if install:
        t = time.monotonic()
        spent = ensure_packages()
        timings["apt_install_s"] = round(spent, 1)
        timings["apt_check_s"] = round(time.monotonic() - t, 1)
    for name in ("keystone_admin", "rabbit", "placement", "db_admin"):
        state.secret(name)
    s = state.data["secrets"]

    t = time.monotonic()
    if run(["mysql", "--protocol=socket", "-uroot", "-e", "SELECT 1"], check=False).returncode:
        raise PrereqError("MariaDB is not reachable as root over the unix socket")
    ensure_account(state, DB_ADMIN_USER, s["db_admin"],
                   ["GRANT ALL PRIVILEGES ON *.* TO {who} WITH GRANT OPTION;"])
    timings["mariadb_admin_s"] = round(time.monotonic() - t, 1)

    t = time.monotonic()
    ensure_rabbit_user(state, RABBIT_USER, s["rabbit"])
    timings["rabbitmq_s"] = round(time.monotonic() - t, 1)

    t = time.monotonic()
    setup_keystone(state, s["keystone_admin"])
    timings["keystone_s"] = round(time.monotonic() - t, 1)

    t = time.monotonic()
    setup_placement(state, s["keystone_admin"], s["placement"])
    timings["placement_s"] = round(time.monotonic() - t, 1)

    t = time.monotonic()
    setup_chrony(state)
    timings["chrony_s"] = round(time.monotonic() - t, 1)

    t = time.monotonic()
    setup_sshd(state)
    ssh_check = run(_environment(state).ssh_command("true"), check=False, timeout=60)
    if ssh_check.returncode != 0:
        raise PrereqError(f"ssh into the harness' sshd failed: {ssh_check.stderr[-2000:]}\n"
                          f"{tail(state.dir / 'logs' / 'sshd.log')}")
    timings["sshd_s"] = round(time.monotonic() - t, 1)
    timings["setup_total_s"] = round(time.monotonic() - t0, 1)
    state.save()
    return _environment(state)


def teardown(env_or_dir: E2EEnvironment | os.PathLike | str) -> None:
    """Undo `setup`: stop its processes (by pid), drop only the databases/accounts it created,
    remove its RabbitMQ user, restore the config files it edited. Packages stay installed."""
    state_dir = env_or_dir.state_dir if isinstance(env_or_dir, E2EEnvironment) else env_or_dir
    state = State(Path(state_dir))
    if not state.path.exists():
        return
    errors: List[str] = []

    def attempt(what: str, fn, *args) -> None:
        try:
            fn(*args)
        except Exception as exc:  # keep undoing the rest
            errors.append(f"{what}: {exc}")

    attempt("stop sshd", stop_daemon, state, "sshd", SSHD)
    attempt("stop chronyd", stop_daemon, state, "chronyd", CHRONYD)
    attempt("stop placement", stop_daemon, state, "placement", UWSGI)
    attempt("stop keystone", stop_daemon, state, "keystone", UWSGI)
    for db in list(state.created("databases")):
        attempt(f"drop database {db}", mysql, f"DROP DATABASE IF EXISTS {sql_ident(db)};")
        state.created("databases").remove(db)
    for account in list(state.created("db_users")):
        user, host = account.rsplit("@", 1)
        attempt(f"drop user {account}", mysql, f"DROP USER IF EXISTS {sql_str(user)}@{sql_str(host)};")
        state.created("db_users").remove(account)
    for user in list(state.created("rabbit_users")):
        attempt(f"delete rabbit user {user}", run, ["rabbitmqctl", "delete_user", user])
        state.created("rabbit_users").remove(user)
    attempt("restore keystone.conf", restore_conf, state, KEYSTONE_CONF)
    attempt("restore placement.conf", restore_conf, state, PLACEMENT_CONF)
    state.data.pop("secrets", None)  # the next `up` generates new ones
    state.save()
    if errors:
        raise PrereqError("teardown incomplete:\n" + "\n".join(errors))


def status(state_dir: os.PathLike | str = DEFAULT_STATE_DIR) -> Dict[str, Any]:
    state = State(Path(state_dir))
    report: Dict[str, Any] = {"state_dir": str(state.dir), "initialised": state.path.exists()}
    for name, hint, port in (("keystone", UWSGI, KEYSTONE_PORT),
                             ("placement", UWSGI, PLACEMENT_PORT), ("sshd", SSHD, SSH_PORT)):
        pid = state.pids.get(name)
        report[name] = {"pid": pid, "running": pid_alive(pid, hint),
                        f"{LOOPBACK}:{port}": "open" if port_open(LOOPBACK, port) else "closed"}
    report["created"] = state.data.get("created", {})
    report["timings"] = state.data.get("timings", {})
    report["packages_missing"] = missing_packages(APT_PACKAGES)
    return report


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR))
    args = parser.parse_args(argv)
    try:
        if args.action == "up":
            env = setup(args.state_dir)
            print(json.dumps({"environment": repr(env), "timings": env.timings}, indent=2))
        elif args.action == "down":
            teardown(args.state_dir)
            print("down: done")
        else:
            print(json.dumps(status(args.state_dir), indent=2))
    except PrereqError as exc:
        print(f"e2e prerequisites: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
