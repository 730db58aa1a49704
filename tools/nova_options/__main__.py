"""The command line (run from the project root):

    python3 -m tools.nova_options optdata  [--project nova|placement] --release 2025.1
    python3 -m tools.nova_options validate [--project nova|placement] --release 2025.1 FILE ...

--project names whose option definitions check the files: nova's (the default) for nova.conf,
placement's for placement.conf.  exit status: 0 valid, 1 problems found (listed on stdout), 2 the
tool itself failed (an unknown release of that project included).  The ``_venv-*`` commands are
internal: the private venv's python runs them.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .build import ensure_optdata
from .check import validate_file
from .optdata import postprocess
from .pins import DEFAULT_PROJECT, PROJECTS, REQUIREMENTS, NovaOptionsError, check_release
from .strict import check_file

_RELEASES = sorted({release for known in REQUIREMENTS.values() for release in known})


def _target_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", choices=PROJECTS, default=DEFAULT_PROJECT,
                        help=f"whose options to check against (default: {DEFAULT_PROJECT})")
    parser.add_argument("--release", required=True, choices=_RELEASES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m tools.nova_options",
        description="Validate a rendered nova.conf (or placement.conf) against the project's "
                    "option definitions.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{optdata,validate}")
    p_opt = sub.add_parser("optdata", help="build (or reuse) the option data; print its path")
    _target_arguments(p_opt)
    p_val = sub.add_parser("validate", help="validate nova.conf (or placement.conf) files")
    _target_arguments(p_val)
    p_val.add_argument("files", nargs="+", metavar="FILE")
    # Internal: run by the private venv's python.
    p_post = sub.add_parser("_venv-postprocess")
    p_post.add_argument("--project", default=DEFAULT_PROJECT)
    p_post.add_argument("--release", required=True)
    p_post.add_argument("--dir", required=True, type=Path)
    p_chk = sub.add_parser("_venv-check")
    p_chk.add_argument("--index", required=True, type=Path)
    p_chk.add_argument("--input-file", required=True, type=Path)
    args = parser.parse_args(argv)

    if args.command == "_venv-postprocess":
        postprocess(args.release, args.dir, args.project)
        return 0
    if args.command == "_venv-check":
        json.dump(check_file(args.index, args.input_file), sys.stdout)
        return 0

    try:
        check_release(args.release, args.project)
        if args.command == "optdata":
            print(ensure_optdata(args.release, project=args.project))
            return 0
        what = f"{args.project} release {args.release} ({REQUIREMENTS[args.project][args.release]})"
        failed = False
        for name in args.files:
            problems = validate_file(name, args.release, project=args.project)
            if problems:
                failed = True
                print(f"{name}: {len(problems)} problem(s) for {what}:")
                for line in problems:
                    print(f"  {line}")
            else:
                print(f"{name}: valid for {what}")
        return 1 if failed else 0
    except (NovaOptionsError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
