"""What `./dev plan` prints and where it writes: a summary by default (the whole plan with
--full), progress that --quiet silences, what-ifs in folders of their own that leave the kept plan
alone, the program's warnings where tools read them, secrets from a file or standard input."""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

import tools.plan.__main__ as plan_command
import tools.plan.render as render
import tools.plan.stack as plan_stack
from tools.plan.stack import placeholder

TOKEN = "Zr8kW"  # in every secret the tests give, and nowhere else


@pytest.fixture
def project(tmp_path, monkeypatch):
    """`./dev plan` with out/ under tmp_path, the project's own stack files."""
    monkeypatch.setattr(plan_command, "PROJECT_ROOT", tmp_path)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "openstack")
    return tmp_path


def plan(capsys, *args: str) -> tuple[int, str, str]:
    code = plan_command.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_plan_prints_a_summary_and_says_where_the_whole_plan_is(project, capsys):
    code, out, err = plan(capsys, "tutorial")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "Plan of stack 'tutorial', compared with nothing: every resource is new"
    assert "+ command:remote:Command  controller-db-sync" in lines
    assert "  26 to create (0 by import), 0 to update, 0 to replace, 0 to delete, 0 unchanged" in lines
    assert lines[-2] == ("the whole plan (every resource, its inputs and scripts): out/tutorial/plan.txt; "
                         "--full prints it")
    assert lines[-1].startswith("wrote out/tutorial/plan.txt, out/tutorial/plan.json, out/tutorial/graph.dot")
    assert len(lines) < 40 and "set -eu" not in out  # no script: those are in plan.txt
    assert "set -eu" in (project / "out" / "tutorial" / "plan.txt").read_text()
    # progress, with the time each part took, on stderr
    assert "running the program of stack 'tutorial' offline (nothing is applied) ..." in err
    assert "  27 resources registered in " in err and "  reviewed and written in " in err
    full = plan(capsys, "tutorial", "--full")
    assert full[1].startswith("Offline plan of stack 'tutorial' (27 resources, nothing applied)\n")
    assert full[1].split("\nwrote ")[0] + "\n" == (project / "out" / "tutorial" / "plan.txt").read_text()


def test_quiet_silences_progress_but_not_notes_warnings_or_errors(project, capsys, monkeypatch):
    monkeypatch.setattr(render.shutil, "which", lambda name: None)  # no Graphviz
    code, out, err = plan(capsys, "prod", "--placeholder-secrets", "--set", "dbAllowedHosts=[\"%\"]")
    assert code == 0
    assert err.count("note: graph.svg not written: Graphviz' dot is not installed (apt-get install graphviz)") == 1
    quiet = plan(capsys, "prod", "--placeholder-secrets", "--set", "dbAllowedHosts=[\"%\"]", "--quiet")
    assert quiet[0] == 0 and "running the program" not in quiet[2] and "Graphviz" not in quiet[2]
    monkeypatch.setenv("NOVA_QUIET", "1")  # `./dev --quiet plan ...`
    assert plan(capsys, "prod", "--placeholder-secrets", "--set", "dbAllowedHosts=[\"%\"]")[2] == quiet[2]
    monkeypatch.delenv("NOVA_QUIET")
    assert "note: planned with placeholder values for the secrets dbAdminPassword" in quiet[2]
    assert "warning: dbAllowedHosts: '%' lets nova's database account log in from any host" in quiet[2]
    refused = plan(capsys, "prod", "--placeholder-secrets", "--set", "dbName=nova;drop", "--quiet")
    assert refused[0] == 2 and refused[2].startswith("error: stack 'prod': ") and "dbName" in refused[2]


def test_warnings_reach_both_files_in_the_shape_of_the_clis_json(project, capsys):
    code, out, err = plan(capsys, "prod", "--placeholder-secrets", "--set", "dbAllowedHosts=[\"%\"]")
    assert code == 0
    message = ("warning: dbAllowedHosts: '%' lets nova's database account log in from any host; a production "
               "stack should list its nodes' network instead, e.g. 10.0.10.%")
    folder = project / "out" / "prod" / "whatif-dbAllowedHosts"
    # pkg/backend/display/json.go: the prefix before the message, a newline after, the severity's name
    assert json.loads((folder / "plan.json").read_text())["diagnostics"] == [{"message": message + "\n",
                                                                             "severity": "warning"}]
    assert (folder / "plan.txt").read_text().splitlines()[3] == message
    assert message + "\n" in err and message in out  # on stderr as the CLI prints it, and in the summary
    clean = plan(capsys, "tutorial")
    assert "diagnostics" not in json.loads((project / "out" / "tutorial" / "plan.json").read_text())
    assert "warning:" not in clean[1] + clean[2]


