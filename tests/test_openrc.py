"""components/openrc.py: the admin openrc, the seed's exports for Liberty, and a hostile password
that bash reads back as it was set."""
from __future__ import annotations

import os
import subprocess

from components.openrc import render_openrc
from tests.support import settings_for


def test_tutorial_openrc_is_the_seeds_exports():
    text = render_openrc(settings_for("tutorial", {"keystoneAdminPassword": "openstack"}, cli_rules=True,
                                      placeholder_secrets=False))
    assert text == (
        "export OS_PROJECT_DOMAIN_ID=default\n"
        "export OS_USER_DOMAIN_ID=default\n"
        "export OS_PROJECT_NAME=admin\n"
        "export OS_TENANT_NAME=admin\n"
        "export OS_USERNAME=admin\n"
        "export OS_PASSWORD=openstack\n"
        "export OS_AUTH_URL=http://auth-node.example.org:35357/v3\n"
        "export OS_IDENTITY_API_VERSION=3\n"
    )


def test_modern_openrc_round_trips_a_hostile_password():
    hostile = "p'a\"ss $(touch /tmp/openrc-pwned) `id` \\ ;"
    text = render_openrc(settings_for("dev", {"keystoneAdminPassword": hostile}, cli_rules=True))
    done = subprocess.run(["bash", "-c", text + 'printf %s "$OS_PASSWORD|$OS_REGION_NAME|$OS_USER_DOMAIN_NAME"'],
                          capture_output=True, text=True, timeout=30)
    assert done.stdout == f"{hostile}|RegionOne|Default"
    assert not os.path.exists("/tmp/openrc-pwned")
