"""The program itself under the real engine (the CLI, the Automation API, the provider doubles or
NOVA_E2E_PLUGINS' real plugins): a new stack of every shape previews, needing no keystone when
its ids are given, and the engine plans what the offline plan (`./dev plan`) says: the same resources, operations,
types, parents and dependencies (tests/engine_plans.py; the e2e compares changes the same way).

This is the check that was missing when a new stack's first preview failed under the real
providers ("triggers[0]: malformed secret: missing value"): the mock runtime never refused it."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.engine_plans import disagreements, engine_plan, offline_plan
from tests.support import sentinel_secrets
from tests.test_fresh_preview import IDS, SERVICE_ROLE_ID
from tests.test_migration import NOVA_KEY, dev_hypervisors
from tools.engine.workspace import select, set_config
from tools.plan import PROJECT_ROOT, run_program, stack_config
from tools.plan.stack import known_stacks


# keystone: nothing listens there, so any lookup the program made would fail the preview
NO_KEYSTONE = {"keystoneHost": "127.0.0.1", "keystonePublicUrl": "https://127.0.0.1:9/",
               "keystoneAuthUrl": "https://127.0.0.1:9/"}
MODERN_IDS = {**IDS, "serviceExtraRoleIds": {"service": SERVICE_ROLE_ID}}
SHAPES = {stack: (stack, {}) for stack in known_stacks()}
SHAPES["dev with migration, every virt type detected"] = ("dev", {
    "migration": {"enabled": True},
    "hypervisors": [{k: v for k, v in h.items() if k != "virtType"} for h in dev_hypervisors(2)]})


def overrides_for(stack: str, extra: dict) -> dict:
    ids = IDS if stack in ("tutorial", "zed") else MODERN_IDS
    cert = {"keystoneCaFile": "/etc/ssl/certs/ca-certificates.crt"} if stack == "prod" else {}  # read at Configure
    return {**NO_KEYSTONE, **ids, **cert, **extra}


def secrets_for(stack: str, extra: dict) -> dict:
    if stack == "tutorial":
        return {}  # its stack file holds them, encrypted with the documented passphrase
    values = sentinel_secrets()
    if "migration" not in extra:
        values.pop("novaSshPrivateKey")
    else:
        values["novaSshPrivateKey"] = NOVA_KEY
    values.pop("sshPrivateKey")  # the agent (nothing connects at preview)
    return values


def engine_preview(engine, stack: str, config, work: Path):
    """A new stack previewed by the engine, its stack file copied into `work` (config set there)."""
    (work / "stacks").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "Pulumi.yaml", work)
    shutil.copy(PROJECT_ROOT / "stacks" / f"Pulumi.{stack}.yaml", work / "stacks")
    env = {**engine.env, "PYTHONPATH": str(PROJECT_ROOT)}  # the database provider's module, for its host
    if stack == "tutorial":
        env["PULUMI_CONFIG_PASSPHRASE"] = "openstack"
    st = select(stack, env, work_dir=work)
    set_config(st, config.values, config.secret_keys)
    result = st.preview(on_output=engine.printer(), color="never", plan=str(work / "plan.json"))
    return result, engine_plan(work / "plan.json")


@pytest.mark.parametrize("shape", SHAPES)
def test_a_new_stack_previews_without_keystone_as_the_offline_plan_says(engine, shape, tmp_path):
    """Every resource the engine plans is the offline plan's, with the same operation (create),
    type, parent and dependencies; and nothing asked keystone."""
    stack, extra = SHAPES[shape]
    config = stack_config(stack, secrets_for(stack, extra), overrides_for(stack, extra),
                          placeholder_secrets=stack != "tutorial")
    result, planned = engine_preview(engine, stack, config, tmp_path)
    offline = run_program(stack, config.values, config.secret_keys)
    assert disagreements(planned, offline_plan(offline)) == []
    assert {p.op for p in planned.values()} == {"create"}
    assert result.change_summary == {"create": len(offline.resources())}
    steps = [p for p in planned.values() if p.type != "pulumi-python:dynamic/files:FileWatch"]  # a watch waits for nothing
    assert sum(1 for p in steps if p.dependencies) > len(steps) // 2  # the rows carry the graph
    assert not [i for i in offline.invocations if i.token.startswith("openstack:")]
