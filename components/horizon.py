"""Horizon, the dashboard (the seed's last step): install openstack-dashboard, point
OPENSTACK_HOST in local_settings.py at keystone, reload the web server only when the file
changed, and check that /horizon answers.

The settings edit is a pure function (`set_openstack_host`, in
components/scripts/horizon_settings.py, where the tests import it from), and the very same text is
what the node runs (the file's text, embedded in the step's script), so the tested rule is the
applied rule.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import pulumi
from components import scripts
from components.config import NodeSettings, Secret, Settings
from components.node import NodeSteps, content_hash, repaired
from components.releases.types import DashboardPackaging
from components.scripts import checked_path
from components.scripts.files import remove_leftovers, temp_prefix
from components.validate import url_host

LOCAL_SETTINGS = "/etc/openstack-dashboard/local_settings.py"


# The rule that edits local_settings.py, and the node's program around it: static text, so what
# the node runs is what is reviewed here, whatever the layout of this source. The rule is the
# function of components/scripts/horizon_settings.py (the tests test it there), and
# that file's whole text, verbatim, is what the program defines it with on the node: the tested
# rule is the applied rule. (So that file holds the function only: anything else there would be
# sent to the node too, and change the settings step's script.)
SET_OPENSTACK_HOST_SOURCE = (Path(__file__).parent / "scripts" / "horizon_settings.py").read_text(encoding="utf-8")
# python3 -c SETTINGS_PROGRAM PATH HOST TMP: writes the new text to TMP; exits 0 when it is the
# file's text, 3 when it differs (a refused host: an error, 1). Liberty's nodes run Ubuntu
# 14.04, whose python3 is 3.4: no f-strings, and UTF-8 said (3.4 takes the locale's encoding,
# ASCII in a session without LANG).
SETTINGS_PROGRAM = (
    "import sys\n" + SET_OPENSTACK_HOST_SOURCE +
    "path, host, tmp = sys.argv[1], sys.argv[2], sys.argv[3]\n"
    "old = open(path, encoding='utf-8').read()\n"
    "new = set_openstack_host(old, host)\n"
    "with open(tmp, 'w', encoding='utf-8') as f:\n"
    "    f.write(new)\n"
    "sys.exit(0 if new == old else 3)\n"
)


def settings_script(path: str, host: str) -> str:
    """Apply `set_openstack_host` on the node; reload the web server when the file changed, or
    when an earlier run changed it and was killed before its reload went through.

    Kill-safe: the new text goes to a temp file beside the settings (its leftovers from a
    killed run removed first, as in scripts.files), which takes the file's owner, group and mode,
    then is renamed over it. Before that rename a marker, `.<name>.reload-pending` (empty: it
    exists or not, no partial state), is created; it is removed only after the reload
    succeeded. A rerun that finds the file already right but the marker present reloads: without
    it a run killed between the rename and the reload left the server on the old settings while
    every later run said `unchanged`."""
    checked_path(path)
    directory, name = path.rsplit("/", 1)
    pending = f"{directory}/.{name}.reload-pending"
    p, m = scripts.q(path), scripts.q(pending)
    return (
        scripts.HEADER
        + remove_leftovers(path)
        + f"tmp=$(mktemp {scripts.q(temp_prefix(path) + 'XXXXXX')})\n"
        + "trap 'rm -f \"$tmp\"' EXIT\n"
        + f"rc=0; python3 -c {scripts.q(SETTINGS_PROGRAM)} {p} {scripts.q(host)} \"$tmp\" || rc=$?\n"
        + "if [ \"$rc\" -eq 3 ]; then\n"
        + f"  chown --reference={p} \"$tmp\"; chmod --reference={p} \"$tmp\"\n"
        + f"  : > {m}\n"
        + f"  mv -fT \"$tmp\" {p}\n"
        + f"  echo {scripts.q('changed: ' + path)}\n"
        + "elif [ \"$rc\" -ne 0 ]; then exit \"$rc\"\n"
        + f"else echo {scripts.q('unchanged: ' + path)}; fi\n"
        + f"if [ -e {m} ]; then\n"
        + f"  [ \"$rc\" -eq 3 ] || echo {scripts.q('an earlier run changed ' + path + ' but did not reload apache2')}\n"
        + f"  {scripts.service_action('reload', 'apache2')}\n"
        + f"  rm -f {m}\n"
        + "  echo 'apache2 reloaded'\n"
        + "fi\n"
    )


SETTINGS_FILE = "_90_openstack_nova.py"  # after the packages' own snippets


def dashboard_settings(settings: Settings, node: NodeSettings, path: str) -> dict[str, Any]:
    """Horizon's settings for a modern release, from the stack (pure)."""
    ks = settings.keystone
    values: dict[str, Any] = {
        "OPENSTACK_HOST": url_host(ks.host),
        "OPENSTACK_KEYSTONE_URL": f"{ks.public_url.rstrip('/')}/v3",
        "ALLOWED_HOSTS": sorted({node.host, node.my_ip, url_host(node.my_ip)}),
        "WEBROOT": path,
        "OPENSTACK_KEYSTONE_MULTIDOMAIN_SUPPORT": settings.dashboard.multidomain,
        "OPENSTACK_KEYSTONE_DEFAULT_DOMAIN": ks.user_domain,
        "OPENSTACK_KEYSTONE_DEFAULT_ROLE": "member",
        "TIME_ZONE": settings.dashboard.time_zone,
    }
    if settings.memcached_servers:
        values["SESSION_ENGINE"] = "django.contrib.sessions.backends.cache"
        values["CACHES"] = {"default": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                                        "LOCATION": settings.memcached_servers.split(",")}}
    return values


