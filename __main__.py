"""openstack-nova: nova's database, its keystone identity, the controller, the hypervisors and
the dashboard, as one graph. Ordering lives in the components' inputs and dependencies."""
import pulumi

from components.compute import HostDiscovery, HostDiscoveryArgs, HypervisorArgs, HypervisorNode
from components.controller import ControllerArgs, ControllerNode
from components.database import NovaDatabase, NovaDatabaseArgs
from components.horizon import Dashboard, DashboardArgs
from components.identity import ServiceIdentity, keystone_provider, nova_identity_args
from components.placement import PlacementArgs
from components.settings_source import read_settings

settings = read_settings()  # fails with every config problem before anything is registered
db = settings.database

database = NovaDatabase("nova-db", NovaDatabaseArgs(
    admin_host=db.host, admin_port=db.port, admin_user=db.admin_user,
    admin_password=pulumi.Output.secret(db.admin_password.value), admin_ca_file=db.ca_file,
    databases=list(db.names), user=db.user, password=pulumi.Output.secret(db.password.value),
    hosts=list(db.allowed_hosts), drop_databases_on_delete=db.drop_on_delete, protect=settings.production,
))

keystone = keystone_provider("keystone", settings.keystone)
identity = ServiceIdentity("nova-identity", nova_identity_args(settings, keystone))
endpoints = list(identity.endpoints.values())

placement = PlacementArgs(settings=settings, provider=keystone, nova_identity=identity) if settings.placement.deploy else None
controller = ControllerNode("controller", ControllerArgs(settings=settings, database=database, endpoints=endpoints,
                                                         placement=placement))

hypervisors = [
    HypervisorNode(node.name, HypervisorArgs(settings=settings, node=node, controller=controller))
    for node in settings.hypervisors
]
if hypervisors and settings.release.release.cells_v2:  # cells v2 maps new hypervisors explicitly
    HostDiscovery("cells", HostDiscoveryArgs(settings=settings, controller=controller, hypervisors=hypervisors))

if settings.dashboard.enabled:
    dashboard = Dashboard("dashboard", DashboardArgs(settings=settings, node=settings.dashboard.node,
                                                     endpoints=endpoints))
    pulumi.export("dashboard_url", dashboard.url)

pulumi.export("release", settings.release.name)
pulumi.export("databases", list(db.names))
pulumi.export("nova_user_id", identity.user_id)
pulumi.export("compute_service_id", identity.service_id)
pulumi.export("compute_endpoints", identity.endpoint_urls)
pulumi.export("nova_conf_sha256", controller.nova_conf_sha256)
pulumi.export("hypervisors", [node.name for node in settings.hypervisors])
if controller.placement is not None:
    pulumi.export("placement_url", settings.placement.endpoint_url)
