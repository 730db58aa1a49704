"""The Pulumi CLI's stack-config rules as `./dev plan` applies them, for every stack file, and the
passphrase secrets provider the stack files' `secure:` values use."""
from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import tools.plan.__main__ as plan_command
import tools.plan.stack as plan_stack
from tests.stack_files import encrypt_value, new_encryption_salt, stack_config
from tools.engine.workspace import EngineError, engine_env
from tools.plan import PROJECT_ROOT, StackConfigError
from tools.plan.cli_rules import cli_rule_errors
from tools.plan.secure_values import decrypt_value, passphrase_key
from tools.plan.stack import known_stacks, read_stack_file

REQUIRED_SECRETS = ("dbAdminPassword", "dbPassword", "keystoneAdminPassword", "neutronPassword", "novaPassword",
                    "rabbitPassword")


def stack_file_config(stack: str) -> dict:
    return read_stack_file(stack).get("config") or {}


@pytest.mark.parametrize("stack", known_stacks())
def test_every_stack_file_passes_the_cli_rules_once_its_secrets_are_set(stack):
    config = stack_file_config(stack)
    errors = cli_rule_errors(stack, config)
    set_secrets = {k.rpartition(":")[2] for k, v in config.items() if isinstance(v, dict) and "secure" in v}
    missing = [k for k in REQUIRED_SECRETS if k not in set_secrets]
    if missing:  # the only keys a user must set are the required secrets
        assert errors[0] == f"Stack '{stack}' is missing configuration values " + ", ".join(
            f"'{k}'" for k in missing[:-1]) + f" and '{missing[-1]}'"
        assert errors[2:] == [f"    pulumi config set --secret {k} <value>" for k in missing]
    else:
        assert errors == []
    secrets = {k: f"value-of-{k}" for k in missing}
    assert cli_rule_errors(stack, {**config, **{k: {"secure": "v1:x:y"} for k in secrets}}) == []


def test_the_tutorial_stack_runs_as_committed():
    assert stack_file_config("tutorial") and cli_rule_errors("tutorial", stack_file_config("tutorial")) == []
    config = stack_config("tutorial", passphrase="openstack")
    assert config.placeholders == []
    assert config.values["openstack-nova:novaPassword"] == "openstack"
    assert "openstack-nova:novaPassword" in config.secret_keys


def test_one_missing_key_is_named_in_the_singular():
    config = {k: {"secure": "v1:x:y"} for k in REQUIRED_SECRETS[1:]}
    config.update({"openstack-nova:dbHost": "db", "openstack-nova:keystoneHost": "ks"})
    assert cli_rule_errors("lab", config) == [
        "Stack 'lab' is missing configuration value 'dbAdminPassword'", "  set it with:",
        "    pulumi config set --secret dbAdminPassword <value>"]


def test_a_plain_value_for_a_secret_key_is_refused():
    config = {**stack_file_config("tutorial"), "openstack-nova:dbPassword": "openstack"}
    assert cli_rule_errors("tutorial", config) == [
        "Stack 'tutorial' with configuration key 'dbPassword' must be encrypted as it's secret"]


@pytest.mark.parametrize("key, value, type_name", [
    ("dbPort", "22.9", "integer"), ("dbPort", 22.9, "integer"), ("production", "yes please", "boolean"),
    ("dbAllowedHosts", "%", "array<string>"), ("dbAllowedHosts", [{"host": "%"}], "array<string>"),
    ("dbHost", {"name": "db"}, "string"),
])
def test_a_value_of_the_wrong_type_is_refused(key, value, type_name):
    config = {**stack_file_config("tutorial"), f"openstack-nova:{key}": value}
    assert cli_rule_errors("tutorial", config) == [
        f"Stack 'tutorial' with configuration key '{key}' must be of type '{type_name}'"]


def test_secure_values_round_trip_and_a_wrong_passphrase_is_refused(tmp_path, monkeypatch):
    salt, key = new_encryption_salt("correct horse")
    path = tmp_path / "Pulumi.lab.yaml"
    document = {"encryptionsalt": salt, "config": {"openstack-nova:novaPassword": {"secure": encrypt_value(key, "s3cr3t'$(id)")}}}
    path.write_text(yaml.safe_dump(document))
    assert decrypt_value(passphrase_key("lab", document, "correct horse"), document["config"]["openstack-nova:novaPassword"]["secure"]) == "s3cr3t'$(id)"
    with pytest.raises(StackConfigError, match="stack 'lab': incorrect passphrase"):
        passphrase_key("lab", document, "wrong")
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    with pytest.raises(StackConfigError, match="set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE"):
        stack_config("lab", path=path, cli_rules=False)
    (tmp_path / "phrase").write_text("correct horse\n")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE_FILE", str(tmp_path / "phrase"))
    assert stack_config("lab", path=path, cli_rules=False).values["openstack-nova:novaPassword"] == "s3cr3t'$(id)"


