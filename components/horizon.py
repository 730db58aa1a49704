"""Horizon, the dashboard (the seed's last step): install openstack-dashboard, point
OPENSTACK_HOST in local_settings.py at keystone, reload the web server only when the file
changed, and check that /horizon answers.

The settings edit is a pure function (`set_openstack_host`), tested here, and the very same
source is what the node runs (embedded in the step's script), so the tested rule is the
applied rule.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
from components import scripts
from components.config import NodeSettings, Secret
from components.node import NodeSteps
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
    """Apply `set_openstack_host` on the node; reload the web server only when the file changed."""
    scripts.checked_path(path)
    source = inspect.getsource(set_openstack_host)
    program = (
        "import os, sys, tempfile\n" + source +
        "path, host = sys.argv[1], sys.argv[2]\n"
        "old = open(path).read()\n"
        "new = set_openstack_host(old, host)\n"
        "if new == old:\n"
        "    print('unchanged: ' + path); sys.exit(0)\n"
        "st = os.stat(path)\n"
        "fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path))\n"
        "with os.fdopen(fd, 'w') as f:\n"
        "    f.write(new)\n"
        "os.chown(tmp, st.st_uid, st.st_gid); os.chmod(tmp, st.st_mode & 0o7777)\n"
        "os.replace(tmp, path)\n"
        "print('changed: ' + path)\n"
        "sys.exit(3)\n"
    )
    return (
        scripts.HEADER
        + f"rc=0; python3 -c {scripts.q(program)} {scripts.q(path)} {scripts.q(host)} || rc=$?\n"
        + "if [ \"$rc\" -eq 3 ]; then\n"
        + f"  {scripts.service_action('reload', 'apache2')}\n"
        + "  echo 'apache2 reloaded'\n"
        + "elif [ \"$rc\" -ne 0 ]; then exit \"$rc\"; fi\n"
    )


@dataclass
class DashboardArgs:
    node: NodeSettings
    private_key: Optional[Secret]
    keystone_host: str
    endpoints: Sequence[pulumi.Resource]  # Horizon is useless before the catalog exists


class Dashboard(pulumi.ComponentResource):
    def __init__(self, name: str, args: DashboardArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("openstack-nova:components:Dashboard", name, None, opts)
        node = args.node
        steps = NodeSteps(self, name, node, private_key=args.private_key)
        self.packages = steps.run("packages", scripts.install_packages(["openstack-dashboard"]))
        # Horizon builds "http://%s/identity/v3" % OPENSTACK_HOST: an IPv6 address needs brackets.
        self.settings = steps.run("settings", settings_script(LOCAL_SETTINGS, url_host(args.keystone_host)),
                                  depends_on=[self.packages, *args.endpoints])
        self.url = f"http://{url_host(node.my_ip)}/horizon/"
        self.verify = steps.run("verify", scripts.verify_http(self.url), depends_on=[self.settings])
        self.register_outputs({"url": self.url})
