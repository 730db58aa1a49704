"""By hand, from tests/e2e (run by the project's venv python, as root):

    python3 -m hosts down                 # take down whatever a run left
    python3 -m hosts up e2e               # the lab of a stack file, left up (then `down`)
    python3 -m hosts status
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the project root: tools, components

from harness import PrereqError  # noqa: E402

from .lab import Lab  # noqa: E402
from .stack import lab_plan  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(prog="python3 -m hosts")
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
