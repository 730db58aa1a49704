"""By hand, from the project's root (run by the project's venv python, as root):

    venv/bin/python -m lab down       # take down whatever a run left
    venv/bin/python -m lab up e2e     # the lab of a stack file, left up (then `down`)
    venv/bin/python -m lab status
"""
from __future__ import annotations

import argparse
import json
import sys

from lab.support import PrereqError

from .lifecycle import Lab
from .stack import lab_plan


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m lab")
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("stack", nargs="?", default="e2e")
    args = parser.parse_args()
    lab = Lab()
    try:
        if args.action == "up":
            lab.up(lab_plan(args.stack))
            print(json.dumps({"hosts": {n: str(h.address) for n, h in lab.hosts.items()}, "timings": lab.timings},
                             indent=2))
        elif args.action == "down":
            lab.down()
            print("down: done")
        else:
            data = lab.state.data
            print(json.dumps({k: data.get(k) for k in ("plan", "hosts", "pids", "created", "timings")}, indent=2))
    except PrereqError as exc:
        print(f"test hosts: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
