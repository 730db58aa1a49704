"""An OpenStack service's identity in keystone: its user, its role on the service project, its
catalog service and one endpoint per interface (the seed's auth-node steps).

Reusable for any service (nova now, placement later): everything service-specific is in the Args.
Every keystone object goes through the one explicit provider passed in, never an ambient one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import pulumi
import pulumi_openstack as openstack

from components.config import KeystoneSettings, Settings


@dataclass
class ServiceIdentityArgs:
    provider: openstack.Provider
    user_name: str
    password: pulumi.Input[str]  # secret
    domain_id: str  # domain of the user, the project and the role lookups
    project: str
    role: str
    service_name: str
    service_type: str
    description: str
    region: str
    endpoints: Sequence[tuple[str, str]]  # (interface, url)
    adopt_user_id: Optional[str] = None
    adopt_service_id: Optional[str] = None
    adopt_endpoint_ids: dict[str, str] = field(default_factory=dict)
    project_id: Optional[pulumi.Input[str]] = None  # known: `project` is not looked up (no keystone at preview)
    role_id: Optional[pulumi.Input[str]] = None
    extra_role_ids: dict[str, pulumi.Input[str]] = field(default_factory=dict)  # known ids of extra_roles
    extra_roles: Sequence[str] = ()  # more roles on the project, looked up by name (e.g. `service`)


def keystone_provider(name: str, keystone: KeystoneSettings, opts: Optional[pulumi.ResourceOptions] = None) -> openstack.Provider:
    """The one provider every keystone object uses, built from the stack only. Every field the
    SDK or the provider would otherwise take from an OS_* variable (OS_CLOUD, OS_TOKEN,
    OS_REGION_NAME, OS_ENDPOINT_TYPE, OS_INSECURE, ...) is set, empty where unused, so an
    operator's shell cannot redirect a deployment (tests/test_identity.py checks the list against
    the SDK's own Provider arguments)."""
    return openstack.Provider(
        name,
        auth_url=f"{keystone.auth_url.rstrip('/')}/v3",
        user_name=keystone.admin_user,
        tenant_name=keystone.admin_project,
        password=pulumi.Output.secret(keystone.admin_password.value),
        user_domain_name=keystone.user_domain,
        project_domain_name=keystone.project_domain,
        region=keystone.region,
        insecure=keystone.insecure,
        cacert_file=keystone.ca_file or "",
        endpoint_type="public",
        **UNUSED_PROVIDER_FIELDS,
        opts=opts,
    )


# Provider fields this program never uses, set explicitly so no OS_* variable fills them in.
UNUSED_PROVIDER_FIELDS = dict(
    cloud="", token="", user_id="", tenant_id="", user_domain_id="", project_domain_id="", domain_id="",
    domain_name="", default_domain="", application_credential_id="", application_credential_name="",
    application_credential_secret="", cert="", key="",
    swauth=False, allow_reauth=True, delayed_auth=True, system_scope=False,
)


def nova_identity_args(settings: Settings, provider: openstack.Provider) -> ServiceIdentityArgs:
    ident = settings.identity
    return ServiceIdentityArgs(
        provider=provider,
        user_name=ident.user,
        password=pulumi.Output.secret(ident.password.value),
        domain_id=ident.user_domain,
        project=ident.project,
        role=ident.role,
        extra_roles=settings.release.release.extra_service_roles,
        service_name=ident.service_name,
        service_type=ident.service_type,
        description=ident.description,
        region=settings.keystone.region,
        endpoints=list(ident.endpoints),
        adopt_user_id=ident.adopt_user_id,
        adopt_service_id=ident.adopt_service_id,
        adopt_endpoint_ids=dict(ident.adopt_endpoint_ids),
        project_id=ident.project_id,
        role_id=ident.role_id,
        extra_role_ids=dict(ident.extra_role_ids),
    )


class ServiceIdentity(pulumi.ComponentResource):
    def __init__(self, name: str, args: ServiceIdentityArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("openstack-nova:components:ServiceIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        invoke = pulumi.InvokeOptions(parent=self, provider=args.provider)

        def adoptable(kind: type, suffix: str, adopt_id: Optional[str], **props):
            """A keystone object this component owns; with `adopt_id`, the one made by hand
            (`import_`) instead of a duplicate."""
            opts = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(import_=adopt_id)) if adopt_id else child
            return kind(f"{name}-{suffix}", **props, opts=opts)

        self.user = adoptable(openstack.identity.User, "user", args.adopt_user_id,
                              name=args.user_name, domain_id=args.domain_id, password=args.password, enabled=True)
        # The lookups run against keystone even during `pulumi preview`; known ids skip them.
        project_id = args.project_id or openstack.identity.get_project_output(
            name=args.project, domain_id=args.domain_id, opts=invoke).id
        role_ids = {args.role: args.role_id}
        role_ids.update({role: args.extra_role_ids.get(role) for role in args.extra_roles if role != args.role})
        self.role_assignments = {
            role: openstack.identity.RoleAssignment(
                f"{name}-{role}-on-{args.project}",
                user_id=self.user.id,
                project_id=project_id,
                role_id=known or openstack.identity.get_role_output(name=role, opts=invoke).id,
                opts=child,
            )
            for role, known in role_ids.items()
        }
        # what another service's identity can reuse instead of looking the same names up again
        self.project_id = project_id
        self.role_ids = {role: a.role_id for role, a in self.role_assignments.items()}
        self.service = adoptable(openstack.identity.ServiceV3, "service", args.adopt_service_id,
                                 name=args.service_name, type=args.service_type, description=args.description,
                                 enabled=True)
        self.endpoints: dict[str, openstack.identity.EndpointV3] = {}
        for interface, url in args.endpoints:
            # No `name`: the provider sends a changed name as the endpoint's region on update,
            # so adopting a hand-made endpoint (which has none) would rewrite its region.
            self.endpoints[interface] = adoptable(
                openstack.identity.EndpointV3, f"endpoint-{interface}", args.adopt_endpoint_ids.get(interface),
                service_id=self.service.id, interface=interface, endpoint_region=args.region, url=url)
        self.user_id = self.user.id
        self.service_id = self.service.id
        self.endpoint_urls = {iface: ep.url for iface, ep in self.endpoints.items()}
        self.register_outputs({
            "user_id": self.user.id,
            "service_id": self.service.id,
            "endpoint_ids": {iface: ep.id for iface, ep in self.endpoints.items()},
            "endpoint_urls": self.endpoint_urls,
        })
