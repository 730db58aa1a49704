"""Render /etc/nova/nova.conf: pure functions, no Pulumi.

render_nova_conf(settings, node, role, secrets) -> the whole file as text.
  - the release profile's options for the role (controller or compute), filled from the stack;
  - then the stack's overrides (`novaConf`, `novaConfSecret`) merged over them, key by key;
  - every value escaped for oslo.config (`$` -> `$$`: oslo.config interpolates `$name`);
  - passwords inside URLs percent-encoded.
The caller passes secret values in `secrets` (plain strings from the stack's settings), so the
same function serves tests and the Pulumi glue; the glue wraps the rendered text in
`Output.secret` before it reaches any resource (it travels on a command's stdin only).
"""
from __future__ import annotations

from typing import Mapping, Optional
from urllib.parse import quote

from components.config import NodeSettings, Settings
from components.scripts import CellTemplates
from components.validate import url_host

CONTROLLER = "controller"
COMPUTE = "compute"


def secret_values(settings: Settings) -> dict[str, Optional[str]]:
    """The plain secret values by context name (for tests and the Pulumi glue)."""
    return {
        "db_password": settings.database.password.value,
        "rabbit_password": settings.messaging.password.value,
        "nova_password": settings.identity.password.value,
        "neutron_password": settings.neutron_password.value,
        "placement_password": settings.placement_password.value if settings.placement_password else None,
        "metadata_secret": settings.metadata_secret.value if settings.metadata_secret else None,
        "admin_password": settings.keystone.admin_password.value,
        "placement_db_password": settings.placement.db_password.value if settings.placement.db_password else None,
    }


# The secret settings behind each secret a template may name (context name -> stack key).
SECRET_SETTINGS = {
    "db_password": "dbPassword",
    "rabbit_password": "rabbitPassword",
    "nova_password": "novaPassword",
    "neutron_password": "neutronPassword",
    "placement_password": "placementPassword",
    "metadata_secret": "metadataSecret",
    "admin_password": "keystoneAdminPassword",
    "placement_db_password": "placementDbPassword",
}


def secret_filled_options(settings: Settings) -> dict[tuple[str, str], str]:
    """nova.conf's options (either role's) that the program fills from a secret setting, mapped
    to that setting. Derived by rendering, not listed: an option is secret-filled when changing
    one secret changes its rendered value (a password, or a URL that carries one)."""
    names = secret_values(settings)
    base = {name: f"base-{name}" for name in names}
    found: dict[tuple[str, str], str] = {}
    release = settings.release.release
    for role, templates in ((CONTROLLER, release.controller_conf), (COMPUTE, release.compute_conf)):
        def filled(secrets):
            return fill(templates, conf_context(settings, settings.controller, role, secrets, virt_type="qemu"))
        before = filled(base)
        for name in names:
            after = filled({**base, name: f"changed-{name}"})
            for section, options in after.items():
                for option, value in options.items():
                    if before.get(section, {}).get(option) != value:
                        found[(section, option)] = SECRET_SETTINGS[name]
    return found


def _url_password(value: str) -> str:
    return quote(value, safe="")


def db_url(settings: Settings, database: str, password: str, user: Optional[str] = None) -> str:
    """A database URL on the stack's db-node, for nova's account unless `user` names another."""
    db = settings.database
    host = url_host(db.host) if db.port == 3306 else f"{url_host(db.host)}:{db.port}"
    url = f"mysql+pymysql://{quote(user or db.user, safe='')}:{_url_password(password)}@{host}/{database}"
    if db.ca_file:
        url += f"?ssl_ca={quote(db.ca_file, safe='/')}"
    return url


def cell_templates(settings: Settings) -> CellTemplates:
    """The cell mappings' URL templates, shaped like the URLs nova.conf holds (db_url and the
    transport URL): nova fills them from the local nova.conf, so they carry no password."""
    db, mq = settings.database, settings.messaging
    host = "[{hostname}]" if url_host(db.host) != db.host else "{hostname}"
    port = "" if db.port == 3306 else ":{port}"
    query = "?{query}" if db.ca_file else ""
    cell_db = f"mysql+pymysql://{{username}}:{{password}}@{host}{port}/{{name}}{query}"
    mq_host = "[{hostname}]" if url_host(mq.host) != mq.host else "{hostname}"
    return CellTemplates(
        cell0_database=cell_db.replace("{name}", settings.database.cell0_name),
        cell_database=cell_db.replace("{name}", settings.database.main_name),
        transport=f"rabbit://{{username}}:{{password}}@{mq_host}:{{port}}/{{path}}",
    )


