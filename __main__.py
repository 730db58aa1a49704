"""openstack-nova: nova's database, its keystone identity, placement, the controller, the
hypervisors and the dashboard, as one graph. Ordering lives in the components' inputs and
dependencies; each component takes the narrow, typed inputs it uses (its Args' from_settings)."""
import pulumi

from components.compute import (
    HostDiscovery, HostDiscoveryArgs, HypervisorArgs, HypervisorNode, HypervisorRoster, HypervisorRosterArgs,
)
from components.controller import ControllerArgs, ControllerNode
from components.database import Database, service_database_args
from components.horizon import Dashboard, DashboardArgs
from components.migration import MigrationPeers, MigrationPeersArgs
from components.identity import ServiceIdentity, keystone_provider, nova_identity_args
from components.placement import PlacementArgs, PlacementService
from components.settings_source import read_settings

settings = read_settings()  # fails with every config problem before anything is registered
db = settings.database

database = Database("nova-db", service_database_args(db, db.names, db.user, db.password, settings.production))

keystone = keystone_provider("keystone", settings.keystone)
identity = ServiceIdentity("nova-identity", nova_identity_args(settings, keystone))
endpoints = list(identity.endpoints.values())

controller = ControllerNode("controller", ControllerArgs.from_settings(settings, database, endpoints))
placement_ready, placement_restarts = [], []
if settings.placement.deploy:  # on the controller; nova's db sync and verify wait for it
    placement = PlacementService(
        "placement", PlacementArgs.from_settings(settings, controller.access, keystone, identity),
        # It was the controller's child until the program built it here: the same resources.
        pulumi.ResourceOptions(aliases=[pulumi.Alias(parent=controller)]))
    placement_ready, placement_restarts = [placement.verify], [placement.restart]
    pulumi.export("placement_url", settings.placement.endpoint_url)
ctl = controller.start(placement_ready, placement_restarts)

hypervisors = [HypervisorNode(node.name, HypervisorArgs.from_settings(settings, node, ctl))
               for node in settings.hypervisors]
# Every stack keeps its roster, even with no hypervisor: the last ones to leave are removed too.
HypervisorRoster("hypervisor-roster", HypervisorRosterArgs(ctl, settings.release, [node.name for node in settings.hypervisors]))
if hypervisors and settings.release.release.cells_v2:  # cells v2 maps new hypervisors explicitly
    HostDiscovery("cells", HostDiscoveryArgs(ctl, hypervisors, [node.name for node in settings.hypervisors]))
if settings.migration.enabled and len(hypervisors) > 1:  # each hypervisor reaches every other one
    MigrationPeers("migration", MigrationPeersArgs(settings.hypervisors, [h.steps for h in hypervisors],
                                                   [h.migration for h in hypervisors]))

if settings.dashboard.enabled:
    dashboard = Dashboard("dashboard", DashboardArgs.from_settings(settings, settings.dashboard.node, endpoints))
    pulumi.export("dashboard_url", dashboard.url)

pulumi.export("release", settings.release.name)
pulumi.export("databases", list(db.names))
pulumi.export("nova_user_id", identity.user_id)
pulumi.export("compute_service_id", identity.service_id)
pulumi.export("compute_endpoints", identity.endpoint_urls)
pulumi.export("nova_conf_sha256", controller.nova_conf_sha256)
pulumi.export("hypervisors", [node.name for node in settings.hypervisors])
