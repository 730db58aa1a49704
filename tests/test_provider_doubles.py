"""What the providers do under the real engine, stated once for the doubles (tests/doubles) and,
with NOVA_E2E_PLUGINS=DIR, for real plugin binaries: the same tests must pass against both.

Each test runs a small inline program through the Automation API and the real CLI; the command
provider reaches `sshd` on loopback."""
from __future__ import annotations

import json
from typing import Optional

import pulumi
import pulumi.automation as auto
import pytest
from pulumi_command import remote



def connection(sshd, host_key: Optional[str] = None, dial_error_limit: int = 10) -> remote.ConnectionArgs:
    return remote.ConnectionArgs(host=sshd.host, port=sshd.port, user="root",
                                 private_key=pulumi.Output.secret(sshd.private_key),
                                 host_key=host_key or sshd.host_key, dial_error_limit=dial_error_limit)


def state(stack) -> dict[str, dict]:
    """Each resource's outputs in the exported state, by name (secrets as the CLI exports them)."""
    return {r["urn"].rsplit("::", 1)[-1]: r.get("outputs", {}) for r in stack.export_stack().deployment["resources"]}


def fails(engine, operation, *args, **kwargs) -> str:
    """Run an operation that must fail; its printed output."""
    printer = engine.printer()
    with pytest.raises(auto.errors.CommandError):
        operation(*args, on_output=printer, color="never", **kwargs)
    return engine.output[-1]


def test_an_unknown_secret_in_triggers_is_refused_at_a_fresh_preview(engine, sshd):
    """The real command provider's refusal (what a hypervisor's detected virt type once caused)."""
    def program():
        first = remote.Command("first", connection=connection(sshd), create="echo detected")
        remote.Command("secret-trigger", connection=connection(sshd), create="true",
                       triggers=[pulumi.Output.secret(first.stdout)])

    out = fails(engine, engine.stack("unknown-secret", program).preview)
    assert "triggers[0]: malformed secret: missing value" in out


UNKNOWN_ELSEWHERE = {
    "a plain unknown trigger": lambda s: dict(triggers=[s.apply(str)]),
    "an unknown secret in stdin": lambda s: dict(stdin=pulumi.Output.secret(s)),
    "an unknown secret in environment": lambda s: dict(environment={"X": pulumi.Output.secret(s)}),
    "an unknown secret in a trigger's map": lambda s: dict(triggers=[{"a": pulumi.Output.secret(s)}]),
    "an unknown secret in a trigger's list": lambda s: dict(triggers=[[pulumi.Output.secret(s)]]),
}


@pytest.mark.parametrize("case", UNKNOWN_ELSEWHERE)
def test_other_unknowns_preview(engine, sshd, case):
    def program():
        first = remote.Command("first", connection=connection(sshd), create="echo detected")
        remote.Command("other", connection=connection(sshd), create="true", **UNKNOWN_ELSEWHERE[case](first.stdout))

    result = engine.stack(f"unknown-{case.replace(' ', '-').replace(chr(39), '')}", program).preview(
        on_output=engine.printer(), color="never")
    assert result.change_summary == {"create": 3}  # the stack, two commands


def test_create_update_replace_and_delete_run_what_the_provider_runs(engine, sshd):
    log = sshd.workdir / "lifecycle.log"
    spec = {"n": 1, "trigger": "a", "present": True}

    def program():
        if spec["present"]:
            n = spec["n"]
            remote.Command("step", connection=connection(sshd), triggers=[spec["trigger"]], stdin="from stdin\n",
                           create=f"echo created-{n} >> {log}; cat; echo",
                           delete=f"echo deleted-{n} >> {log}")

    stack = engine.stack("lifecycle", program)
    up = lambda: stack.up(on_output=engine.printer(), color="never").summary.resource_changes  # noqa: E731
    assert up() == {"create": 2}
    assert state(stack)["step"]["stdout"] == "from stdin\n"  # one trailing newline trimmed of two
    assert up() == {"same": 2}
    spec["n"] = 2  # a changed script: an update, which runs `create` again (no `update` given)
    assert up() == {"same": 1, "update": 1}
    spec.update(n=3, trigger="b")  # a changed trigger: a new one is created, then the old one's delete runs
    assert up() == {"same": 1, "replace": 1}
    spec["present"] = False
    assert up() == {"same": 1, "delete": 1}
    assert log.read_text().split() == ["created-1", "created-2", "created-3", "deleted-2", "deleted-3"]


def test_a_failing_command_fails_the_step_with_its_output_and_is_not_kept(engine, sshd):
    def program():
        remote.Command("failing", connection=connection(sshd), create="echo 'it broke' >&2; exit 3")

    stack = engine.stack("failing", program)
    out = fails(engine, stack.up)
    assert "Process exited with status 3" in out and "it broke" in out
    assert "failing" not in state(stack)


def test_a_host_key_other_than_the_pinned_one_is_refused(engine, sshd):
    other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIItVb8l4yjEdDFfBd4rTut+EPVeX9juj4pR6uJS5lzzj"

    def program():
        remote.Command("pinned", connection=connection(sshd, host_key=other, dial_error_limit=1), create="true")

    out = fails(engine, engine.stack("host-key", program).up)
    assert "host key mismatch" in out


def test_keystone_lookups_run_at_preview_and_known_ids_need_no_keystone(engine):
    """pulumi-openstack contacts keystone for a lookup even at preview, never for resources."""
    import pulumi_openstack as openstack

    from components.identity import UNUSED_PROVIDER_FIELDS

    lookup = {"on": True}

    def program():
        provider = openstack.Provider("keystone", auth_url="http://127.0.0.1:9/v3", user_name="admin",
                                      tenant_name="admin", password=pulumi.Output.secret("x"), region="RegionOne",
                                      user_domain_name="Default", project_domain_name="Default", insecure=False,
                                      cacert_file="", endpoint_type="public", **UNUSED_PROVIDER_FIELDS)
        opts = pulumi.ResourceOptions(provider=provider)
        user = openstack.identity.User("nova", name="nova", domain_id="default", password=pulumi.Output.secret("pw"),
                                       enabled=True, opts=opts)
        role = (openstack.identity.get_role_output(name="service", opts=pulumi.InvokeOptions(provider=provider)).id
                if lookup["on"] else "0f" * 16)
        openstack.identity.RoleAssignment("nova-service", user_id=user.id, project_id="8b" * 16, role_id=role, opts=opts)

    stack = engine.stack("keystone-lookups", program)
    assert "Error creating OpenStack identity client" in fails(engine, stack.preview)
    lookup["on"] = False
    result = stack.preview(on_output=engine.printer(), color="never")
    assert result.change_summary == {"create": 4}  # the stack, the provider, the user, the assignment
    assert json.dumps(result.change_summary)
