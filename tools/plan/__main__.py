"""`./dev plan <stack>`: the offline plan's command line. Exit 2 for a stack that cannot run
(the CLI's config rules, or the program's own config checks), with every problem listed."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Optional

from tools.plan.paths import PROJECT_ROOT
from components.config import ConfigError
from tools.plan.diff import review
from tools.plan.files import output_folder_problem, private_dir
from tools.plan.monitor import run_program
from tools.plan.render import GRAPHVIZ_MISSING, PLAN_FILES, write_plan
from tools.plan.cli_rules import stack_argument
from tools.plan.secrets_file import read_secrets
from tools.plan.stack import set_value, stack_config
from tools.plan.stack_file import StackConfigError
from tools.plan.state import (STATE_FORMAT, comparison_note, given_secrets_key, load_state, save_state,
                              snapshot)
from tools.plan.terminal import summary_text
from tools.plan.what_if import FOLDER_PREFIX, WhatIf, folder_name

STATE_FILE = "state.json"  # the last plan, what the next plan is reviewed against
OUTPUT_FILES = (*PLAN_FILES, STATE_FILE)  # all the plan writes: a folder holding anything else is not its own
SECRETS_HOW = ("give the secrets in a file of yours, mode 0600, as a YAML map of KEY: value (--secrets-file FILE, "
               "or --secrets-file - to read them from standard input), or plan with --placeholder-secrets")


def shown(path: Path) -> Path:
    return path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path


def arguments(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="./dev plan", description="Offline plan of a stack (no Pulumi CLI needed).")
    parser.add_argument("stack", type=stack_argument, help="stack name (stacks/Pulumi.<stack>.yaml)")
    parser.add_argument("--out", type=Path, help="output folder (default out/<stack>, a what-if's "
                                                 "out/<stack>/whatif-<keys>)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines: the summary, notes, warnings and errors only")
    parser.add_argument("--full", action="store_true", help="print the whole plan, not the summary")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a what-if: plan with a config value changed, as `pulumi config set KEY VALUE` would "
                             "set it (VALUE is text; JSON for a map or list setting)")
    parser.add_argument("--secrets-file", metavar="FILE",
                        help="the stack's secrets from FILE (a YAML map, mode 0600) or - (standard input)")
    parser.add_argument("--placeholder-secrets", action="store_true",
                        help="plan without the stack's secrets: each secret not given is a placeholder (announced)")
    parser.add_argument("--against", type=Path, metavar="DIR",
                        help="review the changes against the state kept in DIR (default: the stack's last plan)")
    args = parser.parse_args(argv)
    args.overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set {item!r}: use KEY=VALUE")
        args.overrides[key] = set_value(key, value)
    return args


def main(argv: Optional[list[str]] = None) -> int:
    args = arguments(argv)
    started = time.monotonic()
    # progress (with --quiet: none); notes say something about the plan itself, so they always show
    quiet = args.quiet or os.environ.get("NOVA_QUIET") == "1"  # `./dev --quiet plan ...` sets it
    say = (lambda text: None) if quiet else (lambda text: print(text, file=sys.stderr, flush=True))
    note = lambda text: print(f"note: {text}", file=sys.stderr, flush=True)  # noqa: E731
    what_if = bool(args.overrides)
    kept_folder = PROJECT_ROOT / "out" / args.stack  # the stack's kept plan, by default
    out = args.out or (kept_folder / folder_name(list(args.overrides)) if what_if else kept_folder)
    # Checked before anything runs: the plan writes only into a folder of its own (files.py), and
    # a what-if never into one that holds a kept plan's state
    if what_if and os.path.lexists(out / STATE_FILE):
        problem = f"holds a kept plan ({STATE_FILE}), which a what-if leaves alone"
    else:
        problem = output_folder_problem(out, PLAN_FILES if what_if else OUTPUT_FILES, "" if what_if else FOLDER_PREFIX)
    if problem:
        print(f"error: {'--out ' if args.out else ''}{out}: {problem}; give --out a new folder, or an empty one "
              "of yours", file=sys.stderr)
        return 2
    try:
        secrets = read_secrets(args.secrets_file) if args.secrets_file else None
        config = stack_config(args.stack, secrets, overrides=args.overrides,
                              placeholder_secrets=args.placeholder_secrets)
        say(f"running the program of stack {args.stack!r} offline (nothing is applied) ...")
        rec = run_program(args.stack, config.values, config.secret_keys,
                          on_registered=None if quiet else Ticker(say, started))
    except StackConfigError as err:
        text = str(err)
        if "is missing configuration value" in text and "--secret" in text:
            text += f"\n  or {SECRETS_HOW}"
        print(f"error: {text}", file=sys.stderr)
        return 2
    except ConfigError as err:
        print(f"error: stack {args.stack!r}: {err}", file=sys.stderr)
        return 2
    ran = time.monotonic()
    say(f"  {len(rec.registrations)} resources registered in {ran - started:.1f} s")
    if config.placeholders:
        note(f"planned with placeholder values for the secrets {', '.join(config.placeholders)}")
    # a stack without a passphrase key whose secrets came from a file: its digests are keyed with them
    secrets_key = config.secrets_key or (given_secrets_key(secrets) if secrets else None)
    kept = (args.against or (kept_folder if what_if else out)) / STATE_FILE
    try:
        old = load_state(kept)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    against = f"{shown(kept)} ({old['written']})" if old else None
    cannot_tell = comparison_note(old, secrets_key)
    if old and old["format"] == 1:
        cannot_tell += (f", replaced now with format {STATE_FORMAT}" if kept == out / STATE_FILE else
                        f"; {kept} stays so until a plan without --set writes there (or delete it)")
    if cannot_tell:
        note(cannot_tell)
        against = f"{against}; {cannot_tell}"
    described = WhatIf.of(args.overrides, config.secret_keys, f"{shown(kept_folder)}/") if what_if else None
    steps = review(old, rec, secrets_key)
    for diagnostic in rec.diagnostics:  # the program's warnings, as the CLI prints them
        print(diagnostic["message"], end="", file=sys.stderr)
    try:
        # out/ and out/<stack>/ are 0700 (made so, or tightened when yours), each file 0600 (tools/plan/files.py)
        private_dir(out, *((out.parent,) if args.out is None else ()),
                    *((out.parent.parent,) if args.out is None and what_if else ()))
        written = write_plan(rec, out, steps, old, against, described)
        if not what_if:  # a what-if leaves the kept plan and its state as they were
            # secret digests keyed with the passphrase's key (none with placeholder secrets: tools/plan/state.py)
            save_state(out / STATE_FILE, snapshot(rec, secrets_key, key_kind=_key_kind(config.secrets_key, secrets)))
            written.append(out / STATE_FILE)
    except OSError as err:  # a folder made read-only, a full disk: each file is whole or absent (files.py)
        print(f"error: cannot write the plan to {out}: {err.strerror or err}; give --out another folder",
              file=sys.stderr)
        return 2
    if not any(p.name == "graph.svg" for p in written):
        say(f"note: {GRAPHVIZ_MISSING}")
    say(f"  reviewed and written in {time.monotonic() - ran:.1f} s")
    if args.full:
        print((out / "plan.txt").read_text(), end="")
    else:
        print(summary_text(rec, steps, against, [shown(p) for p in written], described), end="")
    print("wrote " + ", ".join(str(shown(p)) for p in written))
    return 0


class Ticker:
    """A progress line every few seconds while a large stack's program runs (hundreds of
    hypervisors take a minute), so a long run never looks hung."""
    EVERY_S = 5.0

    def __init__(self, say, started: float, clock=time.monotonic):
        self.say, self.started, self.last, self.clock = say, started, started, clock

    def __call__(self, registered: int) -> None:
        now = self.clock()
        if now - self.last >= self.EVERY_S:
            self.last = now
            self.say(f"  {registered} resources registered so far ({now - self.started:.0f} s)")


def _key_kind(passphrase_key: Optional[bytes], secrets: Optional[dict]) -> str:
    return "passphrase" if passphrase_key else ("secrets-file" if secrets else "none")


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: the SDK's event loops otherwise print a harmless but alarming
    # "Invalid file descriptor" traceback while being garbage-collected.
    os._exit(code)
