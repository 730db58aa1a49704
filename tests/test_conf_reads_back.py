"""Every value the program writes into nova.conf and placement.conf reads back, through
oslo.config itself (each release's pinned one, in tools/nova_options' venv), as exactly the value
set. oslo.config strips whitespace and one pair of matching quotes from a value's ends and reads
`$`, `$$` and `\\$` as its own: a novaPassword `  'pw'  ` written as it is reads as `pw`, and nova
fails to authenticate. (The one thing no value can carry, a line break, config refuses in every
setting: tests/test_hostile_settings.py.)"""
from __future__ import annotations

import json
from urllib.parse import unquote, urlsplit

import pytest

from components.nova_conf import nova_conf_options, plain_secret_overrides, render_nova_conf
from components.template_context import COMPUTE, CONTROLLER, secret_values
from components.placement_conf import placement_conf_options, render_placement_conf
from tests.nova_reads import read_as_nova
from tests.support import settings_for

# Values oslo.config would read differently if written as they are: surrounding spaces (any
# Unicode space: str.strip), a pair of matching quotes, a lone quote, `$` in every form it
# interpolates, backslashes, and what an INI reader might take for a comment, section or separator.
HOSTILE = [
    "  'pw'  ", '"pw"', "'", '"', "''", " leading", "trailing ", "\u00a0no-break and ideographic\u3000",
    "$dollar $$ ${braced} $(id)", "back\\slash \\\\ end\\", "\\$", "pa\\$s\\$$ \\\\$", "'mismatched\"",
    "=;#[x]: value", "%(percent)s",
]
# The secrets nova.conf and placement.conf carry as they are (not inside a URL), by release.
RAW_SECRETS = {"novaPassword", "neutronPassword", "placementPassword", "metadataSecret"}
LIBERTY_RAW_SECRETS = {"novaPassword", "neutronPassword", "rabbitPassword"}


def _secrets(stack: str, value: str) -> dict[str, str]:
    secrets = {key: value for key in (LIBERTY_RAW_SECRETS if stack == "tutorial" else RAW_SECRETS)}
    if value.isascii() and not any(c in value for c in "@%"):  # dbPassword's own limits (ASCII; cells v2)
        secrets["dbPassword"] = value
    secrets["novaConfSecret"] = json.dumps({"vault": {"root_token_id": value}})
    return secrets


def _files(stack: str, value: str) -> dict[str, tuple[str, dict]]:
    """file -> (rendered text, the options the program set) for each file the stack writes."""
    s = settings_for(stack, _secrets(stack, value), novaConf={"DEFAULT": {"default_schedule_zone": value},
                                                             "workarounds": {"skip_cpu_compare_on_dest": value}})
    secrets, overrides = secret_values(s), plain_secret_overrides(s)
    files = {}
    for role, node in ((CONTROLLER, s.controller), (COMPUTE, s.hypervisors[0] if s.hypervisors else s.controller)):
        files[role] = (render_nova_conf(s, node, role, secrets, overrides, "qemu"),
                       nova_conf_options(s, node, role, secrets, overrides, "qemu"))
    if s.release.release.placement is not None:
        files["placement"] = (render_placement_conf(s, secrets), placement_conf_options(s, secrets))
    return files


# Liberty's nova has no option venv; its oslo.config (2.x) strips, unquotes and reads `$` and `\$`
# as every release since oslo.config 1.6 does, so 2025.1's reads the tutorial's files.
@pytest.mark.parametrize("stacks, release", [(("dev", "tutorial"), "2025.1"), (("zed",), "zed")])
def test_every_option_reads_back_through_oslo_config_as_set(stacks, release):
    files = {(stack, value, name): file for stack in stacks for value in HOSTILE
             for name, file in _files(stack, value).items()}
    read = dict(zip(files, read_as_nova([text for text, _ in files.values()], release)))
    for where, (_, options) in files.items():
        assert read[where] == options, where  # every option of every file
    for (stack, value, name), got in read.items():  # and the values the user set, by name
        if name == "placement":
            assert got["keystone_authtoken"]["password"] == value
            continue
        assert got["keystone_authtoken"]["password"] == value, (stack, value, name)
        assert got["DEFAULT"]["default_schedule_zone"] == value
        assert got["workarounds"]["skip_cpu_compare_on_dest"] == value
        assert got["vault"]["root_token_id"] == value
        if name == CONTROLLER and "dbPassword" in _secrets(stack, value):
            assert unquote(urlsplit(got["database"]["connection"]).password) == value


def test_the_reported_password_is_written_quoted_and_read_whole():
    s = settings_for("dev", {"novaPassword": "  'pw'  "})
    text = render_nova_conf(s, s.controller, CONTROLLER, secret_values(s))
    assert "password = \"  'pw'  \"\n" in text
    assert read_as_nova([text])[0]["service_user"]["password"] == "  'pw'  "
