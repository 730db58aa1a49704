"""`./dev plan <stack>`: the offline plan's command line. Exit 2 for a stack that cannot run
(the CLI's config rules, or the program's own config checks), with every problem listed."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Optional

from tools.plan.paths import PROJECT_ROOT
from components.config import ConfigError
from tools.plan.files import output_folder_problem, private_dir
from tools.plan.monitor import run_program
from tools.plan.render import PLAN_FILES, write_plan
from tools.plan.cli_rules import stack_argument
from tools.plan.stack import set_value, stack_config
from tools.plan.stack_file import StackConfigError
from tools.plan.state import STATE_FORMAT, comparison_note, load_state, save_state, snapshot

STATE_FILE = "state.json"  # the last plan, what the next plan is reviewed against
OUTPUT_FILES = (*PLAN_FILES, STATE_FILE)  # all the plan writes: a folder holding anything else is not its own


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev plan", description="Offline plan of a stack (no Pulumi CLI needed).")
    parser.add_argument("stack", type=stack_argument, help="stack name (stacks/Pulumi.<stack>.yaml)")
    parser.add_argument("--out", type=Path, help="output folder (default out/<stack>)")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="plan with a config value changed, as `pulumi config set KEY VALUE` would set it "
                             "(VALUE is text; JSON for a map or list setting)")
    parser.add_argument("--placeholder-secrets", action="store_true",
                        help="plan without the stack's secrets: each secret is a placeholder (announced)")
    parser.add_argument("--against", type=Path, metavar="DIR",
                        help="review the changes against the state kept in DIR (default: the stack's last plan)")
    args = parser.parse_args(argv)
    out = args.out or PROJECT_ROOT / "out" / args.stack
    # Checked before anything runs: the plan writes only into a folder of its own (files.py)
    problem = output_folder_problem(out, OUTPUT_FILES)
    if problem:
        print(f"error: {'--out ' if args.out else ''}{out}: {problem}; give --out a new folder, or an empty one "
              "of yours", file=sys.stderr)
        return 2
    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set {item!r}: use KEY=VALUE")
        overrides[key] = set_value(key, value)
    try:
        config = stack_config(args.stack, overrides=overrides, placeholder_secrets=args.placeholder_secrets)
        rec = run_program(args.stack, config.values, config.secret_keys)
    except StackConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ConfigError as err:
        print(f"stack {args.stack!r}: {err}", file=sys.stderr)
        return 2
    if config.placeholders:
        print(f"note: planned with placeholder values for the secrets {', '.join(config.placeholders)}", file=sys.stderr)
    kept = (args.against or out) / STATE_FILE
    try:
        old = load_state(kept)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    against = f"{kept.relative_to(PROJECT_ROOT) if kept.is_relative_to(PROJECT_ROOT) else kept} ({old['written']})" if old else None
    note = comparison_note(old, config.secrets_key)
    if old and old["format"] == 1:
        note += (f", replaced now with format {STATE_FORMAT}" if kept == out / STATE_FILE and not args.set else
                 f"; {kept} stays so until a plan without --set writes there (or delete it)")
    if note:
        print(f"note: {note}", file=sys.stderr)
        against = f"{against}; {note}"
    try:
        # out/ and out/<stack>/ are 0700 (made so, or tightened when yours), each file 0600 (tools/plan/files.py)
        private_dir(out, *([out.parent] if args.out is None else []))
        written = write_plan(rec, out, old, against, config.secrets_key)
        if args.set:  # a what-if: the kept state stays the last real plan's
            print(f"note: a what-if (--set): {kept.name} in {out} left as it was", file=sys.stderr)
        else:
            # secret digests keyed with the passphrase's key (none with placeholder secrets: tools/plan/state.py)
            save_state(out / STATE_FILE, snapshot(rec, config.secrets_key))
            written.append(out / STATE_FILE)
    except OSError as err:  # a folder made read-only, a full disk: each file is whole or absent (files.py)
        print(f"error: cannot write the plan to {out}: {err.strerror or err}; give --out another folder",
              file=sys.stderr)
        return 2
    text = (out / "plan.txt").read_text()
    print(text[text.index("Summary"):] if args.quiet else text, end="")
    print("wrote " + ", ".join(str(p.relative_to(PROJECT_ROOT) if p.is_relative_to(PROJECT_ROOT) else p) for p in written))
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: the SDK's event loops otherwise print a harmless but alarming
    # "Invalid file descriptor" traceback while being garbage-collected.
    os._exit(code)
