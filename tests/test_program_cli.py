"""The program's edges with its users: bad config, the offline plan command, adoption of
hand-made objects, secrets in logs, stack outputs (the steps' SSH host keys and secrets on the
wire: test_node.py)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from components.config import ConfigError
from tests.support import record, sentinel_secrets
from tools.plan import PROJECT_ROOT, plan_json, plan_text


def test_bad_config_registers_nothing():
    with pytest.raises(ConfigError) as err:
        record("tutorial", cli_rules=False, dbUser="nova'; DROP USER root; --", dbPort="x")
    assert any(p.startswith("dbUser:") for p in err.value.problems)
    assert any(p.startswith("dbPort:") for p in err.value.problems)


def test_offline_plan_command(tmp_path):
    out = tmp_path / "plan"
    done = subprocess.run([sys.executable, "-m", "tools.plan", "tutorial", "--out", str(out), "--quiet"],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "critical path (7 steps): controller-preflight -> controller-packages" in done.stdout
    plan = json.loads((out / "plan.json").read_text())
    step = next(s for s in plan["steps"] if s["urn"].endswith("::controller-db-sync"))
    assert step["op"] == "create" and step["newState"]["type"] == "command:remote:Command"
    assert any(d.endswith("::nova-db-mysql") for d in step["newState"]["dependencies"])
    assert step["newState"]["parent"].endswith("::controller")
    text = (out / "plan.txt").read_text()
    assert "connection = mysql+pymysql://nova:[secret]@db-node/nova" in text
    assert '"controller-db-sync" -> "controller-restart";' in (out / "graph.dot").read_text()


def test_offline_plan_reports_bad_config_and_fails(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "tools.plan", "tutorial", "--out", str(tmp_path),
         "--set", "dbName=nova;drop", "--set", "endpointInterfaces=[\"pub\"]"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "2 problem(s) in the stack configuration" in done.stderr
    assert "dbName: 'nova;drop' is not a plain SQL identifier" in done.stderr
    assert "endpointInterfaces[0]: 'pub' is not a keystone interface" in done.stderr
    assert not (tmp_path / "plan.json").exists()


def dev(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(PROJECT_ROOT / "dev"), *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("command, usage", [(("bench",), "usage: ./dev bench [-h] [SIZE ...]"),
                                            (("bench", "--engine"), "usage: ./dev bench --engine [-h] [SIZE ...]")])
def test_dev_bench_answers_help_and_refuses_a_size_that_is_no_number(command, usage):
    """The benchmark's own --help, after a size (right after `bench`, --help is dev's: tests/test_dev_cli.py)."""
    helped = dev(*command, "3", "--help")
    assert helped.returncode == 0 and helped.stdout.startswith(usage) and "Traceback" not in helped.stderr
    done = dev(*command, "ten")
    assert done.returncode == 2 and "argument SIZE: 'ten' is not a number of hypervisors" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_engine_commands_refuse_a_stack_name_that_leaves_its_folders():
    """The name reaches the backend and stacks/Pulumi.<stack>.yaml: the CLI's rule, without '..'."""
    done = subprocess.run([sys.executable, "-m", "tools.engine", "preview", "x/../../victim/evil"], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "argument stack: stack name 'x/../../victim/evil' has '/' at position 1; a stack name is 1 to 100" in done.stderr


def test_adopting_hand_made_identity_objects_imports_them():
    ids = {"user": "bb15f195eb49467fa595eda60e2635d2", "service": "fedb8e01d4964d59b15d386aed3eb681",
           "endpoints": {"public": "13baaaf28887442699d68b3d8f3faca5", "internal": "0b5c9c11af9e4b67a9fb9d1fa6b311f6",
                         "admin": "ebf975bf15d04cf4bc55cf54bab6c022"}}
    rec = record("tutorial", adoptIds=ids)
    assert rec.by_name("nova-identity-user").import_id == ids["user"]
    assert rec.by_name("nova-identity-service").import_id == ids["service"]
    for iface, ident in ids["endpoints"].items():
        assert rec.by_name(f"nova-identity-endpoint-{iface}").import_id == ident
    assert rec.by_name("nova-identity-admin-on-service").import_id == ""  # created: the seed's role add
    assert "import: bb15f195eb49467fa595eda60e2635d2" in plan_text(rec)
    assert record("tutorial").by_name("nova-identity-user").import_id == ""


def test_adopt_ids_are_checked():
    with pytest.raises(ConfigError) as err:
        record("tutorial", adoptIds={"user": "x'; drop", "endpoints": {"pubic": "abc"}, "project": "p"})
    problems = err.value.problems
    assert "adoptIds.project: is not adoptable; use user, service and endpoints.<interface>" in problems
    assert "adoptIds.endpoints.pubic: names an interface not listed in endpointInterfaces" in problems
    assert any(p.startswith("adoptIds.user: \"x'; drop\" is not a keystone id") for p in problems)


def test_no_secret_in_logs_or_console(caplog, capsys):
    caplog.set_level("DEBUG")
    secrets = sentinel_secrets()
    rec = record("dev", secrets=secrets)
    with pytest.raises(ConfigError) as err:
        record("dev", secrets=secrets, cli_rules=False, dbPort="not a port")
    captured = capsys.readouterr()
    texts = [caplog.text, captured.out, captured.err, str(err.value), plan_text(rec), json.dumps(plan_json(rec))]
    assert all("Sentinel" not in t for t in texts)


def test_stack_exports_are_the_stack_resources_outputs():
    rec = record("tutorial")
    stack_step = next(s for s in plan_json(rec)["steps"] if s["newState"]["type"] == "pulumi:pulumi:Stack")
    outputs = stack_step["newState"]["outputs"]
    assert outputs["release"] == "liberty" and outputs["databases"] == ["nova"]
    assert outputs["dashboard_url"] == "http://10.0.0.6/horizon/"
    assert outputs["nova_conf_sha256"] == "[secret]"
    assert "outputs" not in plan_json(rec)
    assert "Outputs\n  compute_endpoints:" in plan_text(rec)
