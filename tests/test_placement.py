"""Placement as a component of the program: its database, identity and service on the controller,
ordered before nova's db sync and verify; absent for Liberty, optional per stack."""
from __future__ import annotations

import pytest

from components import scripts
from components.config import ConfigError
from components.template_context import secret_values
from components.placement_conf import render_placement_conf, render_placement_masked
from tests.sandbox import Sandbox
from tests.support import problems_for, settings_for
from tests.support import record, sentinel_secrets
from tools.plan import unwrap

DEV_PLACEMENT_CONF = """\
# Managed by openstack-nova (Pulumi). Local edits are overwritten.

[placement_database]
connection = mysql+pymysql://placement:[secret]@dev-db.lab.example.org/placement

[keystone_authtoken]
www_authenticate_uri = http://dev-ctl.lab.example.org:5000
auth_url = http://dev-ctl.lab.example.org:5000
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
memcached_servers = dev-ctl.lab.example.org:11211
username = placement
password = [secret]
service_token_roles_required = true
"""


def test_placement_conf_is_the_install_guide_s():
    assert render_placement_masked(settings_for("dev")) == DEV_PLACEMENT_CONF
    s = settings_for("dev", secrets={"placementDbPassword": "p@ss/w0rd%", "placementPassword": "k$y"})
    text = render_placement_conf(s, secret_values(s))
    assert "connection = mysql+pymysql://placement:p%40ss%2Fw0rd%25@dev-db.lab.example.org/placement\n" in text
    assert "password = k$$y\n" in text  # oslo.config interpolates `$`
    # as nova's: a service token needs the `service` role where the release's guide grants it
    zed = render_placement_masked(settings_for("zed"))
    assert "service_token_roles_required" not in zed and "[keystone_authtoken]" in zed


@pytest.fixture(scope="module")
def dev():
    return record("dev", secrets=sentinel_secrets())


def test_placement_is_deployed_on_the_controller_before_nova_needs_it(dev):
    steps = [r.name for r in dev.children(dev.by_name("placement").urn) if r.custom]
    assert steps == ["placement-conf", "placement-conf-watch", "placement-db-sync", "placement-packages", "placement-restart",
                     "placement-verify"]
    assert dev.depends("controller-db-sync", "placement-verify")  # nova's upgrade check asks placement
    assert dev.depends("controller-verify", "placement-verify")
    assert dev.depends("placement-db-sync", "placement-conf") and dev.waits_for("placement-db-sync", "placement-db-mysql")
    assert dev.depends("placement-verify", "controller-openrc")
    assert dev.by_name("placement-restart").inputs["triggers"] == ["[secret]"]  # placement.conf's hash
    assert unwrap(dev.by_name("placement-conf").raw_inputs)["connection"]["host"] == "dev-ctl.lab.example.org"


def test_placement_reuses_the_database_provider_and_the_identity_component(dev):
    db = unwrap(dev.by_name("placement-db-mysql").raw_inputs)
    assert (db["databases"], db["user"], db["hosts"]) == (["placement"], "placement", ["localhost", "%"])
    assert db["password"] == sentinel_secrets()["placementDbPassword"]
    assert "password" in dev.by_name("placement-db-mysql").secret_inputs
    service = dev.by_name("placement-identity-service")
    assert service.inputs == {"name": "placement", "type": "placement", "description": "Placement API", "enabled": True}
    urls = {dev.by_name(f"placement-identity-endpoint-{i}").inputs["url"] for i in ("public", "internal", "admin")}
    assert urls == {"http://dev-ctl.lab.example.org:8778"}
    user = dev.by_name("placement-identity-user")
    assert user.inputs["name"] == "placement" and unwrap(user.raw_inputs)["password"] == sentinel_secrets()["placementPassword"]
    # one lookup of the project and of each role serves nova and placement
    lookups = [i for i in dev.invocations if i.token.startswith("openstack:")]
    assert len(lookups) == 3


