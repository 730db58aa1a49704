"""How the program's cost grows with the number of hypervisors (a benchmark, not a test).

    ./dev bench              # sizes 1 10 100 500
    ./dev bench 1 50         # other sizes

For each size it builds the `dev` stack with that many generated hypervisors, runs the offline
plan (the real __main__.py under the mock runtime) and prints wall time, resources, dependency
levels, critical-path length and time per resource, then the ratio of the largest size's time to
the smallest's next to the ratio of their resource counts (linear cost keeps the two close).
Each size runs in its own process so one run's runtime state cannot slow the next.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

DEFAULT_SIZES = (1, 10, 100, 500)


def hypervisors(count: int) -> list[dict]:
    # Addresses in 10.100.0.0/14, away from the dev stack's own nodes (10.20.0.x): each node needs
    # a machine of its own, and the config refuses a hypervisor on the controller's address.
    return [{"name": f"cmp{i:04d}", "host": f"cmp{i:04d}.lab.example.org",
             "myIp": f"10.{100 + i // 62500}.{(i // 250) % 250}.{i % 250 + 1}", "virtType": "kvm"}
            for i in range(count)]


def measure(count: int) -> dict:
    """Run one size in this process and return its figures."""
    from tools.plan import run_program, stack_config

    config, keys = stack_config("dev", overrides={"hypervisors": hypervisors(count)}, placeholder_secrets=True)
    start = time.perf_counter()
    rec = run_program("dev", config, keys)
    elapsed = time.perf_counter() - start
    levels = rec.levels()
    return {"hypervisors": count, "seconds": elapsed, "resources": len(rec.registrations),
            "levels": max(levels.values()) + 1, "critical_path": len(rec.critical_path())}


def hypervisor_count(text: str) -> int:
    """argparse's `type` for a size: a whole number of hypervisors, at least 1."""
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of hypervisors (a whole number, at least 1)")
    return int(text)


def sizes_argument(prog: str, description: str, default: tuple[int, ...], argv: list[str]) -> list[int]:
    """The sizes a benchmark runs, from its command line: a bad one (or --help) ends in argparse's
    usage, exit 2 (0 for --help), before anything is measured."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("sizes", nargs="*", type=hypervisor_count, metavar="SIZE",
                        help=f"numbers of hypervisors to measure (default: {' '.join(map(str, default))})")
    return parser.parse_args(argv).sizes or list(default)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--one"]:  # one size, in a process of its own (below)
        print(json.dumps(measure(int(argv[1]))))
        return 0
    sizes = sizes_argument("./dev bench", "The offline plan's cost as the number of hypervisors grows (a benchmark, "
                           "not a test); `./dev bench --engine` measures the real engine's preview.", DEFAULT_SIZES, argv)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{'hypervisors':>11} {'seconds':>8} {'resources':>9} {'levels':>6} {'critical':>8} {'ms/resource':>11}")
    rows = []
    for size in sizes:
        done = subprocess.run([sys.executable, "-m", "benchmarks.plan_scaling", "--one", str(size)],
                              capture_output=True, text=True, check=True)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"{row['hypervisors']:>11} {row['seconds']:>8.2f} {row['resources']:>9} {row['levels']:>6} "
              f"{row['critical_path']:>8} {1000 * row['seconds'] / row['resources']:>11.2f}")
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        print(f"time ratio {last['hypervisors']}:{first['hypervisors']} nodes = {last['seconds'] / first['seconds']:.1f}x "
              f"for {last['resources'] / first['resources']:.1f}x the resources "
              f"(per resource: {(last['seconds'] / last['resources']) / (first['seconds'] / first['resources']):.2f}x)")
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(code)  # skip the SDK's noisy event-loop teardown (see tools/plan.py)
