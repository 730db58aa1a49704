"""The command line (run from the project root):

    python3 -m tools.nova_options optdata  --release 2025.1
    python3 -m tools.nova_options validate --release 2025.1 path/to/nova.conf ...

exit status: 0 valid, 1 problems found (listed on stdout), 2 the tool itself failed.  The
``_venv-*`` commands are internal: the release's private venv's python runs them.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .build import ensure_optdata
from .check import validate_file
from .optdata import postprocess
from .pins import NOVA_RELEASES, NovaOptionsError
from .strict import check_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m tools.nova_options",
        description="Validate a rendered nova.conf against nova's option definitions.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{optdata,validate}")
    p_opt = sub.add_parser("optdata", help="build (or reuse) the option data; print its path")
    p_opt.add_argument("--release", required=True, choices=sorted(NOVA_RELEASES))
    p_val = sub.add_parser("validate", help="validate nova.conf files")
    p_val.add_argument("--release", required=True, choices=sorted(NOVA_RELEASES))
    p_val.add_argument("files", nargs="+", metavar="nova.conf")
    # Internal: run by the private venv's python.
    p_post = sub.add_parser("_venv-postprocess")
    p_post.add_argument("--release", required=True)
    p_post.add_argument("--dir", required=True, type=Path)
    p_chk = sub.add_parser("_venv-check")
    p_chk.add_argument("--index", required=True, type=Path)
    p_chk.add_argument("--input-file", required=True, type=Path)
    args = parser.parse_args(argv)

    if args.command == "_venv-postprocess":
        postprocess(args.release, args.dir)
        return 0
    if args.command == "_venv-check":
        json.dump(check_file(args.index, args.input_file), sys.stdout)
        return 0

    try:
        if args.command == "optdata":
            print(ensure_optdata(args.release))
            return 0
        release = f"nova release {args.release} ({NOVA_RELEASES[args.release]})"
        failed = False
        for name in args.files:
            problems = validate_file(name, args.release)
            if problems:
                failed = True
                print(f"{name}: {len(problems)} problem(s) for {release}:")
                for line in problems:
                    print(f"  {line}")
            else:
                print(f"{name}: valid for {release}")
        return 1 if failed else 0
    except (NovaOptionsError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
