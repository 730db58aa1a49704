"""Shell scripts the nodes run, built by pure functions.

Every value that reaches a script is quoted with shlex.quote. No script contains a secret:
secret content (nova.conf, openrc) travels on the command's stdin, and the scripts that need
credentials source the openrc file written that way. Scripts start with `set -eu` so a failed
step fails the resource. Modules: `base` (quoting, names, users), `packages`, `files`,
`nova_manage` (database sync, discovery), `services` (preflight, restart, verify, service records),
`placement`, and `horizon_settings`: not shell, the Python function components.horizon's Liberty
settings step runs on the node (that file's text, verbatim: it holds the function only).

tests/test_scripts_rendered.py pins what every stack renders (a changed script re-runs its
step on deployed stacks) and runs shellcheck on every script.
"""
from components.scripts.base import HEADER, as_service, as_user, checked_path, q, service_action
from components.scripts.files import render_exports, set_uwsgi_processes, write_file_from_stdin
from components.scripts.nova_manage import (
    CellTemplates, MASKED_FUNCTION, UPGRADE_CHECK, db_sync, discover_hosts, nova_manage, nova_manage_words,
)
from components.scripts.packages import NovaVersion, install_packages
from components.scripts.placement import placement_db_sync, verify_placement
from components.scripts.services import (
    detect_virt_type, enable_apache_conf, preflight, reload_service, retire_departed_hypervisors, require_virt_type, restart_services,
    service_record, verify_http, verify_login_page, verify_services,
)

__all__ = [
    "HEADER", "as_service", "as_user", "checked_path", "q", "service_action", "render_exports", "set_uwsgi_processes", "write_file_from_stdin",
    "CellTemplates", "MASKED_FUNCTION", "UPGRADE_CHECK", "db_sync", "discover_hosts", "nova_manage",
    "nova_manage_words", "NovaVersion", "install_packages", "placement_db_sync", "verify_placement", "enable_apache_conf",
    "detect_virt_type", "preflight", "reload_service", "retire_departed_hypervisors", "require_virt_type",
    "restart_services", "service_record", "verify_http", "verify_login_page", "verify_services",
]
