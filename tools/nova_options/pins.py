"""What defines "valid" per release, from the release data (components/releases.py): the exact
nova whose options are checked against, the option-defining libraries pinned to that release's
upper-constraints, and the generator namespaces of nova.conf."""
from __future__ import annotations

from components import releases  # pure data, standard library only


class NovaOptionsError(RuntimeError):
    """The option data for a release could not be built."""


_CHECKED = {name: r.option_check for name, r in releases.RELEASES.items() if r.option_check is not None}
NOVA_RELEASES: dict[str, str] = {name: check.nova for name, check in _CHECKED.items()}
RELEASE_LIBRARY_PINS: dict[str, tuple[str, ...]] = {name: check.libraries for name, check in _CHECKED.items()}
CONFIG_NAMESPACES: dict[str, tuple[str, ...]] = {name: check.namespaces for name, check in _CHECKED.items()}


def check_release(release: str) -> None:
    if release not in NOVA_RELEASES:
        raise NovaOptionsError(
            f"unknown release {release!r}; known releases: {', '.join(sorted(NOVA_RELEASES))}"
        )
