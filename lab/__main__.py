"""`./dev lab up|down|status|openstack`: a cloud of one's own on this machine (lab/cloud.py).

    ./dev lab up [--hypervisors N] [--release R]   the seed's nodes as hosts, the `lab` stack, `up`
    ./dev lab status                              each host and its services' ports
    ./dev lab openstack ARGS...                   the openstack client as the lab's admin
    ./dev lab down                                the hosts and the `lab` stack removed

Exit 0 on success, 1 when the engine or a host failed, 2 when something needed is missing or a
flag is wrong (the message names the fix)."""
from __future__ import annotations

import argparse
import sys
from typing import Optional

from lab.support import PrereqError

from . import cloud


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="./dev lab", description="A cloud of one's own: the seed's nodes on this machine.")
    sub = p.add_subparsers(dest="action", required=True, metavar="up|down|status|openstack")
    up = sub.add_parser("up", help="bring the hosts up, write the lab stack, and `up` it through the engine")
    up.add_argument("--hypervisors", type=int, default=cloud.Topology.hypervisors, metavar="N",
                    help=f"how many hypervisors (1-{cloud.MAX_HYPERVISORS}, default {cloud.Topology.hypervisors})")
    up.add_argument("--release", default=cloud.Topology.release, metavar="R",
                    help=f"the OpenStack release (default {cloud.Topology.release})")
    sub.add_parser("down", help="take the hosts down and remove the lab stack")
    sub.add_parser("status", help="each host and its services' ports")
    client = sub.add_parser("openstack", help="the openstack client as the lab's admin (run in auth-node)")
    client.add_argument("args", nargs=argparse.REMAINDER)
    return p


def main(argv: Optional[list[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.action == "up":
            return cloud.up(cloud.Topology(hypervisors=args.hypervisors, release=args.release))
        if args.action == "down":
            return cloud.down()
        if args.action == "status":
            return cloud.status()
        return cloud.openstack(args.args)
    except PrereqError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: `./dev lab up` again resumes, `./dev lab down` removes what was made", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
