"""Release profiles: what differs between nova releases and between distributions' packaging of
them, kept as data apart from the logic (openstack-ansible's per-distro vars, puppet-nova's
params.pp). Two axes:

- `NovaRelease`: what nova itself needs, whatever installs it: databases, cells v2, the sync
  sequence, the nova.conf options, the checks, and the PyPI pins that define its valid options;
- `Packaging`: how one distribution ships that release: package names, the services they run,
  debconf answers, the package source to add (Ubuntu 24.04 ships 2024.1: 2025.1 comes from the
  Ubuntu Cloud Archive) and the nova version the packages must install.

A stack names a release and a distro; `profile(release, distro)` joins them into the
`ReleaseProfile` the components read. Option values are templates over the context that
`template_context.conf_context` builds ({db_connection}, {my_ip}, ...). An option whose template refers
to a value the stack leaves unset (None) is left out of the file, so nova's own default applies.

`liberty` reproduces the seed tutorial (Ubuntu 14.04 + cloud archive, 2015) option for option.
`2025.1` follows the current install guide: three databases, cells v2, transport_url,
[service_user] tokens, placement. `zed` is Debian 12's own nova 26.
"""
from components.releases.catalog import (
    DEFAULT_DISTRO, LIBERTY, NOVA_SERIES, PROFILES, RELEASE_2025_1, RELEASES, SLURP, ZED, profile, upgrade_allowed,
    upgrade_sources,
)
from components.releases.types import (
    AptSource, DashboardPackaging, NovaRelease, OptionCheck, Options, Packaging, PlacementRelease, ReleaseProfile,
)

__all__ = [
    "DEFAULT_DISTRO", "LIBERTY", "NOVA_SERIES", "PROFILES", "RELEASE_2025_1", "RELEASES", "SLURP", "ZED", "profile",
    "upgrade_allowed", "upgrade_sources", "AptSource", "DashboardPackaging", "NovaRelease", "OptionCheck", "Options",
    "Packaging", "PlacementRelease", "ReleaseProfile",
]
