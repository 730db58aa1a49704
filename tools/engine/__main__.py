"""`./dev preview|up|refresh|destroy|cancel STACK [options]`: the program under the real Pulumi
engine (the CLI from tools/toolchain.sh, the program inline through the Automation API), against
the project's backend (.pulumi-state/, or PULUMI_BACKEND_URL) with passphrase secrets. The
engine's events are printed as the CLI prints them. Exit 0 on success, 1 when the engine
failed, 2 when something it needs is missing (the message names the fix)."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Optional

from tools.engine.workspace import EngineError, check_plugins, engine_env, preview, select, toolchain
from tools.plan.cli_rules import stack_argument

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
    return p


def run(args: argparse.Namespace, env: dict[str, str]) -> object:
    stack = select(args.stack, env)
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
    stack.cancel()
    return None


def main(argv: Optional[list[str]] = None) -> int:
    args = parser().parse_args(argv)
    import pulumi.automation as auto

    try:
        env = engine_env(os.environ, toolchain(os.environ))
        check_plugins(env)
        result = run(args, env)
    except EngineError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except auto.errors.CommandError as err:
        # The CLI has printed its own diagnostics through on_output; the error repeats them.
        print(f"error: pulumi {args.operation} {args.stack} failed", file=sys.stderr)
        if getattr(err, "stderr", ""):
            print(err.stderr.strip(), file=sys.stderr)
        return 1
    summary = getattr(result, "change_summary", None) or getattr(getattr(result, "summary", None), "resource_changes", None)
    if summary:
        print(f"{args.operation} {args.stack}: " + ", ".join(f"{n} {op}" for op, n in sorted(summary.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