def conf_context(settings: Settings, node: NodeSettings, role: str, secrets: Mapping[str, Optional[str]],
                 virt_type: Optional[str] = None) -> dict[str, Optional[str]]:
    """Every value a profile template may name. None means "not set": the option is left out."""
    mq = settings.messaging
    ks = settings.keystone
    api_db = settings.database.api_name
    controller = settings.controller
    return {
        "workers": str(settings.workers) if settings.workers else None,
        "my_ip": node.my_ip,
        "vnc_listen": node.my_ip if role == CONTROLLER else "0.0.0.0",
        "db_connection": db_url(settings, settings.database.main_name, secrets["db_password"]),
        "api_db_connection": db_url(settings, api_db, secrets["db_password"]) if api_db else None,
        "rabbit_host": mq.host,
        "rabbit_user": mq.user,
        "rabbit_password": secrets["rabbit_password"],
        "transport_url": (
            f"rabbit://{quote(mq.user, safe='')}:{_url_password(secrets['rabbit_password'])}@{url_host(mq.host)}:{mq.port}/"
        ),
        "keystone_public_url": ks.public_url,
        "keystone_auth_url": ks.auth_url,
        "project_domain": ks.project_domain,
        "user_domain": ks.user_domain,
        "region": ks.region,
        "memcached_servers": settings.memcached_servers,
        "service_project": settings.identity.project,
        "nova_user": settings.identity.user,
        "nova_password": secrets["nova_password"],
        "glance_host": settings.glance_host,
        "glance_url": f"http://{url_host(settings.glance_host)}:9292" if settings.glance_host else None,
        "neutron_user": settings.neutron_user,
        "neutron_password": secrets["neutron_password"],
        "metadata_secret": secrets.get("metadata_secret"),
        "placement_user": settings.placement_user,
        "placement_password": secrets.get("placement_password"),
        "placement_db_connection": (
            db_url(settings, settings.placement.db_name, secrets["placement_db_password"], settings.placement.db_user)
            if secrets.get("placement_db_password") else None),
        "novncproxy_base_url": f"http://{url_host(controller.my_ip)}:6080/vnc_auto.html",
        "virt_type": virt_type,
        "admin_user": ks.admin_user,
        "admin_project": ks.admin_project,
        "admin_password": secrets.get("admin_password"),
    }


class _Missing(Exception):
    pass


class _Context(dict):
    def __getitem__(self, key: str):  # a template naming a value that is unset (or unknown)
        value = self.get(key)
        if value is None:
            raise _Missing(key)
        return value


def fill(templates: Mapping[str, Mapping[str, str]], context: Mapping[str, Optional[str]]) -> dict[str, dict[str, str]]:
    """Fill a profile's option templates. Options whose values are unset are left out."""
    ctx = _Context(context)
    filled: dict[str, dict[str, str]] = {}
    for section, options in templates.items():
        for option, template in options.items():
            try:
                value = template.format_map(ctx)
            except _Missing:
                continue
            filled.setdefault(section, {})[option] = value
    return filled


def merge_overrides(options: dict[str, dict[str, str]], *overrides: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    merged = {section: dict(keys) for section, keys in options.items()}
    for layer in overrides:
        for section in sorted(layer):
            for option in sorted(layer[section]):
                merged.setdefault(section, {})[option] = layer[section][option]
    return merged


def oslo_escape(value: str) -> str:
    """oslo.config treats `$name` as a reference to another option: keep `$` literal."""
    return value.replace("$", "$$")


def render_ini(options: Mapping[str, Mapping[str, str]]) -> str:
    """DEFAULT first, other sections in the order given; values escaped for oslo.config."""
    sections = sorted(options, key=lambda s: s != "DEFAULT")
    chunks = []
    for section in sections:
        lines = [f"[{section}]"]
        lines += [f"{option} = {oslo_escape(value)}" for option, value in options[section].items()]
        chunks.append("\n".join(lines) + "\n")
    return "# Managed by openstack-nova (Pulumi). Local edits are overwritten.\n\n" + "\n".join(chunks)


def render_nova_conf(settings: Settings, node: NodeSettings, role: str, secrets: Mapping[str, Optional[str]],
                     secret_overrides: Optional[Mapping[str, Mapping[str, str]]] = None,
                     virt_type: Optional[str] = None) -> str:
    profile = settings.release
    templates = profile.release.controller_conf if role == CONTROLLER else profile.release.compute_conf
    options = fill(templates, conf_context(settings, node, role, secrets, virt_type))
    return render_ini(merge_overrides(options, settings.nova_conf_overrides, secret_overrides or {}))


def render_compute_driver_conf(virt_type: str) -> str:
    """The hypervisor's nova-compute.conf (read after nova.conf): the libvirt driver, its virt type."""
    return render_ini({"DEFAULT": {"compute_driver": "libvirt.LibvirtDriver"}, "libvirt": {"virt_type": virt_type}})


def plain_secret_overrides(settings: Settings) -> dict[str, dict[str, str]]:
    return {s: {k: v.value for k, v in opts.items()} for s, opts in settings.nova_conf_secret_overrides.items()}


MASK = "[secret]"


def masked_secrets(settings: Settings) -> dict[str, Optional[str]]:
    """Secret values replaced by a mask, for showing a render in a plan."""
    return {name: (MASK if value is not None else None) for name, value in secret_values(settings).items()}


def render_masked(settings: Settings, node: NodeSettings, role: str, virt_type: Optional[str] = None) -> str:
    """The file as it will be written, every secret shown as [secret] (also inside URLs)."""
    overrides = {s: {k: MASK for k in opts} for s, opts in settings.nova_conf_secret_overrides.items()}
    return _shown(render_nova_conf(settings, node, role, masked_secrets(settings), overrides, virt_type))


def render_placement_conf(settings: Settings, secrets: Mapping[str, Optional[str]]) -> str:
    """/etc/placement/placement.conf of the release's placement, on the controller."""
    templates = settings.release.release.placement.conf
    return render_ini(fill(templates, conf_context(settings, settings.controller, CONTROLLER, secrets)))


def render_placement_masked(settings: Settings) -> str:
    return _shown(render_placement_conf(settings, masked_secrets(settings)))


def _shown(text: str) -> str:
    return text.replace(quote(MASK, safe=""), MASK)  # a mask inside a URL was percent-encoded
