"""Placement's database sync and verification."""
from __future__ import annotations

from components import validate
from components.scripts.base import HEADER, as_service, needs_tools, q


def placement_db_sync() -> str:
    """placement-manage db sync, as the placement user."""
    return HEADER + as_service("placement", "placement-manage db sync") + "\necho 'placement database synced'\n"


def verify_placement(openrc: str, url: str, attempts: int = 30, delay: int = 5) -> str:
    """Placement answers (bounded wait), refuses an anonymous request, serves an authenticated
    one (the token reaches curl on its stdin, `-H @-`: never in a command line, nor in a file,
    which a kill, skipping the EXIT trap, would leave behind), and
    `placement-status upgrade check` passes (0, or 1 for warnings)."""
    if not validate.PLAIN_URL_RE.fullmatch(url):
        raise ValueError(f"{url!r} is not a plain http(s) URL")
    if int(attempts) < 1:
        raise ValueError("need attempts >= 1")
    status = as_service("placement", "placement-status upgrade check")
    get = "curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H 'OpenStack-API-Version: placement 1.0'"
    return (
        HEADER + needs_tools("curl") + f". {q(openrc)}\nurl={q(url.rstrip('/'))}\ncode=000\n"
        f"for attempt in $(seq 1 {int(attempts)}); do\n"
        "  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \"$url/\" || true)\n"
        "  [ \"$code\" = 200 ] && break\n"
        f"  sleep {int(delay)}\n"
        "done\n"
        f"[ \"$code\" = 200 ] || {{ echo \"placement at $url did not answer after {int(attempts) * int(delay)}s (last status $code)\" >&2; exit 1; }}\n"
        f"anonymous=$({get} \"$url/resource_providers\" || true)\n"
        "[ \"$anonymous\" = 401 ] || { echo \"placement answered $anonymous to an anonymous request, not 401\" >&2; exit 1; }\n"
        "token=$(openstack token issue -f value -c id)\n"
        f"authenticated=$(printf 'X-Auth-Token: %s\\n' \"$token\" | {get} -H @- \"$url/resource_providers\" || true)\n"
        "[ \"$authenticated\" = 200 ] || { echo \"placement answered $authenticated to an authenticated request\" >&2; exit 1; }\n"
        f"rc=0; report=$({status} 2>&1) || rc=$?\n"
        "if [ \"$rc\" -gt 1 ]; then printf '%s\\n' \"$report\" >&2; echo \"placement-status upgrade check failed (exit $rc)\" >&2; exit 1; fi\n"
        "echo \"placement up at $url\"\n"
    )