def test_placement_is_optional_and_absent_before_it_existed():
    assert not [r for r in record("dev", placement={"deploy": False}).resources() if r.name.startswith("placement")]
    assert not [r for r in record("tutorial").resources() if r.name.startswith("placement")]
    assert settings_for("tutorial").placement.deploy is False and settings_for("dev").placement.deploy is True
    assert ("placement.deploy: release liberty has no placement service (it predates it); remove placement.deploy"
            in problems_for("tutorial", placement={"deploy": True}))


def test_placement_settings_are_checked():
    problems = problems_for("dev", placement={"deploy": "yes", "dbName": "place;ment", "dbUsr": "x"},
                            **{"openstack-nova:placementDbPassword": None})
    assert "placement.deploy: must be true or false" in problems
    assert "placement.dbUsr: is not a placement setting; use deploy, dbName and dbUser" in problems
    assert any(p.startswith("placement.dbName: 'place;ment' is not a plain SQL identifier") for p in problems)
    with pytest.raises(ConfigError) as err:
        settings_for("dev", **{"openstack-nova:placementDbPassword": None})
    assert err.value.problems == ["placementDbPassword: is required to deploy placement (its database account); "
                                  "set it with `pulumi config set --secret placementDbPassword <value>`"]


# --------------------------------------------------------------------------------------------
# the placement scripts, executed in the sandbox
# --------------------------------------------------------------------------------------------

def test_placement_db_sync_runs_as_placement(box: Sandbox):
    box.shim("su", 'exec /bin/sh -c "$4"')
    box.shim("placement-manage")
    r = box.run(scripts.placement_db_sync())
    assert r.rc == 0, r.err
    assert box.argvs("su") == [["-s", "/bin/sh", "-c", "placement-manage db sync", "placement"]]


@pytest.fixture
def placement_box(box: Sandbox):
    box.shim("su", 'exec /bin/sh -c "$4"')
    box.shim("sleep")
    box.shim("openstack", '[ "$*" = "token issue -f value -c id" ] && echo gAAAA-token-Sentinel')
    box.shim("placement-status", 'exit "$(cat "$STATE/status-rc" 2>/dev/null || echo 0)"')
    # curl: the root answers 200 once state/up exists; /resource_providers needs the token header
    box.shim("curl", 'url=""; hdr=""; for a in "$@"; do case "$a" in http*) url=$a ;; @*) hdr=$(cat "${a#@}") ;; esac; done\n'
                     'case "$url" in */resource_providers) [ "$hdr" = "X-Auth-Token: gAAAA-token-Sentinel" ] && printf 200 || printf 401 ;;\n'
                     '  *) [ -f "$STATE/up" ] && printf 200 || { printf 000; exit 7; } ;; esac')
    (box.root / "openrc").write_text("export OS_USERNAME=admin\n")
    return box


def test_verify_placement_waits_then_checks_auth_and_status(placement_box):
    (placement_box.state / "up").touch()
    r = placement_box.run(scripts.verify_placement(str(placement_box.root / "openrc"), "http://ctl:8778"))
    assert (r.rc, r.out) == (0, "placement up at http://ctl:8778\n"), r.err
    assert "Sentinel" not in " ".join(placement_box.calls("curl"))  # the token never in a command line
    assert placement_box.argvs("su")[-1] == ["-s", "/bin/sh", "-c", "placement-status upgrade check", "placement"]


def test_verify_placement_fails_when_it_never_answers_or_the_check_fails(placement_box):
    r = placement_box.run(scripts.verify_placement(str(placement_box.root / "openrc"), "http://ctl:8778", attempts=2, delay=1))
    assert (r.rc, r.err) == (1, "placement at http://ctl:8778 did not answer after 2s (last status 000)\n")
    (placement_box.state / "up").touch()
    (placement_box.state / "status-rc").write_text("2")
    r = placement_box.run(scripts.verify_placement(str(placement_box.root / "openrc"), "http://ctl:8778"))
    assert r.rc == 1 and r.err.endswith("placement-status upgrade check failed (exit 2)\n")
