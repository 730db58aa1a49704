"""nova-manage as the nova user: the database sync sequence with cells v2 URL templates, online
data migrations and the upgrade check, and host discovery."""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Optional, Sequence

from components.scripts.base import NOVA_MANAGE_RE, CREATE_CELL_RE, HEADER, as_service, q

def nova_manage(args: str) -> str:
    """`nova-manage <args>` as the nova user (the seed forgot `su -s`)."""
    if not NOVA_MANAGE_RE.fullmatch(args):
        raise ValueError(f"{args!r} is not a nova-manage sub-command")
    return as_service("nova", f"nova-manage {args}")


# The password of every user:password@host in a URL, masked: nova-manage prints URLs with their
# passwords decoded, so a password may hold ':', '@', '/', '#', ',' or spaces. What is masked
# runs from the ':' after the user (right after `scheme://`, or after the ',' of another host
# of a multi-host URL such as rabbit://u1:p1@h1:5672,u2:p2@h2:5672/) to the LAST '@' that is
# followed by a host (name, address or [IPv6], optional :port) and then neither more host
# characters nor another '@' (so `u:p@ss@host` masks all of `p@ss`). That span never crosses
# another URL's `://`, a table's ` | ` column separator, or a `@host(:port),` boundary between
# the hosts of a multi-host URL: nothing but passwords is replaced. (Limits: a password holding
# `://`, ` | `, or `@` then a host name then `,` is cut there, and what follows it shows.)
MASK_URLS_PERL = (
    r"my $h = qr/(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::[0-9]+)?(?![A-Za-z0-9._\@\[-])/;"
    r" s{(://|,)([^\s:/\@,|]*):((?:(?!://|\s\|\s|\@$h,).)*)\@(?=$h)}{$1$2:****\@}g;"
)

# `masked CMD...` runs CMD with its stdout and stderr (each to its own stream) passed through
# mask_urls as they come; it keeps CMD's exit status. No temp file: one a kill left behind held
# CMD's unmasked stderr (passwords) for good.
MASKED_FUNCTION = (
    f"mask_urls() {{ perl -pe {q(MASK_URLS_PERL)}; }}\n"
    "masked() {\n"
    "  { \"$@\" 2>&1 1>&3 3>&- | mask_urls >&2; exit \"${PIPESTATUS[0]}\"; } 3>&1 | mask_urls\n"
    "  return \"${PIPESTATUS[0]}\"\n"
    "}"
)


@dataclass(frozen=True)
class CellTemplates:
    """The URL templates cell mappings store (nova fills {username}, {password}, {hostname},
    {port}, {path}, {query} from the local nova.conf): no password is ever stored in them.
    `build` makes them; db sync accepts no other shape (`SHAPE`, from the same pieces)."""
    cell0_database: str
    cell_database: str
    transport: str

    @classmethod
    def build(cls, *, cell0_name: str, cell_name: str, db_ipv6: bool, db_port: bool, db_query: bool,
              mq_ipv6: bool) -> "CellTemplates":
        """Shaped like the URLs nova.conf holds: the database's (on a non-default port, with
        TLS options) and the transport's, IPv6 hosts in brackets."""
        def database(name: str) -> str:
            return f"mysql+pymysql://{_AUTH}{_HOSTS[db_ipv6]}{_PORT if db_port else ''}/{name}{_QUERY if db_query else ''}"
        return cls(database(cell0_name), database(cell_name), f"rabbit://{_AUTH}{_HOSTS[mq_ipv6]}{_PORT}/{_PATH}")


_AUTH, _HOSTS, _PORT, _PATH, _QUERY = "{username}:{password}@", ("{hostname}", "[{hostname}]"), ":{port}", "{path}", "?{query}"
SHAPE = re.compile(rf"[a-z+]+://{re.escape(_AUTH)}({'|'.join(map(re.escape, _HOSTS))})({re.escape(_PORT)})?"
                   rf"/([A-Za-z0-9_]+|{re.escape(_PATH)})({re.escape(_QUERY)})?")
CELL0_UUID = "00000000-0000-0000-0000-000000000000"
# nova-manage db online_data_migrations: 0 done, 1 some migrated (run again), 2 errors, 127 bad input.
MIGRATION_ROUNDS = 20


def nova_manage_words(*words: str) -> str:
    """`nova-manage WORDS` as the nova user, each word quoted (for arguments such as templates
    that the plain sub-command pattern of `nova_manage` does not admit)."""
    return as_service("nova", shlex.join(["nova-manage", *words]))


# The uuid of cell `name` (-v name) in list_cells' table (`|`-separated: Name, UUID, ...).
CELL_UUID_AWK = '{gsub(/ /, "", $2); gsub(/ /, "", $3); if ($2 == name) print $3}'


