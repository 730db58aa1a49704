"""Horizon, the dashboard (the seed's last step): install openstack-dashboard, point
OPENSTACK_HOST in local_settings.py at keystone, reload the web server only when the file
changed, and check that /horizon answers.

The settings edit is a pure function (`set_openstack_host`), tested here, and the very same
source is what the node runs (embedded in the step's script), so the tested rule is the
applied rule.
"""
from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import pulumi
from components import scripts
from components.config import NodeSettings, Settings
from components.node import NodeSteps, content_hash
from components.scripts import checked_path
from components.scripts.files import remove_leftovers, temp_prefix
from components.validate import url_host

LOCAL_SETTINGS = "/etc/openstack-dashboard/local_settings.py"


def set_openstack_host(text: str, host: str) -> str:
    """Exactly one top-level `OPENSTACK_HOST = "<host>"`: the first assignment is replaced in
    place, later ones are removed, and one is appended when there is none. Commented lines,
    indented lines and every other setting are left untouched."""
    import re as _re  # (kept local: this function's source also runs on the node)

    if not _re.fullmatch(r"[A-Za-z0-9.:-]+|\[[0-9A-Fa-f:.]+\]", host):
        raise ValueError("OPENSTACK_HOST must be a host name, an IP address or a bracketed IPv6 address")
    assignment = _re.compile(r"^OPENSTACK_HOST\s*=")
    wanted = f'OPENSTACK_HOST = "{host}"'
    out, seen = [], False
    lines = text.splitlines(keepends=True)
    for line in lines:
        if assignment.match(line):
            if not seen:
                out.append(wanted + ("\n" if line.endswith("\n") else ""))
                seen = True
            continue
        out.append(line)
    if not seen:
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
        out.append(wanted + "\n")
    return "".join(out)


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
    source = inspect.getsource(set_openstack_host)
    # writes the new text to argv[3]; exits 0 when it is the file's text, 3 when it differs
    program = (
        "import sys\n" + source +
        "path, host, tmp = sys.argv[1], sys.argv[2], sys.argv[3]\n"
        "old = open(path).read()\n"
        "new = set_openstack_host(old, host)\n"
        "with open(tmp, 'w') as f:\n"
        "    f.write(new)\n"
        "sys.exit(0 if new == old else 3)\n"
    )
    p, m = scripts.q(path), scripts.q(pending)
    return (
        scripts.HEADER
        + remove_leftovers(path)
        + f"tmp=$(mktemp {scripts.q(temp_prefix(path) + 'XXXXXX')})\n"
        + "trap 'rm -f \"$tmp\"' EXIT\n"
        + f"rc=0; python3 -c {scripts.q(program)} {p} {scripts.q(host)} \"$tmp\" || rc=$?\n"
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
    settings: Settings
    node: NodeSettings
    endpoints: Sequence[pulumi.Resource]  # Horizon is useless before the catalog exists


def render_wsgi_conf(wsgi_dir: str, process_group: Optional[str] = None) -> str:
    """Apache: Horizon's WSGI app in the main Python interpreter (see DashboardPackaging.wsgi_conf)
    of the package's daemon process, when it defines one (DashboardPackaging.wsgi_process_group)."""
    if process_group is not None and not re.fullmatch(r"[A-Za-z0-9_-]+", process_group):
        raise ValueError(f"refusing WSGI process group {process_group!r}")
    group = ("# In the package's daemon process: Horizon's sessions live in its memory.\n"
             f"    WSGIProcessGroup {process_group}\n") if process_group else ""
    return ("# Managed by openstack-nova (Pulumi). Local edits are overwritten.\n"
            "# Horizon in the main interpreter: cryptography's PyO3 module cannot load in a sub-interpreter.\n"
            f"<Directory {checked_path(wsgi_dir)}>\n    WSGIApplicationGroup %{{GLOBAL}}\n"
            + (f"    {group}" if group else "") + "</Directory>\n")


class Dashboard(pulumi.ComponentResource):
    def __init__(self, name: str, args: DashboardArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("openstack-nova:components:Dashboard", name, None, opts)
        s, node = args.settings, args.node
        packaging = s.release.packaging.dashboard
        steps = NodeSteps(self, name, node, private_key=s.ssh_private_key)
        if packaging is None:  # Liberty, as the seed does it: OPENSTACK_HOST in local_settings.py
            self.packages = steps.run("packages", scripts.install_packages(["openstack-dashboard", "curl"]))  # curl: verify
            # Horizon builds "http://%s/identity/v3" % OPENSTACK_HOST: an IPv6 address needs brackets.
            self.settings = steps.run("settings", settings_script(LOCAL_SETTINGS, url_host(s.keystone.host)),
                                      depends_on=[self.packages, *args.endpoints])
            self.url = f"http://{url_host(node.my_ip)}/horizon/"
            self.verify = steps.run("verify", scripts.verify_http(self.url), depends_on=[self.settings])
        else:
            self.packages = steps.run("packages", scripts.install_packages(packaging.packages, packaging.preseed))
            text = render_dashboard_settings(dashboard_settings(s, node, packaging.path))
            self.settings = steps.write_file("settings", f"{packaging.settings_dir}/{SETTINGS_FILE}", text,
                                             mode="0644", secret=False, depends_on=[self.packages, *args.endpoints])
            reload_after, triggers, enable = [self.settings], [content_hash(text)], ""
            self.wsgi_conf = None
            if packaging.wsgi_conf:
                conf = render_wsgi_conf(packaging.wsgi_dir, packaging.wsgi_process_group)
                self.wsgi_conf = steps.write_file("wsgi-conf", f"/etc/apache2/conf-available/{packaging.wsgi_conf}.conf",
                                                  conf, mode="0644", secret=False, depends_on=[self.packages])
                reload_after.append(self.wsgi_conf)
                triggers.append(content_hash(conf))
                enable = scripts.enable_apache_conf(packaging.wsgi_conf)
            # reloaded only when the settings' content changed (a trigger replaces, so it runs again)
            self.reload = steps.run("reload", scripts.reload_service(packaging.web_server, first=enable),
                                    depends_on=reload_after, triggers=triggers)
            self.url = f"http://{url_host(node.my_ip)}{packaging.path}"
            self.verify = steps.run("verify", scripts.verify_login_page(self.url), depends_on=[self.reload])
        self.register_outputs({"url": self.url})