def test_a_what_if_has_a_folder_of_its_own_and_says_so_in_every_file(project, capsys):
    assert plan(capsys, "dev", "--placeholder-secrets")[0] == 0
    kept = project / "out" / "dev"
    before = files_of(kept)
    code, out, err = plan(capsys, "dev", "--placeholder-secrets", "--set", 'novaConf={"DEFAULT":{"debug":true}}',
                          "--set", f"dbPassword={TOKEN}-rotated")
    assert code == 0, err
    folder = kept / "whatif-dbPassword+novaConf"
    assert files_of(kept) == {**before, **{f"whatif-dbPassword+novaConf/{name}": content
                                           for name, content in files_of(folder).items()}}
    assert sorted(files_of(folder)) == ["graph.dot", "plan.json", "plan.txt"]  # no state: the kept one stays
    said = ('what-if (--set dbPassword=[secret] --set novaConf={"DEFAULT": {"debug": true}}): not the kept plan, '
            "which stays as it was in out/dev/")
    assert out.splitlines()[:2] == ["What-if plan of stack 'dev', compared with out/dev/state.json (" +
                                    json.loads(before["state.json"])["written"] + ")", said]
    assert (folder / "plan.txt").read_text().splitlines()[:2] == [
        "What-if plan of stack 'dev' (70 resources, nothing applied)", said]
    assert json.loads((folder / "plan.json").read_text())["whatIf"] == {
        "set": {"dbPassword": "[secret]", "novaConf": {"DEFAULT": {"debug": True}}}, "keptPlan": "out/dev/"}
    assert f"labelloc=t; label={json.dumps(said)};" in (folder / "graph.dot").read_text()
    assert "5 to update" in out and "out/dev/whatif-dbPassword+novaConf/plan.txt" in out
    assert TOKEN not in out + err and all(TOKEN.encode() not in c for c in files_of(kept).values())
    # the kept plan's folder with a what-if in it is still the kept plan's: the next plan writes there
    again = plan(capsys, "dev", "--placeholder-secrets")
    assert again[0] == 0 and "69 unchanged" in again[1]


def test_a_what_if_never_writes_where_a_kept_plan_is(project, capsys):
    assert plan(capsys, "tutorial")[0] == 0
    kept = project / "out" / "tutorial"
    before = files_of(kept)
    code, out, err = plan(capsys, "tutorial", "--set", "region=Other", "--out", str(kept))
    assert code == 2 and f"--out {kept}: holds a kept plan (state.json), which a what-if leaves alone" in err
    assert files_of(kept) == before
    # a folder holding what a what-if writes and nothing else is its own: written again
    elsewhere = project / "what-if"
    assert plan(capsys, "tutorial", "--set", "region=Other", "--out", str(elsewhere))[0] == 0
    assert plan(capsys, "tutorial", "--set", "region=Third", "--out", str(elsewhere))[0] == 0
    assert "compared with out/tutorial/state.json" in (elsewhere / "plan.txt").read_text()


def test_what_if_folder_names_stay_readable_and_in_the_stack_names_characters():
    assert plan_command.folder_name(["novaConf", "openstack-nova:dbPort"]) == "whatif-dbPort+novaConf"
    assert plan_command.folder_name(["aws:region"]) == "whatif-aws.region"
    long = plan_command.folder_name([f"key{i}" for i in range(30)])
    assert len(long) == len("whatif-") + 60 and long != plan_command.folder_name([f"key{i}" for i in range(31)])
    assert plan_command.folder_name(["../x y"]) == "whatif-.._x_y"


def secrets_file(folder: Path, text: str, mode: int = 0o600) -> Path:
    path = folder / "secrets.yaml"
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_secrets_from_a_file_are_planned_as_the_stacks_and_never_shown(project, capsys):
    given = secrets_file(project, f"dbPassword: '{TOKEN}-db'\nrabbitPassword: \"{TOKEN}-rabbit\"\n")
    code, out, err = plan(capsys, "dev", "--secrets-file", str(given), "--placeholder-secrets")
    assert code == 0, err
    assert "dbPassword" not in err.split("placeholder values for the secrets ")[1].split("\n")[0]
    kept = project / "out" / "dev"
    state = json.loads((kept / "state.json").read_text())
    assert state["secret_digests"]["key"] == "secrets-file"  # dev has no passphrase key
    assert TOKEN not in out + err and all(TOKEN.encode() not in c for c in files_of(kept).values())
    again = plan(capsys, "dev", "--secrets-file", str(given), "--placeholder-secrets")
    assert "0 to update, 0 to replace, 0 to delete, 69 unchanged" in again[1]
    rotated = secrets_file(project, f"dbPassword: '{TOKEN}-db2'\nrabbitPassword: \"{TOKEN}-rabbit\"\n")
    changed = plan(capsys, "dev", "--secrets-file", str(rotated), "--placeholder-secrets")
    assert "secret inputs cannot be compared" in changed[2] and "the secrets given in a file" in changed[2]


