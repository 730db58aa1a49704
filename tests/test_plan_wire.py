"""The wire markers tools/plan/wire.py decodes are its own constants, not the Python SDK's
private names: these tests say when an SDK upgrade changes what the SDK sends, before a plan
silently shows a secret's wrapper (or misses a secret) instead."""
from __future__ import annotations

import pytest
from pulumi.runtime import rpc

from tools.plan import wire


@pytest.mark.parametrize("ours, sdk_name", [
    ("SIG_KEY", "_special_sig_key"),
    ("SECRET_SIG", "_special_secret_sig"),
    ("RESOURCE_SIG", "_special_resource_sig"),
    ("OUTPUT_VALUE_SIG", "_special_output_value_sig"),
    ("UNKNOWN", "UNKNOWN"),
])
def test_the_wire_markers_are_the_installed_sdks(ours, sdk_name):
    sdk_value = getattr(rpc, sdk_name, None)
    assert sdk_value is not None, f"the Pulumi SDK no longer has rpc.{sdk_name}: check tools/plan/wire.py's {ours}"
    assert getattr(wire, ours) == sdk_value, f"the Pulumi SDK's rpc.{sdk_name} changed: update tools/plan/wire.py's {ours}"


def test_the_walker_reads_each_marker():
    secret = {wire.SIG_KEY: wire.SECRET_SIG, "value": "s3cr3t"}
    secret_output = {wire.SIG_KEY: wire.OUTPUT_VALUE_SIG, "value": "hidden", "secret": True}
    plain_output = {wire.SIG_KEY: wire.OUTPUT_VALUE_SIG, "value": {"inner": secret}}
    reference = {wire.SIG_KEY: wire.RESOURCE_SIG, "urn": "urn:pulumi:dev::p::t::r", "id": "r-id"}
    value = {"a": secret, "b": [secret_output, plain_output], "r": reference, "u": wire.UNKNOWN, "n": 1}
    assert wire.mask(value) == {"a": "[secret]", "b": ["[secret]", {"inner": "[secret]"}],
                                "r": "urn:pulumi:dev::p::t::r", "u": "(known after apply)", "n": 1}
    assert wire.unwrap(value) == {"a": "s3cr3t", "b": ["hidden", {"inner": "s3cr3t"}],
                                  "r": "urn:pulumi:dev::p::t::r", "u": wire.UNKNOWN, "n": 1}
    assert wire.secret_paths(value) == ["a", "b[0]", "b[1].inner"]
