"""What defines "valid" per project and release, from the release data (components/releases/):
the exact project (nova, or placement) whose options are checked against, the option-defining
libraries pinned to that release's upper-constraints, and the generator namespaces of the
project's configuration file (nova.conf, placement.conf)."""
from __future__ import annotations

from components import releases  # pure data, standard library only


class NovaOptionsError(RuntimeError):
    """The option data for a release could not be built."""


DEFAULT_PROJECT = "nova"
# project -> how its OptionCheck is found on a NovaRelease (None: that release has none)
_CHECK_OF = {
    "nova": lambda r: r.option_check,
    "placement": lambda r: r.placement.option_check if r.placement is not None else None,
}
PROJECTS: tuple[str, ...] = tuple(_CHECK_OF)


def _checks(project: str) -> dict[str, releases.OptionCheck]:
    found = ((name, _CHECK_OF[project](r)) for name, r in releases.RELEASES.items())
    return {name: check for name, check in found if check is not None}


# project -> release -> the exact requirement / library pins / generator namespaces.
REQUIREMENTS: dict[str, dict[str, str]] = {
    p: {name: c.nova for name, c in _checks(p).items()} for p in PROJECTS}
LIBRARY_PINS: dict[str, dict[str, tuple[str, ...]]] = {
    p: {name: c.libraries for name, c in _checks(p).items()} for p in PROJECTS}
NAMESPACES: dict[str, dict[str, tuple[str, ...]]] = {
    p: {name: c.namespaces for name, c in _checks(p).items()} for p in PROJECTS}

# nova's, under the names they had before placement (the same dicts: patching one patches both).
NOVA_RELEASES: dict[str, str] = REQUIREMENTS["nova"]
RELEASE_LIBRARY_PINS: dict[str, tuple[str, ...]] = LIBRARY_PINS["nova"]
CONFIG_NAMESPACES: dict[str, tuple[str, ...]] = NAMESPACES["nova"]


def conf_name(project: str) -> str:
    """The configuration file a project reads: nova.conf, placement.conf."""
    return f"{project}.conf"


def label(release: str, project: str = DEFAULT_PROJECT) -> str:
    """How messages name what is built or checked: "release zed", "placement release zed"."""
    return f"release {release}" if project == DEFAULT_PROJECT else f"{project} release {release}"


def check_release(release: str, project: str = DEFAULT_PROJECT) -> None:
    if project not in REQUIREMENTS:
        raise NovaOptionsError(
            f"unknown project {project!r}; known projects: {', '.join(PROJECTS)}"
        )
    known = REQUIREMENTS[project]
    if release not in known:
        of = "" if project == DEFAULT_PROJECT else f" of {project}"
        raise NovaOptionsError(
            f"unknown release {release!r}{of}; known releases: {', '.join(sorted(known))}"
        )
