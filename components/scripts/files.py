"""Writing files: atomically, from stdin (secrets never in a command line), and shell exports
(the body of the admin openrc, which components.openrc fills).

Every write here survives a SIGKILL at any point: the new content goes to a temp file in the
target's directory and is renamed over the target (a reader, or a rerun, sees the old file or
the new one, never a part). A kill skips the EXIT trap that removes the temp file, so the temp
files have a name of their own, `.<name>.openstack-nova-tmp.XXXXXX` (hidden, and ending in
mktemp's random suffix, so no `*.conf`/`*.py`/`*.ini` include glob ever loads one), and each
run first removes that target's leftovers: they may hold secrets (nova.conf). Only names of
exactly that shape are removed, so an admin's `nova.conf.backup` is never touched; the new temp
file is still created by mktemp (O_EXCL, a random name: nothing planted there is followed).
"""
from __future__ import annotations

import re
from typing import Sequence

from components import validate
from components.scripts.base import ENV_NAME_RE, HEADER, checked, checked_path, q

TEMP_TAG = "openstack-nova-tmp"


def temp_prefix(path: str) -> str:
    """The temp files of `path`: `<dir>/.<name>.openstack-nova-tmp.` plus mktemp's 6 characters."""
    directory, name = checked_path(path).rsplit("/", 1)
    return f"{directory}/.{name}.{TEMP_TAG}."


def remove_leftovers(path: str) -> str:
    """Shell line: remove the temp files earlier, killed runs left for `path` (the glob, outside
    the quotes, matches mktemp's 6-character suffix only)."""
    return f"rm -f -- {q(temp_prefix(path))}??????\n"


def write_file_from_stdin(path: str, owner: str, group: str, mode: str) -> str:
    """Write stdin to `path` atomically (temp file in the same directory, then rename), with
    owner, group and mode set before the content becomes visible. Prints whether it changed:
    "unchanged" only when content, owner, group and mode all already match. A rerun after a kill
    removes the temp file the killed run left (see the module's docstring)."""
    if not validate.PATH_RE.fullmatch(path) or not re.fullmatch(r"[0-7]{4}", mode):
        raise ValueError(f"refusing path {path!r} / mode {mode!r}")
    directory = path.rsplit("/", 1)[0] or "/"
    return (
        HEADER + "umask 077\n"
        f"mkdir -p {q(directory)}\n"
        + remove_leftovers(path) +
        f"tmp=$(mktemp {q(temp_prefix(path) + 'XXXXXX')})\n"
        "trap 'rm -f \"$tmp\"' EXIT\n"
        "cat > \"$tmp\"\n"
        f"chown {q(owner)}:{q(group)} \"$tmp\"\n"
        f"chmod {q(mode)} \"$tmp\"\n"
        f"if [ -f {q(path)} ] && cmp -s \"$tmp\" {q(path)}"
        f" && [ \"$(stat -c %u:%g:%a \"$tmp\")\" = \"$(stat -c %u:%g:%a {q(path)})\" ]; then echo unchanged: {q(path)}; exit 0; fi\n"
        f"mv -fT \"$tmp\" {q(path)}\n"
        "trap - EXIT\n"
        f"echo written: {q(path)}\n"
    )


def render_exports(variables: dict[str, str]) -> str:
    """`export NAME=value` lines, as the admin credentials file holds them (the seed's "Testing"
    exports). Values are shell-quoted; names, which cannot be quoted, must be shell identifiers."""
    checked(variables, ENV_NAME_RE, "environment variable name")
    return "".join(f"export {name}={q(value)}\n" for name, value in variables.items())


def set_uwsgi_processes(paths: Sequence[str], processes: int) -> str:
    """Set `processes = N` in uwsgi .ini files the packages installed (Debian serves nova's and
    placement's APIs under uwsgi with 16 and 8 processes: too many for a small controller). The
    file keeps its owner, mode and every other line; prints whether each one changed. A file
    missing, or setting no `processes`, is an error: the packaging is not the one expected.

    Each file is replaced atomically (temp file beside it, owner, group and mode copied from it,
    then renamed; a symlink is followed, as the package's file is what uwsgi reads), never
    rewritten in place: a kill in the middle of an in-place write left a truncated file that
    every rerun then refused."""
    if not 1 <= int(processes) <= 256:
        raise ValueError(f"refusing a uwsgi process count of {processes!r}")
    body = ""
    for path in paths:
        body += (
            f"f={q(checked_path(path))}\n"
            "[ -f \"$f\" ] || { echo \"$f is missing: not the packaging this release expects\" >&2; exit 1; }\n"
            "real=$(readlink -f -- \"$f\")\n"
            f"rm -f -- \"${{real%/*}}/.${{real##*/}}.{TEMP_TAG}.\"??????\n"
            "grep -Eq '^[[:space:]]*processes[[:space:]]*=' \"$real\" || { echo \"$f sets no processes\" >&2; exit 1; }\n"
            f"tmp=$(mktemp \"${{real%/*}}/.${{real##*/}}.{TEMP_TAG}.XXXXXX\")\n"
            f"sed -E 's/^([[:space:]]*processes[[:space:]]*=).*/\\1 {int(processes)}/' \"$real\" > \"$tmp\"\n"
            "if cmp -s \"$tmp\" \"$real\"; then rm -f \"$tmp\"; echo \"unchanged: $f\"; else\n"
            "  chown --reference=\"$real\" \"$tmp\"; chmod --reference=\"$real\" \"$tmp\"; mv -fT \"$tmp\" \"$real\"\n"
            f"  echo \"written: $f (processes = {int(processes)})\"; fi\n"
        )
    return HEADER + "tmp=''\ntrap 'rm -f \"$tmp\"' EXIT\n" + body