def test_secrets_come_from_standard_input_with_a_dash(project, capsys, monkeypatch):
    assert plan(capsys, "tutorial")[0] == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(f"rabbitPassword: {TOKEN}-stdin\n"))
    code, out, err = plan(capsys, "tutorial", "--secrets-file", "-", "--set", "region=RegionOne")
    assert code == 0, err
    assert "~ command:remote:Command  controller-nova-conf  (update)" in out  # the given rabbitPassword
    assert TOKEN not in out + err


@pytest.mark.parametrize("text, mode, says", [
    ("dbPassword: x\n", 0o640, "can be read or written by others (mode 0640): chmod 600 {path}"),
    ("dbPassword: x\n", 0o604, "can be read or written by others (mode 0604)"),
    ("region: x\n", 0o600, "region is not a secret: plan it with --set region=VALUE"),
    ("nosuch: x\n", 0o600, "'nosuch' is no setting of this project (its secrets: dbAdminPassword, "),
    ("dbPassword: 123456\n", 0o600, "dbPassword: its value must be text (quote it"),
    ("dbPassword: a\ndbPassword: b\n", 0o600, "not a YAML map of KEY: value (line 2)"),
    ("- dbPassword\n", 0o600, "not a YAML map of KEY: value"),
])
def test_a_secrets_file_that_cannot_be_taken_is_refused_naming_it(project, capsys, text, mode, says):
    given = secrets_file(project, text.replace("x", f"{TOKEN}-value").replace(": a", f": {TOKEN}a"), mode)
    code, out, err = plan(capsys, "dev", "--secrets-file", str(given), "--placeholder-secrets")
    assert code == 2 and out == ""
    assert f"error: --secrets-file {given}: " + says.format(path=given) in err
    assert TOKEN not in err and not (project / "out").exists()


def test_a_secrets_file_must_be_a_file_of_ones_own(project, capsys):
    link_target = secrets_file(project, "dbPassword: x\n")
    missing = plan(capsys, "dev", "--secrets-file", str(project / "nosuch.yaml"))
    assert missing[0] == 2 and "nosuch.yaml: does not exist" in missing[2]
    folder = plan(capsys, "dev", "--secrets-file", str(project))
    assert folder[0] == 2 and "is not a regular file" in folder[2]
    if os.geteuid() == 0:  # giving a file to another user needs root
        os.chown(link_target, 65534, 65534)
        theirs = plan(capsys, "dev", "--secrets-file", str(link_target))
        assert theirs[0] == 2 and "belongs to another user: a secrets file must be your own" in theirs[2]


def test_missing_secrets_name_every_way_to_give_them(project, capsys):
    code, out, err = plan(capsys, "dev")
    assert code == 2
    assert "Stack 'dev' is missing configuration values" in err and "pulumi config set --secret dbPassword" in err
    assert ("or give the secrets in a file of yours, mode 0600, as a YAML map of KEY: value (--secrets-file FILE, "
            "or --secrets-file - to read them from standard input), or plan with --placeholder-secrets") in err


def test_placeholders_fill_only_what_the_file_does_not_give(project, capsys):
    given = secrets_file(project, f"novaPassword: {TOKEN}-nova\n")
    code, out, err = plan(capsys, "dev", "--secrets-file", str(given), "--placeholder-secrets", "--full")
    assert code == 0
    assert "novaPassword" not in err.split("placeholder values for the secrets ")[1].split("\n")[0]
    assert placeholder("dbPassword") not in out and TOKEN not in out



def test_a_large_stack_is_summed_up_per_component_not_listed(project, capsys):
    """Hundreds of changes would bury the counts: beyond 40, one line per component and operation."""
    from benchmarks.plan_scaling import hypervisors

    many = json.dumps(hypervisors(30))
    code, out, err = plan(capsys, "dev", "--placeholder-secrets", "--set", f"hypervisors={many}")
    assert code == 0, err
    lines = out.splitlines()
    # a hypervisor's 10: its 8 steps and its two files' watches (components/file_watch.py)
    assert "  30 HypervisorNode components (cmp0000 ... cmp0029): 300 to create" in lines, out
    assert "  controller: 10 to create" in lines and "  348 to create (0 by import), 0 to update, 0 to replace, " \
        "0 to delete, 0 unchanged" in lines
    assert not any(line.startswith("+ ") for line in lines) and len(lines) < 60
    assert "  running the program" not in out and "resources registered in" in err


def test_a_long_program_run_says_how_far_it_got_every_few_seconds():
    said = []
    clock = iter([101.0, 105.5, 106.0, 110.0, 111.0])
    tick = plan_command.Ticker(said.append, started=100.0, clock=clock.__next__)
    for registered in (10, 20, 30, 40, 50):
        tick(registered)
    assert said == ["  20 resources registered so far (6 s)", "  50 resources registered so far (11 s)"]

    from tools.plan import run_program, stack_config

    counts = []
    config = stack_config("tutorial", placeholder_secrets=True)
    rec = run_program("tutorial", config.values, config.secret_keys, on_registered=counts.append)
    assert counts == list(range(1, len(rec.registrations) + 1))  # told after each registration
