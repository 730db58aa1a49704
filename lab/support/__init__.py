"""The lab's building blocks, shared by its hosts (lab/), the e2e tests and the keystone double
(tests/doubles/keystone.py). Nothing here installs or starts anything on the machine itself.

Modules, by concern:
- common: the region, PrereqError, running commands, private files, timings, progress;
- state: `<state_dir>/state.json`, the secrets and pids and what was created;
- processes: daemons (started in their own sessions, stopped by pid), waiting;
- identity: HTTP and keystone's v3 API;
- ini: oslo.config files edited in place, uwsgi configurations;
- environment: E2EEnvironment, what a client gets for a node (secrets never in its repr).
"""
from .common import PrereqError
from .environment import E2EEnvironment
from .identity import Keystone

__all__ = ["E2EEnvironment", "Keystone", "PrereqError"]
