"""components/horizon.py: the dashboard settings edit, pure functions and the scripts run for real
(the admin openrc: test_openrc.py)."""
from __future__ import annotations

import grp
import os
import stat
import subprocess

import pytest

from components.horizon import LOCAL_SETTINGS, settings_script
from components.scripts.horizon_settings import set_openstack_host
from components import scripts
from tests.sandbox import KILL_SCRIPT, SIGKILLED, Sandbox, assert_kill_safe, sandbox, tree
from tests.support import problems_for, settings_for

DEBIAN_SNIPPET = '''import os
from django.utils.translation import gettext_lazy as _
DEBUG = False
# OPENSTACK_HOST = "old-commented"
OPENSTACK_HOST = "127.0.0.1"
OPENSTACK_KEYSTONE_URL = "http://%s/identity/v3" % OPENSTACK_HOST
def f():
    OPENSTACK_HOST = "indented, not a setting"
'''


def test_replaces_the_assignment_in_place_and_leaves_the_rest():
    out = set_openstack_host(DEBIAN_SNIPPET, "auth-node.example.org")
    assert out == DEBIAN_SNIPPET.replace('OPENSTACK_HOST = "127.0.0.1"', 'OPENSTACK_HOST = "auth-node.example.org"')


def test_rerun_is_a_fixed_point():
    once = set_openstack_host(DEBIAN_SNIPPET, "auth-node.example.org")
    assert set_openstack_host(once, "auth-node.example.org") == once


def test_duplicates_collapse_to_exactly_one():
    text = 'A = 1\nOPENSTACK_HOST="x"\nB = 2\nOPENSTACK_HOST   = "y"\n'
    assert set_openstack_host(text, "10.0.0.5") == 'A = 1\nOPENSTACK_HOST = "10.0.0.5"\nB = 2\n'


def test_appended_once_when_missing():
    assert set_openstack_host("A = 1", "h") == 'A = 1\nOPENSTACK_HOST = "h"\n'
    assert set_openstack_host("", "h") == 'OPENSTACK_HOST = "h"\n'


@pytest.mark.parametrize("host", ['h"; import os; os.system("id")', "h\nDEBUG = True", "h\n", "$(id)", ""])
def test_hostile_host_is_refused(host):
    with pytest.raises(ValueError):
        set_openstack_host("A = 1\n", host)


