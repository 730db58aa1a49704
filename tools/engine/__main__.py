"""`./dev preview|up|refresh|destroy|cancel STACK [options]`: the program under the real Pulumi
engine (the CLI from tools/toolchain.sh, the program inline through the Automation API), against
the project's backend (.pulumi-state/, or PULUMI_BACKEND_URL) with passphrase secrets. The
engine's events are printed as the CLI prints them. Exit 0 on success, 1 when the engine
failed, 2 when something it needs is missing (the message names the fix)."""
from __future__ import annotations

import argparse
import os
import re
import signal
import sys
from pathlib import Path
from typing import Optional

from lab.cloud import lab_passphrase, lab_work_dir
from tools.engine import recovery
from tools.engine.workspace import (PROJECT, EngineError, cancel, check_plugins, engine_env, pending_operations, preview,
                                    select, toolchain)
from tools.plan.cli_rules import stack_argument
from tools.plan.paths import PROJECT_ROOT

OPERATIONS = ("preview", "up", "refresh", "destroy", "cancel")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="./dev", description="Run a stack through the real Pulumi engine.")
    p.add_argument("operation", choices=OPERATIONS, help="what the engine does (as `pulumi <operation>`)")
    p.add_argument("stack", type=stack_argument, help="stack name (stacks/Pulumi.<stack>.yaml)")
    p.add_argument("--diff", action="store_true", help="show each resource's changed inputs (preview, up; refresh: what drifted)")
    p.add_argument("--replace", action="append", default=[], metavar="URN",
                   help="replace this resource even if unchanged (preview, up); repeatable")
    p.add_argument("--target", action="append", default=[], metavar="URN", help="only this resource (repeatable)")
    p.add_argument("--expect-no-changes", action="store_true", help="fail if the operation would change anything")
    p.add_argument("--skip-preview", action="store_true", help="up: skip the preview the CLI runs first")
    p.add_argument("--clear-pending-creates", action="store_true",
                   help="refresh: forget resources an interrupted run was creating (see README)")
    p.add_argument("--work-dir", type=Path, default=None, metavar="DIR",
                   help="read Pulumi.yaml and stacks/ from DIR instead of the project (the e2e tests' stack copy)")
    return p


def run(args: argparse.Namespace, stack) -> object:
    out = dict(on_output=print, color="never")
    common = dict(target=args.target or None, expect_no_changes=args.expect_no_changes or None)
    if args.operation == "preview":
        return preview(stack, diff=args.diff, replace=args.replace or None, **common, **out)
    if args.operation == "up":
        if not args.skip_preview:  # Stack.up() skips the CLI's own preview: run it as the CLI would
            preview(stack, diff=args.diff, replace=args.replace or None, **common, **out)
        return stack.up(diff=args.diff, replace=args.replace or None, **common, **out)
    if args.operation == "refresh":
        return stack.refresh(clear_pending_creates=args.clear_pending_creates or None, diff=args.diff, **common, **out)
    if args.operation == "destroy":
        return stack.destroy(target=args.target or None, **out)
    print(cancel(stack))
    return None


def _cli_failure(err: Exception) -> tuple[Optional[int], str]:
    """The CLI's exit code and stderr, from the Automation API's error (its text is the result's)."""
    code = re.search(r"^ code: (-?\d+)$", str(err), re.M)
    return (int(code[1]) if code else None), str(err).partition("\n stderr: ")[2].strip()


def main(argv: Optional[list[str]] = None) -> int:
    args = parser().parse_args(argv)
    import pulumi.automation as auto

    interrupted = []

    def on_interrupt(signum, frame) -> None:
        # Ctrl-C reaches the CLI too (the terminal signals the whole foreground group): the CLI
        # finishes the steps under way and saves the state. Python's default, KeyboardInterrupt,
        # would leave the SDK's wait and close the CLI's pipes: its next line of output would
        # kill it (SIGPIPE) mid-step, the stack locked.
        if not interrupted:
            print(recovery.INTERRUPTED, file=sys.stderr, flush=True)
        interrupted.append(signum)

    stack = None
    work_dir = lab_work_dir(args.stack, args.work_dir)
    stack_file = (work_dir or PROJECT_ROOT) / "stacks" / f"Pulumi.{args.stack}.yaml"
    if not stack_file.is_file():  # the engine would make a new, empty stack (and its file) of a typo
        known = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in stack_file.parent.glob("Pulumi.*.yaml"))
        lab_hint = " (the lab stack exists while a lab is up: `./dev lab up`)" if args.stack == "lab" else ""
        print(f"error: no stack {args.stack!r}: {stack_file} does not exist{lab_hint} (stacks: {', '.join(known)})",
              file=sys.stderr)
        return 2
    try:
        env = engine_env(lab_passphrase(args.stack, os.environ), toolchain(os.environ))
        check_plugins(env)
        held = recovery.held_locks(env["PULUMI_BACKEND_URL"], PROJECT, args.stack)
        if held and args.operation != "cancel":
            print(f"error: {held}", *recovery.lock_advice(args.stack, held), sep="\n", file=sys.stderr)
            return 1
        stack = select(args.stack, env, work_dir=work_dir)
        signal.signal(signal.SIGINT, on_interrupt)
        result = run(args, stack)
    except EngineError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except auto.errors.CommandError as err:
        # The CLI printed its progress through on_output; its errors went to stderr.
        code, stderr = _cli_failure(err)
        print(f"error: pulumi {args.operation} {args.stack} failed" + (" (interrupted)" if interrupted else ""),
              file=sys.stderr)
        if stderr:
            print(stderr, file=sys.stderr)
        held = recovery.held_locks(env["PULUMI_BACKEND_URL"], PROJECT, args.stack)
        for line in recovery.failure_advice(args.stack, stderr, code, held, lambda: pending_operations(stack)):
            print(line, file=sys.stderr)
        return 130 if interrupted else 1
    summary = getattr(result, "change_summary", None) or getattr(getattr(result, "summary", None), "resource_changes", None)
    if summary:
        print(f"{args.operation} {args.stack}: " + ", ".join(f"{n} {op}" for op, n in sorted(summary.items())))
    if args.operation in ("up", "refresh"):  # the engine only warns, and keeps them until a refresh clears them
        for line in recovery.pending_advice(args.stack, pending_operations(stack)):
            print(line, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
