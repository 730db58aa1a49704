"""Debian's packages the prerequisites come from, installed non-interactively with debconf
pre-seeded so that no package configures a database, an admin tenant or an endpoint itself."""
from __future__ import annotations

import os
import time
from typing import List, Sequence

from .common import PrereqError, log, run

APT_PACKAGES = ["keystone", "placement-api", "python3-openstackclient", "python3-osc-placement",
                "openssh-server", "openssh-client", "curl", "mariadb-client", "chrony"]

# Debian's openstack packages ask these (templates of keystone, placement-common, placement-api).
# All false: the packages must not touch a database (dbconfig-common), create an admin tenant or
# register endpoints; the harness does that itself.
DEBCONF_SELECTIONS = [
    ("keystone", "keystone/configure_db", "boolean", "false"),
    ("keystone", "keystone/create-admin-tenant", "boolean", "false"),
    ("keystone", "keystone/register-endpoint", "boolean", "false"),
    ("placement-common", "placement/configure_db", "boolean", "false"),
    ("placement-common", "placement/configure_ksat", "boolean", "false"),
    ("placement-api", "placement/configure_api-endpoint", "boolean", "false"),
]


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