@pytest.fixture
def node(tmp_path):
    """A settings file plus a stand-in `service` that records reloads."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "service.log"
    shim = bin_dir / "service"
    shim.write_text(f"#!/bin/sh\necho \"$@\" >> {log}\n")
    shim.chmod(0o755)
    settings = tmp_path / "local_settings.py"
    settings.write_text(DEBIAN_SNIPPET)
    settings.chmod(0o644)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}

    def run(host: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "-c", settings_script(str(settings), host)], env=env,
                              capture_output=True, text=True, timeout=60)

    return settings, log, run


def test_script_edits_and_reloads_only_on_change(node):
    settings, log, run = node
    first = run("auth-node.example.org")
    assert first.returncode == 0, first.stderr
    assert first.stdout == f"changed: {settings}\napache2 reloaded\n"
    assert settings.read_text() == set_openstack_host(DEBIAN_SNIPPET, "auth-node.example.org")
    assert stat.S_IMODE(os.stat(settings).st_mode) == 0o644
    assert log.read_text() == "apache2 reload\n"
    second = run("auth-node.example.org")
    assert second.returncode == 0 and second.stdout == f"unchanged: {settings}\n"
    assert log.read_text() == "apache2 reload\n"  # no second reload
    assert sorted(p.name for p in settings.parent.iterdir()) == ["bin", "local_settings.py", "service.log"]


def test_script_fails_when_the_file_is_missing(node, tmp_path):
    settings, log, run = node
    settings.unlink()
    done = run("h")
    assert done.returncode != 0
    assert "No such file" in done.stderr
    assert not log.exists()


@pytest.mark.parametrize("host", [
    "x'; touch {m}/pwned1; echo '", "$(touch {m}/pwned2)", "`touch {m}/pwned3`", "{}", "{host}",
    "h\ntouch {m}/pwned4", 'h" ; touch {m}/pwned5 ; "'])
def test_script_refuses_a_hostile_host_and_runs_none_of_it(node, tmp_path, host):
    settings, log, run = node
    done = run(host.replace("{m}", str(tmp_path)))
    assert done.returncode == 1
    assert "OPENSTACK_HOST must be a host name" in done.stderr
    assert settings.read_text() == DEBIAN_SNIPPET and not log.exists()
    assert sorted(p.name for p in tmp_path.glob("pwned*")) == []
    assert sorted(p.name for p in settings.parent.iterdir()) == ["bin", "local_settings.py"]


def test_the_node_program_is_static_text_defining_the_tested_function():
    """The step sends the text of components/scripts/horizon_settings.py, which is exactly the
    function the tests import (nothing else is in that file), inside a static program."""
    import inspect
    from components import horizon
    from components.scripts import horizon_settings

    assert horizon.SET_OPENSTACK_HOST_SOURCE == inspect.getsource(horizon_settings) \
        == inspect.getsource(set_openstack_host)
    assert horizon.SETTINGS_PROGRAM.startswith("import sys\n" + horizon.SET_OPENSTACK_HOST_SOURCE)
    assert scripts.q(horizon.SETTINGS_PROGRAM) in settings_script(LOCAL_SETTINGS, "h")
    compile(horizon.SETTINGS_PROGRAM, "SETTINGS_PROGRAM", "exec")


def test_the_node_program_runs_on_python_3_4():
    """Liberty's dashboard node is Ubuntu 14.04: python3 is 3.4 there (an f-string was a
    SyntaxError, and the step failed). Checked with 3.4's grammar, and f-strings looked for
    directly (newer Pythons may not check a feature version that old)."""
    import ast
    from components import horizon

    tree = ast.parse(horizon.SETTINGS_PROGRAM, feature_version=(3, 4))
    assert [node.lineno for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)] == []


def test_the_settings_file_is_read_and_written_as_utf8(tmp_path):
    """As Python 3.4 would in a session without LANG: an ASCII locale (newer Pythons switch to
    UTF-8 there by themselves, unless told not to)."""
    settings = tmp_path / "local_settings.py"
    text = "# Ünïcode comment: ☃\n" + DEBIAN_SNIPPET
    settings.write_text(text, encoding="utf-8")
    shim = tmp_path / "service"
    shim.write_text("#!/bin/sh\n")
    shim.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "HOME": str(tmp_path), "LC_ALL": "C", "PYTHONUTF8": "0",
           "PYTHONCOERCECLOCALE": "0"}
    done = subprocess.run(["bash", "-c", settings_script(str(settings), "auth-node.example.org")], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert settings.read_text(encoding="utf-8") == set_openstack_host(text, "auth-node.example.org")


# --------------------------------------------------------------------------------------------
# the settings step killed at any point: the reload is never lost
# --------------------------------------------------------------------------------------------

# The web server: a reload (systemctl's or the init script's, whichever the node uses) makes it
# serve the settings file as it is now (state/served), and counts.
SERVER = 'cp "$STATE/../etc/local_settings.py" "$STATE/served"; echo reload >> "$STATE/reloads"'


def dashboard_box(box: Sandbox) -> str:
    etc = box.root / "etc"
    etc.mkdir()
    (etc / "local_settings.py").write_text(DEBIAN_SNIPPET)
    (etc / "local_settings.py").chmod(0o640)
    os.chown(etc / "local_settings.py", 0, grp.getgrnam("daemon").gr_gid)
    (box.state / "served").write_text(DEBIAN_SNIPPET)  # apache runs the packaged settings
    box.shim("service", SERVER)
    box.shim("systemctl", SERVER)
    return settings_script(str(etc / "local_settings.py"), "auth-node.example.org")


def served_state(box: Sandbox):
    settings = box.root / "etc" / "local_settings.py"
    return tree(box.root / "etc"), (box.state / "served").read_text() == settings.read_text()


def test_settings_killed_at_any_point_the_rerun_leaves_apache_on_the_new_settings():
    """Whatever the kill point, the rerun ends with the new file (owner, mode kept, no temp file,
    no marker) and a web server that has loaded it."""
    points = assert_kill_safe(dashboard_box, served_state)
    assert points >= 10
    wanted = set_openstack_host(DEBIAN_SNIPPET, "auth-node.example.org").encode()
    assert served_state_of_one_run() == ({"local_settings.py": (wanted, 0o640, 0, grp.getgrnam("daemon").gr_gid)}, True)


def served_state_of_one_run():
    with sandbox() as box:
        assert box.run(dashboard_box(box)).rc == 0
        return served_state(box)


def test_a_kill_between_the_write_and_the_reload_is_reloaded_by_the_rerun(box):
    script = dashboard_box(box)
    settings = box.root / "etc" / "local_settings.py"
    box.shim("service", KILL_SCRIPT)  # killed as the reload starts
    box.shim("systemctl", KILL_SCRIPT)
    killed = box.run(script, killable=True)
    assert killed.rc == SIGKILLED
    assert settings.read_text() == set_openstack_host(DEBIAN_SNIPPET, "auth-node.example.org")
    assert (box.state / "served").read_text() == DEBIAN_SNIPPET  # apache still on the old settings
    assert (box.root / "etc" / ".local_settings.py.reload-pending").exists()

    box.shim("service", SERVER)
    box.shim("systemctl", SERVER)
    r = box.run(script)

    assert (r.rc, r.out) == (0, f"unchanged: {settings}\nan earlier run changed {settings} but did not reload apache2\n"
                                "apache2 reloaded\n"), r.err
    assert (box.state / "served").read_text() == settings.read_text()
    assert sorted(os.listdir(settings.parent)) == ["local_settings.py"]  # the marker is gone
    again = box.run(script)
    assert (again.rc, again.out) == (0, f"unchanged: {settings}\n")
    assert (box.state / "reloads").read_text() == "reload\n"  # one reload, not one per rerun


def test_a_failed_reload_keeps_the_marker_so_the_next_run_reloads(box):
    script = dashboard_box(box)
    box.shim("service", "echo 'apache2: config error' >&2; exit 1")
    box.shim("systemctl", "echo 'apache2: config error' >&2; exit 1")
    assert box.run(script).rc == 1
    assert (box.root / "etc" / ".local_settings.py.reload-pending").exists()
    box.shim("service", SERVER)
    box.shim("systemctl", SERVER)
    r = box.run(script)
    assert r.rc == 0 and r.out.endswith("apache2 reloaded\n")
    assert not (box.root / "etc" / ".local_settings.py.reload-pending").exists()


def test_an_ipv6_keystone_is_bracketed_in_openstack_host():
    assert set_openstack_host("", "[2001:db8::7]") == 'OPENSTACK_HOST = "[2001:db8::7]"\n'
    for hostile in ('[2001:db8::7]"; import os', "[::1]\n", "[x]"):
        with pytest.raises(ValueError, match="OPENSTACK_HOST must be a host name"):
            set_openstack_host("", hostile)


# --------------------------------------------------------------------------------------------
# modern releases: the dashboard's settings as data, and its login page
# --------------------------------------------------------------------------------------------

def test_dashboard_settings_follow_the_stack_and_the_distribution():
    from components.horizon import dashboard_settings, render_dashboard_settings

    s = settings_for("dev", distro="debian-13", dashboard={"enabled": True, "multidomain": True,
                                                           "timeZone": "Europe/Paris"})
    text = render_dashboard_settings(dashboard_settings(s, s.dashboard.node, s.release.packaging.dashboard.path))
    assert text == (
        "# Managed by openstack-nova (Pulumi). Local edits are overwritten.\n"
        "OPENSTACK_HOST = 'dev-ctl.lab.example.org'\n"
        "OPENSTACK_KEYSTONE_URL = 'http://dev-ctl.lab.example.org:5000/v3'\n"
        "ALLOWED_HOSTS = ['10.20.0.10', 'dev-ctl.lab.example.org']\n"
        "WEBROOT = '/'\n"
        "OPENSTACK_KEYSTONE_MULTIDOMAIN_SUPPORT = True\n"
        "OPENSTACK_KEYSTONE_DEFAULT_DOMAIN = 'Default'\n"
        "OPENSTACK_KEYSTONE_DEFAULT_ROLE = 'member'\n"
        "TIME_ZONE = 'Europe/Paris'\n"
        "SESSION_ENGINE = 'django.contrib.sessions.backends.cache'\n"
        "CACHES = {'default': {'BACKEND': 'django.core.cache.backends.memcached.PyMemcacheCache', "
        "'LOCATION': ['dev-ctl.lab.example.org:11211']}}\n")
    # Debian's package answers: our virtual host, no SSL (default-ssl.conf would stop apache)
    assert s.release.packaging.dashboard.preseed == (
        "openstack-dashboard-apache horizon/activate_vhost boolean true",
        "openstack-dashboard-apache horizon/use_ssl boolean false")


def test_dashboard_settings_are_python_literals_whatever_the_value():
    from components.horizon import render_dashboard_settings

    hostile = "x'; import os; os.system('id') #\n"
    text = render_dashboard_settings({"TIME_ZONE": hostile, "ALLOWED_HOSTS": [hostile]})
    namespace: dict = {}
    exec(compile(text, "settings", "exec"), {}, namespace)  # noqa: S102 - the point: it stays data
    assert namespace == {"TIME_ZONE": hostile, "ALLOWED_HOSTS": [hostile]}
    with pytest.raises(ValueError):
        render_dashboard_settings({"__import__('os')": 1})


def test_bad_dashboard_settings_are_refused():
    problems = problems_for("dev", dashboard={"enabled": True, "timeZone": "Europe/Paris; rm", "multidomain": "y"})
    assert "dashboard.timeZone: 'Europe/Paris; rm' is not a time zone name; use e.g. UTC or Europe/Paris" in problems
    assert "dashboard.multidomain: must be true or false" in problems


def test_the_login_page_check_needs_the_form_not_just_an_answer(box):
    box.shim("sleep")
    box.shim("curl", 'n=$(cat "$STATE/n" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$STATE/n"\n'
                     '[ "$n" -lt 3 ] && { echo "<h1>Server Error (500)</h1>"; exit 0; }\n'
                     'echo \'<form><input name="username"><input name="password" type="password"></form>\'')
    r = box.run(scripts.verify_login_page("http://10.0.0.6/", attempts=5, delay=1))
    assert (r.rc, r.out) == (0, "login page renders at http://10.0.0.6/auth/login/\n"), r.err
    (box.state / "n").unlink()
    r = box.run(scripts.verify_login_page("http://10.0.0.6/", attempts=2, delay=1))
    assert (r.rc, r.err) == (1, "no login form at http://10.0.0.6/auth/login/ after 2s\n")


def test_debian_s_dashboard_runs_in_the_main_interpreter_and_the_reload_enables_it():
    """Debian 13's vhost runs Horizon in a mod_wsgi sub-interpreter, where cryptography's PyO3
    module fails and every page is a 500, and in every Apache child, where the sessions Debian
    keeps in process memory are lost between requests (both found by the e2e test): an Apache conf
    of ours runs it in the main interpreter of the package's one daemon process; the reload
    enables it and runs again when it changes."""
    from components.horizon import render_wsgi_conf
    from tests.support import record, sentinel_secrets

    rec = record("dev", secrets=sentinel_secrets(), distro="debian-13")
    conf = rec.by_name("dashboard-wsgi-conf")
    assert "/etc/apache2/conf-available/openstack-nova-dashboard.conf" in conf.inputs["create"]
    assert conf.inputs["stdin"] == render_wsgi_conf("/usr/share/openstack-dashboard", "horizon") == (
        "# Managed by openstack-nova (Pulumi). Local edits are overwritten.\n"
        "# Horizon in the main interpreter: cryptography's PyO3 module cannot load in a sub-interpreter.\n"
        "<Directory /usr/share/openstack-dashboard>\n    WSGIApplicationGroup %{GLOBAL}\n"
        "    # In the package's daemon process: Horizon's sessions live in its memory.\n"
        "    WSGIProcessGroup horizon\n</Directory>\n")
    with pytest.raises(ValueError):
        render_wsgi_conf("/usr/share/openstack-dashboard", "horizon\nWSGIApplicationGroup x")
    reload = rec.by_name("dashboard-reload")
    assert rec.depends("dashboard-reload", "dashboard-wsgi-conf") and rec.depends("dashboard-wsgi-conf", "dashboard-packages")
    assert reload.inputs["create"].startswith("set -eu\na2enconf -q openstack-nova-dashboard\nif command -v systemctl")
    assert len(reload.inputs["triggers"]) == 2  # the settings' and this conf's hashes
    ubuntu = record("dev", secrets=sentinel_secrets())
    assert "dashboard-wsgi-conf" not in {r.name for r in ubuntu.resources()}
    assert "a2enconf" not in ubuntu.by_name("dashboard-reload").inputs["create"]


def test_enabling_the_conf_runs_before_the_reload_and_fails_it(box):
    box.shim("service", '[ "$2" != status ] || exit 0')
    box.shim("a2enconf")
    script = scripts.reload_service("apache2", first=scripts.enable_apache_conf("openstack-nova-dashboard"))
    r = box.run(script)
    assert (r.rc, r.out) == (0, "apache2 reloaded\n")
    assert box.calls() == ["a2enconf -q openstack-nova-dashboard", "service apache2 status", "service apache2 reload"]
    box.shim("a2enconf", "echo 'ERROR: Conf openstack-nova-dashboard does not exist!' >&2; exit 1")
    r = box.run(script)
    assert (r.rc, r.err) == (1, "ERROR: Conf openstack-nova-dashboard does not exist!\n")
    with pytest.raises(ValueError):
        scripts.enable_apache_conf("x; reboot")
