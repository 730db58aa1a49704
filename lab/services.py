"""What the install guide's earlier chapters leave for nova's, in a services host of its own
(Debian 13's 2025.1 packages): keystone served by uwsgi, glance (2025.1's verification lists
images) and, for a stack whose program does not deploy placement itself, placement; each with
its database in the lab's db host (data.py) and its keystone user, service and endpoints.

The config files are edited inside the host's overlay only: nothing to restore afterwards."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional

from lab.support.common import REGION
from lab.support.identity import Glance, Keystone, wait_http
from lab.support.ini import set_ini, uwsgi_ini
from lab.support.state import State

from .data import DataHost
from .guest import Guest
from .node import Host

UWSGI = "/usr/bin/uwsgi_python3"
KEYSTONE_PORT, PLACEMENT_PORT, GLANCE_PORT, WEBDRIVER_PORT = 5000, 8778, 9292, 9515
DB_PREFIX = "nova_e2e_hosts_"  # every database and account of a lab (the stack's too)
LAB_DB_PREFIX = DB_PREFIX + "lab_"  # the services host's own
GUEST_IMAGE = "lab-guest"  # glance's name of the lab's guest (guest.py)
# The guest's root disk: 1 MiB with no boot signature (nova's format inspector refuses an MBR
# whose partition table is empty: "Image does not pass safety check"); it boots from its initrd.
BLANK_DISK = b"openstack-nova lab guest: a blank disk\n".ljust(1024 * 1024, b"\0")
SERVICE_ROLES = ("admin", "service")  # 2025.1's guide: services hold `service` for service tokens
# placement's Debian uwsgi options that keystone's lack (chunked input, one request per connection)
PLACEMENT_UWSGI = ("socket-timeout = 10\nhttp-auto-chunked = true\nhttp-chunked-input = true\nhttp-raw-body = true\n"
                   "add-header = Connection: close\nwsgi-manage-chunked-input = true\n")


class Services:
    """keystone and placement on `host`, glance on `image_host` (None: on `host` too), their
    databases in `data`; `gateway` is the machine's address on the bridge (the tests' browser
    connects from it)."""

    def __init__(self, state: State, host: Host, gateway: str, data: DataHost, image_host: Optional[Host] = None):
        self.state, self.host, self.gateway, self.data = state, host, gateway, data
        self.image_host = image_host or host
        self.address = str(host.address.ip)
        self.keystone_url = f"http://{self.address}:{KEYSTONE_PORT}/v3"
        self.placement_url = f"http://{self.address}:{PLACEMENT_PORT}"
        self.glance_url = f"http://{self.image_host.address.ip}:{GLANCE_PORT}"
        self.webdriver_url = f"http://{self.address}:{WEBDRIVER_PORT}"

    def _database(self, service: str) -> str:
        """The service's database and account (created, recorded); its connection URL."""
        name = LAB_DB_PREFIX + service
        password = self.state.secret(f"db_{service}")
        self.data.ensure_database(name, name, password)
        return f"mysql+pymysql://{name}:{password}@{self.data.address}/{name}"

    def _as(self, user: str, *argv: str, env: Optional[Dict[str, str]] = None, timeout: float = 600,
            host: Optional[Host] = None) -> None:
        (host or self.host).run(["runuser", "-u", user, "--", *argv], env=env, timeout=timeout, what=" ".join(argv[:2]))

    def _serve(self, name: str, user: str, port: int, wsgi: str, url: str, extra: str = "") -> None:
        """`wsgi` under uwsgi (2 processes x 4 threads, as the lab serves it) in the host."""
        ini = f"/etc/{user}/nova-e2e-uwsgi.ini"
        self.host.write(ini, uwsgi_ini(name, user, wsgi, Path(f"/var/log/{user}/{name}-uwsgi.log"), extra))
        self._daemon(name, ["--exec", UWSGI, "--", "--http-socket", f"{self.address}:{port}", "--ini", ini],
                     url, f"/var/log/{user}/{name}-uwsgi.log", ok=(200, 300), timeout=180)

    def _daemon(self, name: str, how: List[str], url: str, log: str, ok=(200,), timeout: float = 60) -> None:
        """Start a daemon in the host (start-stop-daemon `how`: what to run, its arguments after
        `--`), then wait until `url` answers, showing `log` if it does not."""
        self.host.run(["start-stop-daemon", "--start", "--background", "--make-pidfile",
                       "--pidfile", f"/run/nova-e2e-{name}.pid", *how], what=f"start {name}")
        wait_http(url, ok=list(ok), timeout=timeout, logfile=self.host.path(log))

    def admin(self) -> Keystone:
        return Keystone(self.keystone_url, "admin", self.state.secret("keystone_admin"), "admin")

    def service_user(self, ks: Keystone, name: str, password: str) -> None:
        """`name` in project service with SERVICE_ROLES, as each service's chapter of the guide makes it."""
        project = ks.ensure_project("service", "Service Project")
        user = ks.ensure_user(name, password)
        for role in SERVICE_ROLES:
            ks.grant(project, user, role)

    def _authtoken(self, user: str, password: str) -> Dict[str, str]:
        return {"www_authenticate_uri": f"http://{self.address}:{KEYSTONE_PORT}", "auth_url": self.keystone_url,
                "auth_type": "password", "project_domain_name": "Default", "user_domain_name": "Default",
                "project_name": "service", "username": user, "password": password, "region_name": REGION,
                "service_token_roles_required": "true"}

    # -- the services ---------------------------------------------------------------------------
    def keystone(self) -> None:
        db = self._database("keystone")
        set_ini(self.host.path("/etc/keystone/keystone.conf"), {"database": {"connection": db},
                                                                "token": {"provider": "fernet"}})
        self.host.run(["install", "-d", "-o", "keystone", "-g", "keystone", "-m", "0700",
                       "/etc/keystone/fernet-keys", "/etc/keystone/credential-keys"], what="key dirs")
        self._as("keystone", "keystone-manage", "db_sync")
        for cmd in ("fernet_setup", "credential_setup"):
            self._as("keystone", "keystone-manage", cmd, "--keystone-user", "keystone", "--keystone-group", "keystone")
        url = f"{self.keystone_url}/"
        self._as("keystone", "keystone-manage", "bootstrap", "--bootstrap-username", "admin",
                 "--bootstrap-project-name", "admin", "--bootstrap-role-name", "admin",
                 "--bootstrap-admin-url", url, "--bootstrap-internal-url", url, "--bootstrap-public-url", url,
                 "--bootstrap-region-id", REGION,
                 env={"OS_BOOTSTRAP_PASSWORD": self.state.secret("keystone_admin")})  # not argv
        self._serve("keystone-api", "keystone", KEYSTONE_PORT, "/usr/bin/keystone-wsgi-public", self.keystone_url)
        ks = self.admin()
        ks.ensure_project("service", "Service Project")
        if not ks.find("roles", name="service"):
            ks.call("POST", "/roles", {"role": {"name": "service"}})

    def restart_keystone(self) -> None:
        """keystone's uwsgi stopped (die-on-term: SIGTERM ends it; KILL after 30 s) and served
        again as keystone() serves it; returns once it answers, as an operator's restart would."""
        self.host.run(["start-stop-daemon", "--stop", "--pidfile", "/run/nova-e2e-keystone-api.pid",
                       "--retry", "TERM/30/KILL/5", "--remove-pidfile"], what="stop keystone")
        self._serve("keystone-api", "keystone", KEYSTONE_PORT, "/usr/bin/keystone-wsgi-public", self.keystone_url)

    def placement(self) -> None:
        db, password = self._database("placement"), self.state.secret("placement")
        set_ini(self.host.path("/etc/placement/placement.conf"), {
            "placement_database": {"connection": db}, "api": {"auth_strategy": "keystone"},
            "keystone_authtoken": self._authtoken("placement", password)})
        self._as("placement", "placement-manage", "db", "sync")
        ks = self.admin()
        self.service_user(ks, "placement", password)
        ks.ensure_endpoints(ks.ensure_service("placement", "placement", "Placement API"), self.placement_url, REGION)
        self._serve("placement-api", "placement", PLACEMENT_PORT, "/usr/bin/placement-api", f"{self.placement_url}/",
                    extra=PLACEMENT_UWSGI)

    def glance(self) -> None:
        db, password, host = self._database("glance"), self.state.secret("glance"), self.image_host
        set_ini(host.path("/etc/glance/glance-api.conf"), {
            "DEFAULT": {"bind_host": str(host.address.ip), "bind_port": str(GLANCE_PORT), "workers": "1",
                        "enabled_backends": "fs:file"},
            "database": {"connection": db},
            "keystone_authtoken": self._authtoken("glance", password),
            "paste_deploy": {"flavor": "keystone"},
            "glance_store": {"default_backend": "fs"},
            "fs": {"filesystem_store_datadir": "/var/lib/glance/images/"}})
        self._as("glance", "glance-manage", "db_sync", timeout=900, host=host)
        ks = self.admin()
        self.service_user(ks, "glance", password)
        ks.ensure_endpoints(ks.ensure_service("glance", "image", "OpenStack Image"), self.glance_url, REGION)
        host.run(["service", "glance-api", "start"], what="service glance-api start")  # Debian's init script
        wait_http(f"{self.glance_url}/", ok=[200, 300], timeout=180,
                  logfile=host.path("/var/log/glance/glance-api.log"))

    def guest_image(self, guest: Guest) -> str:
        """The lab's guest in glance, as cirros' "uec" images are: its kernel (aki) and initrd
        (ari) as images of their own, and a machine image naming them (kernel_id, ramdisk_id) with
        the command line that puts its console on the serial port nova logs (os_command_line).
        The machine image's disk is a blank one (the guest runs from its initrd). Public, named
        GUEST_IMAGE; kept while its `lab_guest_digest` is the guest's, else replaced. Returns
        the machine image's id."""
        glance = Glance(self.glance_url, self.admin().token)
        current = [i for i in glance.images(GUEST_IMAGE) if i.get("lab_guest_digest") == guest.digest]
        if current:
            return current[0]["id"]
        for name in (GUEST_IMAGE, f"{GUEST_IMAGE}-kernel", f"{GUEST_IMAGE}-initrd"):
            for stale in glance.images(name):
                glance.delete(stale["id"])
        common = {"visibility": "public", "lab_guest_digest": guest.digest}
        kernel = glance.upload({"name": f"{GUEST_IMAGE}-kernel", "disk_format": "aki", "container_format": "aki",
                                **common}, guest.kernel.read_bytes())
        initrd = glance.upload({"name": f"{GUEST_IMAGE}-initrd", "disk_format": "ari", "container_format": "ari",
                                **common}, guest.initrd.read_bytes())
        # (os_shutdown_timeout: a cold migration or resize asks the guest to shut down and waits,
        # 60 s by default; busybox's init does not answer ACPI)
        return glance.upload({"name": GUEST_IMAGE, "disk_format": "raw", "container_format": "bare",
                              "kernel_id": kernel, "ramdisk_id": initrd, "os_command_line": "console=ttyS0",
                              "os_shutdown_timeout": "5", **common}, BLANK_DISK)

    def browser(self) -> None:
        """chromedriver on the services host's address, accepting only the machine's gateway
        (the test's selenium); it starts a headless chromium per session."""
        self._daemon("chromedriver", ["--exec", "/usr/bin/chromedriver", "--", f"--port={WEBDRIVER_PORT}",
                                      f"--allowed-ips={self.gateway}", "--log-path=/var/log/chromedriver.log"],
                     f"{self.webdriver_url}/status", "/var/log/chromedriver.log")
