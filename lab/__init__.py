"""The lab: the install guide's nodes on this one Linux machine, each a host of its own, without
changing the machine. What `./dev lab` brings up for a person, and what the e2e tests run on.

A host is a Debian 13 root (built once by debootstrap from the machine's apt mirror and cached
under /var/cache/openstack-nova-e2e; each run writes only to an overlay of its own) run in
network, UTS, mount and PID namespaces of its own, chrooted into that root, named as the node,
with its own sshd on port 22 (a host key generated at start, which the stack pins) and an
address on a bridge. MariaDB and RabbitMQ run in a db host of their own (the machine needs
neither); keystone, placement and glance in a services host; the machine's apt mirrors answer on
addresses of the bridge through a forwarder. State at a fixed place
(/var/lib/openstack-nova-e2e/state.json): every run first takes down what an unfinished one left.

Modules, by concern:
- common: fixed places and names, the machine's tools, the way into a host (nsenter);
- roots: the cached root file systems and their recipes;
- guest: the kernel and initrd nova's instances boot (Debian 13's kernel and busybox), cached;
- network: the bridge, namespaces and veth pairs;
- forward.py: the TCP forwarder (a script: the lab runs it as a daemon);
- node: one host (start, run inside, stop by its PID 1);
- data: MariaDB and RabbitMQ in the db host, their accounts, their restarts;
- services: keystone, placement and glance in the services host;
- lifecycle: `Lab.up(LabPlan)` / `Lab.down()`, each phase timed, and `Lab.environment(node)`;
- stack: a lab's plan from a stack file (the addresses are the stack's);
- support: state, daemons, waits, keystone's API, and what a client gets for a node.

`venv/bin/python -m lab down` (from the project's root) takes a lab down by hand.
"""
from .common import CACHE_DIR, STATE_DIR
from .lifecycle import DB_ADMIN, DB_HOST, SERVICES_HOST, Lab, LabPlan
from .node import Host

__all__ = ["CACHE_DIR", "DB_ADMIN", "DB_HOST", "SERVICES_HOST", "STATE_DIR", "Host", "Lab", "LabPlan"]
