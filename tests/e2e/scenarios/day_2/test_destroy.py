"""The last scenario: `pulumi destroy` of the stack every other one used and changed."""
from __future__ import annotations

import pytest

from tools.plan import unwrap

pytestmark = pytest.mark.e2e


def test_destroy_deletes_what_the_program_made(deployment, env, lab):
    """`pulumi destroy`: keystone objects deleted, the database's accounts and (dbDropOnDelete)
    databases dropped through the provider host, placement's as nova's."""
    engine, rec, _ = deployment
    before = {state.name for state in engine.state.values() if state.custom}  # (the hypervisor's went before)
    deleted = engine.destroy()
    assert {s.op for s in engine.history[-1].steps} <= {"delete"} and engine.state == {}
    assert set(deleted) >= before and "nova-identity-user" in before
    ks = env.keystone()
    for prefix in ("nova", "placement"):
        user = unwrap(rec.by_name(f"{prefix}-identity-user").raw_inputs)
        assert ks.find("users", name=user["name"], domain_id=user["domainId"]) is None
        service = unwrap(rec.by_name(f"{prefix}-identity-service").raw_inputs)
        assert ks.find("services", type=service["type"]) is None
    accounts = lab.data.mysql("SELECT User FROM mysql.user;", what="accounts").split()
    schemas = lab.data.mysql("SHOW DATABASES;", what="databases").split()
    for prefix in ("nova", "placement"):
        db = unwrap(rec.by_name(f"{prefix}-db-mysql").raw_inputs)
        assert db["user"] not in accounts and not set(db["databases"]) & set(schemas)
    assert engine.destroy(label="destroy again") == [] and engine.history[-1].steps == []
