"""components/node.py's steps, for every command the program registers: the pinned host key
(and the jump host's), no previous output sent back, and secrets on stdin only, never in a
command's text (which a failing command's error quotes)."""
from __future__ import annotations

from tests.support import record, sentinel_secrets
from tools.plan import PROJECT_ROOT, unwrap

COMMAND = "command:remote:Command"


def test_every_command_pins_the_host_key_and_sends_no_previous_output():
    rec = record("prod", secrets=sentinel_secrets())
    keys = yaml_stack("prod")
    node_keys = {keys["controller"]["hostKey"]} | {h["hostKey"] for h in keys["hypervisors"]}
    for cmd in rec.of_type(COMMAND):
        assert cmd.inputs["addPreviousOutputInEnv"] is False, cmd.name
        connection = unwrap(cmd.raw_inputs)["connection"]
        assert connection["hostKey"] in node_keys, cmd.name
        assert connection["proxy"]["hostKey"] == keys["controller"]["jumpHostKey"], cmd.name
    controller = unwrap(rec.by_name("controller-packages").raw_inputs)["connection"]
    assert controller["hostKey"] == keys["controller"]["hostKey"]
    cmp_a2 = unwrap(rec.by_name("cmp-a2-packages").raw_inputs)["connection"]
    assert cmp_a2["hostKey"] == keys["hypervisors"][1]["hostKey"] != controller["hostKey"]


def yaml_stack(stack: str) -> dict:
    import yaml

    config = yaml.safe_load((PROJECT_ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {k.rpartition(":")[2]: v for k, v in config.items()}


def test_no_secret_reaches_a_command_line_or_a_failing_commands_error():
    """The provider's error for a failing command quotes the command and its output: secrets
    travel on stdin only, and no step script prints its stdin."""
    rec = record("dev", secrets=sentinel_secrets())
    for cmd in rec.of_type(COMMAND):
        wire = unwrap(cmd.raw_inputs)
        for field in ("create", "delete", "update"):
            assert "Sentinel" not in str(wire.get(field, "")), (cmd.name, field)
        if "Sentinel" in str(wire.get("stdin", "")):
            assert "cat > \"$tmp\"" in wire["create"] and "stdin" in cmd.secret_inputs, cmd.name
