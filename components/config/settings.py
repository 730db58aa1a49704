"""What components receive: the stack's configuration, typed and checked."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from components import releases
from components.config.schema import Secret


@dataclass(frozen=True)
class DatabaseSettings:
    host: str
    port: int
    admin_user: str
    admin_password: Secret
    ca_file: Optional[str]
    names: tuple[str, ...]  # the release's databases, main one included
    main_name: str
    api_name: Optional[str]
    cell0_name: Optional[str]  # cells v2 releases
    user: str
    password: Secret
    allowed_hosts: tuple[str, ...]
    drop_on_delete: bool


@dataclass(frozen=True)
class MessagingSettings:
    host: str
    port: int
    user: str
    password: Secret


@dataclass(frozen=True)
class KeystoneSettings:
    host: str
    public_url: str  # what clients are told (auth_uri / www_authenticate_uri)
    auth_url: str  # where services authenticate (Liberty: admin port 35357)
    admin_user: str
    admin_project: str
    admin_password: Secret
    user_domain: str
    project_domain: str
    ca_file: Optional[str]
    insecure: bool
    region: str


@dataclass(frozen=True)
class IdentitySettings:
    user: str
    password: Secret
    user_domain: str
    project: str
    role: str
    project_id: Optional[str]  # set: no keystone lookup of `project` (preview needs no keystone)
    role_id: Optional[str]
    extra_role_ids: tuple[tuple[str, str], ...]  # (role, id) of the release's extra roles: no lookup
    service_name: str
    service_type: str
    description: str
    endpoints: tuple[tuple[str, str], ...]  # (interface, url)
    adopt_user_id: Optional[str]
    adopt_service_id: Optional[str]
    adopt_endpoint_ids: tuple[tuple[str, str], ...]


def _node_setting(key: str, *, required: str = "", hypervisors_only: bool = False, **default: Any) -> Any:
    """A NodeSettings field with the key that sets it in a node map of the stack; `required`
    says why a node map must set it."""
    return field(metadata={"key": key, "required": required, "hypervisors_only": hypervisors_only}, **default)


@dataclass(frozen=True)
class NodeSettings:
    """A node (the controller, a hypervisor, the dashboard's own node). Its fields are the one
    declaration of a node map's keys: config derives the keys it accepts from them."""
    name: str = _node_setting("name")
    host: str = _node_setting("host", required="the address the program reaches the node at over SSH")
    port: int = _node_setting("port")
    user: str = _node_setting("user")
    my_ip: str = _node_setting("myIp", required="the node's management IP (nova's my_ip)")
    jump_host: Optional[str] = _node_setting("jumpHost")
    # hypervisors only: one of virt_types.VIRT_TYPES, or None (detect)
    virt_type: Optional[str] = _node_setting("virtType", hypervisors_only=True, default=None)
    # "keytype base64": the SSH host key the node must present
    host_key: Optional[str] = _node_setting("hostKey", default=None)
    jump_host_key: Optional[str] = _node_setting("jumpHostKey", default=None)  # the same for the jump host


@dataclass(frozen=True)
class DashboardSettings:
    enabled: bool
    node: Optional[NodeSettings]
    multidomain: bool = False  # Horizon's login asks for a keystone domain
    time_zone: str = "UTC"


@dataclass(frozen=True)
class PlacementSettings:
    deploy: bool  # the program deploys placement on the controller (else one is assumed to exist)
    db_name: str
    db_user: str
    db_password: Optional[Secret]
    endpoint_url: Optional[str]


@dataclass(frozen=True)
class MigrationSettings:
    """Instances move between the hypervisors: libvirt's live migration (over `scheme`, to each
    node's myIp) and nova's SSH between the hypervisors (cold migration, resize) with one key."""
    enabled: bool = False
    scheme: str = "ssh"  # libvirt's transport: ssh (qemu+ssh, nova's key) or tls (qemu+tls, certificates)
    ca_file: Optional[str] = None  # tls: paths on every hypervisor (the operator puts the files there)
    cert_file: Optional[str] = None
    key_file: Optional[str] = None
    nova_private_key: Optional[Secret] = None  # novaSshPrivateKey (OpenSSH or PEM text)
    nova_public_key: Optional[str] = None  # "keytype base64 comment", derived from it
    nova_key_type: Optional[str] = None  # ed25519, rsa, ecdsa: the file name ssh looks for (id_<type>)


@dataclass(frozen=True)
class Settings:
    stack: str
    release: releases.ReleaseProfile
    production: bool
    database: DatabaseSettings
    messaging: MessagingSettings
    keystone: KeystoneSettings
    identity: IdentitySettings
    controller: NodeSettings
    ssh_private_key: Optional[Secret]
    hypervisors: tuple[NodeSettings, ...]
    dashboard: DashboardSettings
    glance_host: Optional[str]  # None: nova finds glance in the keystone catalog
    neutron_user: str
    neutron_password: Secret
    metadata_secret: Optional[Secret]
    placement_user: str
    placement_password: Optional[Secret]
    placement: PlacementSettings
    memcached_servers: Optional[str]
    nova_conf_overrides: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    nova_conf_secret_overrides: Mapping[str, Mapping[str, Secret]] = field(default_factory=dict)
    workers: Optional[int] = None  # None: the distribution's defaults
    migration: MigrationSettings = MigrationSettings()
    warnings: tuple[str, ...] = ()  # what the stack does that it should not, said at each run
    # Every secret setting the stack sets, by key: what a file template names as the key in
    # snake_case (components.template_context), so a new secret needs no field to reach a file.
    secrets: Mapping[str, Secret] = field(default_factory=dict)


