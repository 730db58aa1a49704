"""Credentials stay out of errors and out of plain settings: an error never quotes a URL's
userinfo (a malformed URL's included), and novaConf sends to novaConfSecret every option nova's
own definitions mark secret, options named like a credential (rabbit_pass, auth_key) and values
holding user:password@ (without a scheme, or with a space where a URL parser stops)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from components.ini import oslo_section
from components.releases.secret_options import AUTH_PLUGIN_SECRET_OPTIONS, SECRET_OPTIONS
from tests.nova_reads import secret_options
from tests.test_hostile_settings import URL_SETTINGS, _url_overrides, named, refused
from tools import nova_options
from tools.plan import PROJECT_ROOT

PASSWORD = "Pa55w0rd"


# ---------------------------------------------------------------------------------------------
# Errors quote no userinfo
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("setting", URL_SETTINGS)
@pytest.mark.parametrize("url, shown", [
    (f"http://admin:{PASSWORD} x@ks.example.org:5000", "'http://***@ks.example.org:5000' is not an http(s) URL"),
    (f"admin:{PASSWORD}@ks.example.org:5000", "'***@ks.example.org:5000' is not an http(s) URL"),
    (f"https://admin:{PASSWORD}\"@ks.example.org/v3", "'https://***@ks.example.org/v3' is not an http(s) URL"),
    (f"ftp://admin:{PASSWORD}@ks.example.org/", "'ftp://***@ks.example.org/' is not an http(s) URL"),
])
def test_a_malformed_url_is_refused_without_its_password(setting, url, shown):
    """The reported case: the URL failed the pattern and was quoted whole, password included."""
    problems = refused("dev", **_url_overrides(setting, url))
    assert any(p.startswith(f"{setting}: {shown}") for p in named(problems, setting)), problems
    assert not any(PASSWORD in p for p in problems)


@pytest.mark.parametrize("key", ["dbHost", "rabbitHost", "keystoneHost", "glanceHost"])
def test_a_host_given_with_credentials_is_refused_without_them(key):
    problems = refused("dev", **{key: f"admin:{PASSWORD}@db.example.org"})
    assert f"{key}: '***@db.example.org' is not a host name or IP address; use e.g. db-node.example.org or " \
           "10.0.0.5" in problems
    assert not any(PASSWORD in p for p in problems)


def test_node_addresses_and_memcached_servers_given_with_credentials_are_refused_without_them():
    problems = refused("dev", controller={"host": f"root:{PASSWORD}@ctl.example.org", "myIp": f"root:{PASSWORD}@10.0.0.5",
                                          "jumpHost": f"u:{PASSWORD}@bastion"},
                       memcachedServers=f"u:{PASSWORD}@m1.example.org:11211")
    for key in ("controller.host", "controller.myIp", "controller.jumpHost", "memcachedServers"):
        assert any(p.startswith(f"{key}: '***@") for p in problems), (key, problems)
    assert not any(PASSWORD in p for p in problems)


def test_the_offline_plan_shows_no_password_of_a_malformed_url(tmp_path):
    done = subprocess.run([sys.executable, "-m", "tools.plan", "dev", "--placeholder-secrets", "--out", str(tmp_path),
                           "--set", f"keystonePublicUrl=http://admin:{PASSWORD} x@ks.example.org:5000"],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "  - keystonePublicUrl: 'http://***@ks.example.org:5000' is not an http(s) URL" in done.stderr
    assert PASSWORD not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr + done.stdout


# ---------------------------------------------------------------------------------------------
# novaConf: what is a credential
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("section, option, value", [
    ("oslo_messaging_rabbit", "rabbit_pass", "Leaked"),                        # named like one
    ("DEFAULT", "auth_key", "Leaked"),
    ("barbican", "api_key", "Leaked"),
    ("glance", "api_servers", "glance:Leaked@glance.example.org:9292"),        # user:pass@ without a scheme
    ("cinder", "endpoint_template", "http://cinder:Leak ed@cinder/v3/%(project_id)s"),  # a space in it
    ("database", "slave_connection", "mysql+pymysql://db.example.org/nova"),   # nova marks it secret
    ("DATABASE", "slave_connection", "mysql+pymysql://db.example.org/nova"),   # in any case of its section
    ("vault", "approle_role_id", "Leaked"),
    ("cache", "backend_argument", "url:redis://cache.example.org"),
    ("my_service_auth", "code", "Leaked"),                                     # keystoneauth's, any section
])
def test_a_credential_in_plain_nova_conf_is_sent_to_nova_conf_secret(section, option, value):
    problems = refused("dev", novaConf={section: {option: value}})
    assert any(p.startswith(f"novaConf.{section}.{option}: looks like a credential") and "novaConfSecret" in p
               for p in problems), problems
    assert not any("Leak" in p for p in problems)


@pytest.mark.parametrize("section, option, value", [
    ("libvirt", "cpu_mode", "host-model"),
    ("glance", "api_servers", "http://glance.example.org:9292"),
    ("DEFAULT", "default_schedule_zone", "az1"),
    ("cinder", "endpoint_template", "http://cinder/v3/%(project_id)s"),
    ("DEFAULT", "instance_name_template", "user@instance-%08x"),  # an '@' alone is no credential
])
def test_ordinary_values_stay_plain(section, option, value):
    from tests.support import settings_for

    assert settings_for("dev", novaConf={section: {option: value}}).nova_conf_overrides[section][option] == value


@pytest.mark.parametrize("release", sorted(nova_options.NOVA_RELEASES))
def test_the_secret_options_are_those_nova_marks_secret(release):
    """components/releases/secret_options.py holds every option nova's definitions mark secret (the
    release's pinned nova and libraries, old names included) and keystoneauth's secret plugin
    options: a new pin that adds one fails here, naming what to add."""
    options, plugin_options = secret_options(release)
    missing = sorted({(oslo_section(section), option) for section, option in options} - SECRET_OPTIONS)
    assert not missing, f"add to SECRET_OPTIONS: {missing}"
    assert not plugin_options - AUTH_PLUGIN_SECRET_OPTIONS, \
        f"add to AUTH_PLUGIN_SECRET_OPTIONS: {sorted(plugin_options - AUTH_PLUGIN_SECRET_OPTIONS)}"


def test_no_secret_option_is_listed_that_no_release_marks():
    found: set = set()
    plugins: set = set()
    for release in nova_options.NOVA_RELEASES:
        options, plugin_options = secret_options(release)
        found |= {(oslo_section(section), option) for section, option in options}
        plugins |= plugin_options
    assert (SECRET_OPTIONS - found, AUTH_PLUGIN_SECRET_OPTIONS - plugins) == (set(), set())
