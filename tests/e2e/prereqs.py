#!/usr/bin/env python3
"""Prerequisites of the end-to-end test, set up on this (Debian 12) machine.

What the earlier chapters of the install guide would have left behind before nova's chapter, made
here by the test harness and not by the program under test:

- Debian's packages: keystone, placement-api, python3-openstackclient, openssh-server/-client
  (debconf pre-seeded so that no package configures a database, an admin tenant or an endpoint);
- a RabbitMQ user `openstack` with full permissions on `/`;
- keystone (database `keystone` on the local MariaDB, fernet tokens, bootstrapped admin, project
  `service`) served by Debian's uwsgi on 127.0.0.1:5000;
- placement (database `placement`, keystone user/service/endpoints) served on 127.0.0.1:8778;
- a MariaDB account with the rights the program's database component needs (its dbAdminUser);
- a dedicated sshd on 127.0.0.1:2222 that lets root in with a key pair generated for the run.

Every password is generated per run with `secrets`, kept in `<state_dir>/state.json` (mode 0600)
so `down` can undo exactly what `up` did, and handed to commands on stdin, in 0600/0640 files or in
the environment, never in argv. Only loopback addresses are used.

    python3 tests/e2e/prereqs.py up [--state-dir DIR]      # idempotent
    python3 tests/e2e/prereqs.py status [--state-dir DIR]
    python3 tests/e2e/prereqs.py down [--state-dir DIR]

Only the standard library is imported, so any python3 can run it (the venv's or the system's).
This file is the command line; the harness itself is the package `harness/` beside it.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Optional, Sequence

# run as a script, this file's folder comes first on sys.path: the package beside it
from harness import DEFAULT_STATE_DIR, PrereqError, setup, status, teardown


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR))
    args = parser.parse_args(argv)
    try:
        if args.action == "up":
            env = setup(args.state_dir)
            print(json.dumps({"environment": repr(env), "timings": env.timings}, indent=2))
        elif args.action == "down":
            teardown(args.state_dir)
            print("down: done")
        else:
            print(json.dumps(status(args.state_dir), indent=2))
    except PrereqError as exc:
        print(f"e2e prerequisites: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
