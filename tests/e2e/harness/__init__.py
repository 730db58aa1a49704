"""The end-to-end test's harness: what the install guide's earlier chapters would have left on
this (Debian 12) machine before nova's chapter. `tests/e2e/prereqs.py` is its command line;
the tests use `setup`/`teardown` and the `E2EEnvironment` that `setup` returns.

Modules, by concern:
- common: addresses, names, PrereqError, running commands, private files, timings;
- state: `<state_dir>/state.json`, the secrets and pids and what was created;
- processes: the harness' daemons (started in their own sessions, stopped by pid), waiting;
- packages: Debian's packages, debconf pre-seeded;
- accounts: MariaDB databases and accounts, the RabbitMQ user;
- identity: HTTP and keystone's v3 API;
- services: keystone and placement served by uwsgi on 127.0.0.1;
- node: chronyd and the dedicated sshd on 127.0.0.1:2222;
- environment: E2EEnvironment, what the tests get;
- lifecycle: setup, teardown, status.
"""
from .common import DEFAULT_STATE_DIR, PrereqError
from .environment import E2EEnvironment
from .identity import Keystone
from .lifecycle import setup, status, teardown

__all__ = ["DEFAULT_STATE_DIR", "E2EEnvironment", "Keystone", "PrereqError", "setup", "status",
           "teardown"]