def _cell_uuid_of(name: str) -> str:
    """Shell: print the uuid of cell `name` from list_cells' table (empty when missing)."""
    return f"masked {nova_manage('cell_v2 list_cells')} | awk -F'|' -v name={q(name)} {q(CELL_UUID_AWK)}"


def db_sync(steps: Sequence[str], cells: Optional[CellTemplates] = None, upgrade_check: bool = False) -> str:
    """The release's sync sequence. With `cells` (cells v2), cell0 and cell1 are mapped with
    URL templates: created when missing, else updated to the templates (so a deployment mapped
    with literal URLs converges, and rotating a password needs no remapping); reruns never fail
    nor duplicate a cell. `db online_data_migrations` runs until nova reports nothing left.
    With `upgrade_check`, `nova-status upgrade check` gates the end: 0 (ok) and 1 (warnings)
    pass, anything else fails with its report.

    Every command's output passes through a filter that masks URL passwords: nova-manage
    prints cell mappings' database URLs, and this output is kept in the step's state and logs."""
    if cells is None and any(step.startswith("cell_v2 ") for step in steps):
        raise ValueError("cells v2 steps need the cells' URL templates")
    if cells is not None:
        for template in (cells.cell0_database, cells.cell_database, cells.transport):
            if not SHAPE.fullmatch(template):
                raise ValueError(f"{template!r} is not a cell URL template")
    lines = [HEADER.strip(), MASKED_FUNCTION, "install -d -o nova -g nova -m 0750 /var/log/nova"]
    for step in steps:
        cell = CREATE_CELL_RE.match(step)
        if step == "cell_v2 map_cell0":
            lines.append(f"masked {nova_manage_words('cell_v2', 'map_cell0', '--database_connection', cells.cell0_database)}")
            lines.append(f"masked {nova_manage_words('cell_v2', 'update_cell', '--cell_uuid', CELL0_UUID, '--transport-url', 'none:///', '--database_connection', cells.cell0_database)}")
        elif cell:
            name = cell.group("name")
            urls = ("--database_connection", cells.cell_database, "--transport-url", cells.transport)
            # the uuid reaches nova-manage through the environment (su keeps it), checked first
            update = as_service("nova", 'nova-manage cell_v2 update_cell --cell_uuid "$CELL_UUID" ' + shlex.join(urls))
            lines.append(
                f"uuid=$({_cell_uuid_of(name)})\n"
                "if [ -n \"$uuid\" ]; then\n"
                "  printf '%s\\n' \"$uuid\" | grep -Eqx '[0-9a-f-]{36}' || { echo \"unexpected cell uuid\" >&2; exit 1; }\n"
                "  export CELL_UUID=\"$uuid\"\n"
                f"  masked {update}\n"
                "else\n"
                f"  rc=0; masked {nova_manage_words('cell_v2', 'create_cell', f'--name={name}', *urls, '--verbose')} || rc=$?\n"
                "  [ \"$rc\" -eq 0 ] || [ \"$rc\" -eq 2 ] || exit \"$rc\"\n"
                "fi"
            )
        elif step == "db online_data_migrations":
            lines.append(
                f"for round in $(seq 1 {MIGRATION_ROUNDS}); do\n"
                f"  rc=0; masked {nova_manage(step)} || rc=$?\n"
                "  [ \"$rc\" -eq 1 ] || break\n"
                "done\n"
                "[ \"$rc\" -eq 0 ] || { echo \"online data migrations did not finish (nova-manage exit $rc)\" >&2; exit 1; }"
            )
        else:
            lines.append(f"masked {nova_manage(step)}")
    if upgrade_check:
        lines.append(UPGRADE_CHECK)
    return "\n".join(lines) + "\n"


# `nova-status upgrade check`: 0 success, 1 warnings (pass), 2 failure, 255 error.
UPGRADE_CHECK = (
    f"rc=0; report=$({as_service('nova', 'nova-status upgrade check')} 2>&1) || rc=$?\n"
    "if [ \"$rc\" -gt 1 ]; then printf '%s\\n' \"$report\" | mask_urls >&2;"
    " echo \"nova-status upgrade check failed (exit $rc)\" >&2; exit 1; fi\n"
    "[ \"$rc\" -eq 0 ] && echo 'upgrade check: ok' || echo 'upgrade check: passed with warnings'"
)


def discover_hosts() -> str:
    """Map new hypervisors into cell1; run once, after every hypervisor is up."""
    return HEADER + nova_manage("cell_v2 discover_hosts --verbose") + "\n"