def render_dashboard_settings(values: dict[str, Any]) -> str:
    """Python source assigning each setting; every value is a Python literal (repr of plain str,
    bool, list, dict), so no value can inject code."""
    def literal(value: Any) -> str:
        if isinstance(value, bool) or value is None or isinstance(value, str):
            return repr(value)
        if isinstance(value, list):
            return "[" + ", ".join(literal(v) for v in value) + "]"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
        raise TypeError(f"{type(value).__name__} is not a dashboard setting value")

    lines = ["# Managed by openstack-nova (Pulumi). Local edits are overwritten."]
    for name, value in values.items():
        if not name.isidentifier() or not name.isupper():
            raise ValueError(f"{name!r} is not a Django setting name")
        lines.append(f"{name} = {literal(value)}")
    return "\n".join(lines) + "\n"


@dataclass
class DashboardArgs:
    packaging: Optional[DashboardPackaging]  # None: Liberty's, edited as the seed does
    node: NodeSettings
    private_key: Optional[Secret]
    keystone_host: str  # Liberty's OPENSTACK_HOST
    settings: str  # modern releases: the settings snippet, as rendered
    endpoints: Sequence[pulumi.Resource]  # Horizon is useless before the catalog exists

    @classmethod
    def from_settings(cls, s: Settings, node: NodeSettings, endpoints: Sequence[pulumi.Resource]) -> "DashboardArgs":
        packaging = s.release.packaging.dashboard
        text = render_dashboard_settings(dashboard_settings(s, node, packaging.path)) if packaging else ""
        return cls(packaging=packaging, node=node, private_key=s.ssh_private_key, keystone_host=s.keystone.host,
                   settings=text, endpoints=endpoints)


def render_wsgi_conf(wsgi_dir: str, process_group: Optional[str] = None) -> str:
    """Apache: Horizon's WSGI app in the main Python interpreter (see DashboardPackaging.wsgi_conf)
    of the package's daemon process, when it defines one (DashboardPackaging.wsgi_process_group)."""
    if process_group is not None and not re.fullmatch(r"[A-Za-z0-9_-]+", process_group):
        raise ValueError(f"refusing WSGI process group {process_group!r}")
    lines = ["# Managed by openstack-nova (Pulumi). Local edits are overwritten.",
             "# Horizon in the main interpreter: cryptography's PyO3 module cannot load in a sub-interpreter.",
             f"<Directory {checked_path(wsgi_dir)}>", "    WSGIApplicationGroup %{GLOBAL}"]
    if process_group:
        lines += ["    # In the package's daemon process: Horizon's sessions live in its memory.",
                  f"    WSGIProcessGroup {process_group}"]
    return "\n".join([*lines, "</Directory>"]) + "\n"


class Dashboard(pulumi.ComponentResource):
    def __init__(self, name: str, args: DashboardArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("openstack-nova:components:Dashboard", name, None, opts)
        node, packaging = args.node, args.packaging
        steps = NodeSteps(self, name, node, private_key=args.private_key)
        if packaging is None:  # Liberty, as the seed does it: OPENSTACK_HOST in local_settings.py
            self.packages = steps.run("packages", scripts.install_packages(["openstack-dashboard", "curl"]))  # curl: verify
            # Horizon builds "http://%s/identity/v3" % OPENSTACK_HOST: an IPv6 address needs brackets.
            self.settings = steps.run("settings", settings_script(LOCAL_SETTINGS, url_host(args.keystone_host)),
                                      depends_on=[self.packages, *args.endpoints])
            self.url = f"http://{url_host(node.my_ip)}/horizon/"
            self.verify = steps.run("verify", scripts.verify_http(self.url), depends_on=[self.settings])
        else:
            self.packages = steps.run("packages", scripts.install_packages(packaging.packages, packaging.preseed))
            text = args.settings
            self.settings = steps.write_file("settings", f"{packaging.settings_dir}/{SETTINGS_FILE}", text,
                                             mode="0644", secret=False, depends_on=[self.packages, *args.endpoints])
            reload_after, triggers, enable = [self.settings], [repaired(content_hash(text), steps.watches["settings"])], ""
            self.wsgi_conf = None
            if packaging.wsgi_conf:
                conf = render_wsgi_conf(packaging.wsgi_dir, packaging.wsgi_process_group)
                self.wsgi_conf = steps.write_file("wsgi-conf", f"/etc/apache2/conf-available/{packaging.wsgi_conf}.conf",
                                                  conf, mode="0644", secret=False, depends_on=[self.packages])
                reload_after.append(self.wsgi_conf)
                triggers.append(repaired(content_hash(conf), steps.watches["wsgi-conf"]))
                enable = scripts.enable_apache_conf(packaging.wsgi_conf)
            # reloaded only when the settings' content changed (a trigger replaces, so it runs again)
            self.reload = steps.run("reload", scripts.reload_service(packaging.web_server, first=enable),
                                    depends_on=reload_after, triggers=triggers)
            self.url = f"http://{url_host(node.my_ip)}{packaging.path}"
            self.verify = steps.run("verify", scripts.verify_login_page(self.url), depends_on=[self.reload])
        self.register_outputs({"url": self.url})
