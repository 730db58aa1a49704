"""`up`, `down` and `status`: the order in which the prerequisites are set up (each phase timed),
and their undoing from what the state recorded."""
from __future__ import annotations

import os
from typing import Any, Callable, Dict, List

from .accounts import (check_mariadb, delete_rabbit_user, drop_database, drop_db_user,
                       ensure_account, ensure_rabbit_user)
from .common import (CHRONYD, DB_ADMIN_USER, DEFAULT_STATE_DIR, KEYSTONE_CONF, KEYSTONE_PORT,
                     LOOPBACK, PLACEMENT_CONF, PLACEMENT_PORT, RABBIT_USER, SSH_PORT, SSHD, UWSGI,
                     PrereqError, run, tail, timed)
from .environment import E2EEnvironment, environment
from .node import setup_chrony, setup_sshd
from .packages import APT_PACKAGES, ensure_packages, missing_packages
from .processes import pid_alive, port_open, stop_daemon
from .services import restore_conf, setup_keystone, setup_placement
from .state import State

# The daemons `up` starts, in that order (`down` stops them in the reverse one): name in the
# state, what their command line holds, and the loopback port they serve (None: none).
DAEMONS = (("keystone", UWSGI, KEYSTONE_PORT), ("placement", UWSGI, PLACEMENT_PORT),
           ("chronyd", CHRONYD, None), ("sshd", SSHD, SSH_PORT))


def setup(state_dir: os.PathLike | str = DEFAULT_STATE_DIR, *,
          install: bool = True) -> E2EEnvironment:
    """Set everything up (idempotent: re-running re-uses the state dir's secrets and processes).
    Raises PrereqError when a prerequisite cannot be installed or started."""
    if os.geteuid() != 0:
        raise PrereqError("the e2e prerequisites need root (apt-get, MariaDB root, sshd)")
    state = State(state_dir)
    state.ensure_dir()
    timings = state.data.setdefault("timings", {})
    with timed(timings, "setup_total_s"):
        if install:
            with timed(timings, "apt_check_s"):
                timings["apt_install_s"] = round(ensure_packages(), 1)
        for name in ("keystone_admin", "rabbit", "placement", "db_admin"):
            state.secret(name)
        s = state.data["secrets"]

        with timed(timings, "mariadb_admin_s"):
            check_mariadb()
            ensure_account(state, DB_ADMIN_USER, s["db_admin"],
                           ["GRANT ALL PRIVILEGES ON *.* TO {who} WITH GRANT OPTION;"])
        with timed(timings, "rabbitmq_s"):
            ensure_rabbit_user(state, RABBIT_USER, s["rabbit"])
        with timed(timings, "keystone_s"):
            setup_keystone(state, s["keystone_admin"])
        with timed(timings, "placement_s"):
            setup_placement(state, s["keystone_admin"], s["placement"])
        with timed(timings, "chrony_s"):
            setup_chrony(state)
        with timed(timings, "sshd_s"):
            setup_sshd(state)
            ssh_check = run(environment(state).ssh_command("true"), check=False, timeout=60)
            if ssh_check.returncode != 0:
                raise PrereqError(f"ssh into the harness' sshd failed: {ssh_check.stderr[-2000:]}\n"
                                  f"{tail(state.log_path('sshd.log'))}")
    state.save()
    return environment(state)


def teardown(env_or_dir: E2EEnvironment | os.PathLike | str) -> None:
    """Undo `setup`: stop its processes (by pid), drop only the databases/accounts it created,
    remove its RabbitMQ user, restore the config files it edited. Packages stay installed."""
    state_dir = env_or_dir.state_dir if isinstance(env_or_dir, E2EEnvironment) else env_or_dir
    state = State(state_dir)
    if not state.path.exists():
        return
    errors: List[str] = []

    def attempt(what: str, fn: Callable, *args: Any) -> None:
        try:
            fn(*args)
        except Exception as exc:  # keep undoing the rest
            errors.append(f"{what}: {exc}")

    def undo_created(kind: str, what: str, fn: Callable[[str], None]) -> None:
        for name in list(state.created(kind)):
            attempt(f"{what} {name}", fn, name)
            state.created(kind).remove(name)

    for name, exe, _ in reversed(DAEMONS):
        attempt(f"stop {name}", stop_daemon, state, name, exe)
    undo_created("databases", "drop database", drop_database)
    undo_created("db_users", "drop user", drop_db_user)
    undo_created("rabbit_users", "delete rabbit user", delete_rabbit_user)
    for conf in (KEYSTONE_CONF, PLACEMENT_CONF):
        attempt(f"restore {conf.name}", restore_conf, state, conf)
    state.data.pop("secrets", None)  # the next `up` generates new ones
    state.save()
    if errors:
        raise PrereqError("teardown incomplete:\n" + "\n".join(errors))


def status(state_dir: os.PathLike | str = DEFAULT_STATE_DIR) -> Dict[str, Any]:
    state = State(state_dir)
    report: Dict[str, Any] = {"state_dir": str(state.dir), "initialised": state.path.exists()}
    for name, hint, port in DAEMONS:
        if port is None:
            continue
        pid = state.pids.get(name)
        report[name] = {"pid": pid, "running": pid_alive(pid, hint),
                        f"{LOOPBACK}:{port}": "open" if port_open(LOOPBACK, port) else "closed"}
    report["created"] = state.data.get("created", {})
    report["timings"] = state.data.get("timings", {})
    report["packages_missing"] = missing_packages(APT_PACKAGES)
    return report