def _binary_passphrase_stack(tmp_path, passphrase: bytes) -> Path:
    """A stack file whose novaPassword is encrypted as the CLI encrypts it under `passphrase`, bytes
    as they are (Go strings are bytes): the key is PBKDF2 of those bytes, computed here directly."""
    salt = os.urandom(8)
    key = hashlib.pbkdf2_hmac("sha256", passphrase, salt, 1_000_000, 32)
    document = {"encryptionsalt": f"v1:{base64.b64encode(salt).decode()}:{encrypt_value(key, 'pulumi')}",
                "config": {"openstack-nova:novaPassword": {"secure": encrypt_value(key, "s3cr3t")}}}
    path = tmp_path / "Pulumi.lab.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_a_passphrase_file_is_read_as_the_cli_reads_it(tmp_path, monkeypatch):
    """Byte for byte, white space around it trimmed (Go's strings.TrimSpace): a file that is not
    UTF-8 (it raised UnicodeDecodeError, showing its first byte) or that ends in a space works as
    it does with `pulumi`; another binary file is an incorrect passphrase, and shows no byte."""
    passphrase = b"\xff\x01bin\xfepass phrase"
    path = _binary_passphrase_stack(tmp_path, passphrase)
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    phrase_file = tmp_path / "phrase"
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE_FILE", str(phrase_file))
    phrase_file.write_bytes(b" \t" + passphrase + " \u3000\r\n".encode())
    assert stack_config("lab", path=path, cli_rules=False).values["openstack-nova:novaPassword"] == "s3cr3t"
    phrase_file.write_bytes(b"\xffwrong\n")
    with pytest.raises(StackConfigError) as err:
        stack_config("lab", path=path, cli_rules=False)
    assert str(err.value) == "stack 'lab': incorrect passphrase"


@pytest.mark.parametrize("make, says", [
    (lambda phrase: None, "does not exist"),
    (lambda phrase: phrase.mkdir(), "is a folder, not a file"),
])
def test_a_passphrase_file_that_cannot_be_read_is_named_with_the_fix(tmp_path, make, says):
    phrase = tmp_path / "phrase"
    make(phrase)
    env = {k: v for k, v in os.environ.items() if k != "PULUMI_CONFIG_PASSPHRASE"}
    done = plan("tutorial", "--quiet", "--out", str(tmp_path / "out"), env={**env, "PULUMI_CONFIG_PASSPHRASE_FILE": str(phrase)})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr == (f"error: PULUMI_CONFIG_PASSPHRASE_FILE: {phrase} {says}; point it at the file that holds "
                           "the stacks' passphrase, or set PULUMI_CONFIG_PASSPHRASE\n")
    assert not (tmp_path / "out").exists()
    with pytest.raises(EngineError, match=re.escape(f"PULUMI_CONFIG_PASSPHRASE_FILE: {phrase} {says}; ")):
        engine_env({"PULUMI_BACKEND_URL": f"file://{tmp_path}", "PULUMI_CONFIG_PASSPHRASE_FILE": str(phrase)}, tmp_path)


@pytest.mark.parametrize("stored, kind", [(987654, "a number"), (None, "empty (null)"), ([987654], "a list"),
                                          (True, "true/false"), ({"v": 987654}, "a map")])
def test_a_secure_value_that_is_not_ciphertext_is_refused_and_never_shown(tmp_path, monkeypatch, capsys, stored, kind):
    """`secure: 123` (or null, a list...) raised AttributeError: 'int' object has no attribute 'split'."""
    document = yaml.safe_load((PROJECT_ROOT / "stacks" / "Pulumi.tutorial.yaml").read_text())
    document["config"]["openstack-nova:dbPassword"] = {"secure": stored}
    document["config"]["openstack-nova:rabbitPassword"]["note"] = 987654
    (tmp_path / "Pulumi.lab.yaml").write_text(yaml.safe_dump(document))
    monkeypatch.setattr(plan_stack, "STACKS_DIR", tmp_path)
    assert plan_command.main(["lab", "--quiet", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    path = tmp_path / "Pulumi.lab.yaml"
    assert err.splitlines() == [
        f"error: {path}: openstack-nova:dbPassword: `secure:` must be the encrypted text (v1:...) the CLI writes, not "
        f"{kind}; set it again with `pulumi config set --secret dbPassword` (the value on its stdin)",
        f"{path}: openstack-nova:rabbitPassword: `secure:` shares its map with other keys (note, secure); set it "
        "again with `pulumi config set --secret rabbitPassword` (the value on its stdin)"]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content, message", [
    (b"config:\n  openstack-nova:dbHost: [db\n", "is not valid YAML at line 3, column 1: expected ',' or ']'"),
    (b"- config\n", "must be a map with a `config:` key, not a list"),
    (b"config:\n  - openstack-nova:dbHost\n", "`config:` must be a map of keys to values, not a list"),
    (b"config:\n  openstack-nova:dbHost: db-n\xf6de\n", "is not UTF-8 text"),
])
def test_a_malformed_stack_file_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "Pulumi.broken.yaml"
    path.write_bytes(content)
    with pytest.raises(StackConfigError, match=re.escape(message)):
        read_stack_file("broken", path)


def plan(*args, env=None):
    return subprocess.run([sys.executable, "-m", "tools.plan", *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=300, env=env)


def test_plan_refuses_a_stack_missing_secrets_and_says_how_to_set_them(tmp_path):
    done = plan("dev", "--out", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.startswith("error: Stack 'dev' is missing configuration values 'dbAdminPassword', 'dbPassword', ")
    assert "    pulumi config set --secret rabbitPassword <value>\n" in done.stderr
    assert not (tmp_path / "plan.txt").exists()


def test_plan_with_placeholder_secrets_says_so(tmp_path):
    done = plan("dev", "--out", str(tmp_path), "--quiet", "--placeholder-secrets")
    assert done.returncode == 0, done.stderr
    assert "note: planned with placeholder values for the secrets dbAdminPassword, dbPassword," in done.stderr
    assert "offline-plan-placeholder" not in (tmp_path / "plan.txt").read_text()


def test_plan_of_an_unknown_stack_exits_2():
    done = plan("nosuch")
    assert done.returncode == 2
    assert "no stack 'nosuch'" in done.stderr and f"stacks: {', '.join(known_stacks())}" in done.stderr
    assert {"dev", "e2e", "prod", "tutorial", "zed"} <= set(known_stacks())
