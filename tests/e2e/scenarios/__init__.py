"""End to end, 2025.1: the program's own steps bring Debian 13's nova 31 up on a controller that
is a host of its own (lab/), never on the test machine.

The lab (stacks/Pulumi.e2e.yaml's addresses): MariaDB and RabbitMQ in a db host, keystone and
glance in a services host, neutron in a network host, the controller in another (with the program's own placement), reached over SSH on port 22 with its host key pinned in the stack
(`controller.hostKey`). The real Pulumi engine (the CLI, the program through the Automation API:
tests/e2e/pulumi_engine.py) previews and applies the stack, its config and secrets set through
the Automation API, with the provider doubles (tests/doubles) or NOVA_E2E_PLUGINS' real plugins.
One lab and one deployment serve every package here (conftest.py), which run in this order:

- deploy: services up, an authenticated API, the catalog, nova.conf byte for byte, no secret
  anywhere, nova-status's upgrade check;
- migration: an instance boots, and moves between the two hypervisors (live block migration,
  cold migration, resize);
- network: the lab's guest on the provider network takes its address and reaches the metadata
  service on each hypervisor, reaches another server, and keeps its port and address through a
  live migration;
- dashboard: horizon in a real browser;
- faults: bad input the program's steps refuse, naming the node and the fix;
- day_2: a no-op rerun, a forced rerun, rotated passwords, a one-option change, a hypervisor
  drained before it leaves the stack, drift refreshed, and destroy.

The phases' times are printed in the summary."""
