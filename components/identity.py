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


def keystone_provider(name: str, keystone: KeystoneSettings, opts: Optional[pulumi.ResourceOptions] = None) -> openstack.Provider:
    """The one provider every keystone object uses, built from the stack only. Every field the
    provider would otherwise take from OS_* variables is set, so an operator's shell cannot
    redirect a deployment."""
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
        cacert_file=keystone.ca_file,
        endpoint_type="public",
        opts=opts,
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
        service_name=ident.service_name,
        service_type=ident.service_type,
        description=ident.description,
        region=settings.keystone.region,
        endpoints=list(ident.endpoints),
        adopt_user_id=ident.adopt_user_id,
        adopt_service_id=ident.adopt_service_id,
        adopt_endpoint_ids=dict(ident.adopt_endpoint_ids),
    )


class ServiceIdentity(pulumi.ComponentResource):
    def __init__(self, name: str, args: ServiceIdentityArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("openstack-nova:components:ServiceIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        invoke = pulumi.InvokeOptions(parent=self, provider=args.provider)

        def adopted(ident: Optional[str]) -> pulumi.ResourceOptions:
            # `import_` adopts an object made by hand instead of creating a duplicate.
            return pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(import_=ident)) if ident else child

        self.user = openstack.identity.User(
            f"{name}-user",
            name=args.user_name,
            domain_id=args.domain_id,
            password=args.password,
            enabled=True,
            opts=adopted(args.adopt_user_id),
        )
        project = openstack.identity.get_project_output(name=args.project, domain_id=args.domain_id, opts=invoke)
        role = openstack.identity.get_role_output(name=args.role, opts=invoke)
        self.role_assignment = openstack.identity.RoleAssignment(
            f"{name}-{args.role}-on-{args.project}",
            user_id=self.user.id,
            project_id=project.id,
            role_id=role.id,
            opts=child,
        )
        self.service = openstack.identity.ServiceV3(
            f"{name}-service",
            name=args.service_name,
            type=args.service_type,
            description=args.description,
            enabled=True,
            opts=adopted(args.adopt_service_id),
        )
        self.endpoints: dict[str, openstack.identity.EndpointV3] = {}
        for interface, url in args.endpoints:
            self.endpoints[interface] = openstack.identity.EndpointV3(
                f"{name}-endpoint-{interface}",
                name=args.service_name,
                service_id=self.service.id,
                interface=interface,
                endpoint_region=args.region,
                url=url,
                opts=adopted(args.adopt_endpoint_ids.get(interface)),
            )
        self.user_id = self.user.id
        self.service_id = self.service.id
        self.endpoint_urls = {iface: ep.url for iface, ep in self.endpoints.items()}
        self.register_outputs({
            "user_id": self.user.id,
            "service_id": self.service.id,
            "endpoint_ids": {iface: ep.id for iface, ep in self.endpoints.items()},
            "endpoint_urls": self.endpoint_urls,
        })
