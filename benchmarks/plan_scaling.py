"""How the program's cost grows with the number of hypervisors (a benchmark, not a test).

    ./dev bench              # sizes 1 10 100 500, without and with migration
    ./dev bench 1 50         # other sizes

For each size it builds the `dev` stack with that many generated hypervisors, once as it is and
once with `migration` on (every hypervisor's host key pinned, as migration requires), runs the
offline plan (the real __main__.py under the mock runtime), renders what `./dev plan` writes,
and prints wall time (the program, then the rendering), resources, dependency edges, dependency
levels, critical-path length, time per resource, the sizes of plan.txt and plan.json, and the
process's peak memory. Then, per case, the ratio of the largest size's time to the smallest's
next to the ratio of their resource counts (linear cost keeps the two close) and the same for
plan.txt; and at each size what migration adds. Each size runs in its own process so one run's
runtime state (and peak memory) cannot weigh on the next. Nothing here gates on wall-clock.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import time

DEFAULT_SIZES = (1, 10, 100, 500)
CASES = ("plain", "migration")
MB = 1024 * 1024


def host_key(name: str) -> str:
    """A pinned host key for a generated hypervisor: an ed25519 public key derived from its name
    (the same at every run, and cheap)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    public = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(name.encode()).digest()).public_key()
    return public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def hypervisors(count: int, pinned: bool = False) -> list[dict]:
    # Addresses in 10.100.0.0/14, away from the dev stack's own nodes (10.20.0.x): each node needs
    # a machine of its own, and the config refuses a hypervisor on the controller's address.
    nodes = [{"name": f"cmp{i:04d}", "host": f"cmp{i:04d}.lab.example.org",
              "myIp": f"10.{100 + i // 62500}.{(i // 250) % 250}.{i % 250 + 1}", "virtType": "kvm"}
             for i in range(count)]
    if pinned:  # migration refuses a hypervisor without one
        for node in nodes:
            node["hostKey"] = host_key(node["name"])
    return nodes


def overrides(count: int, case: str) -> dict:
    if case == "migration":
        return {"hypervisors": hypervisors(count, pinned=True), "migration": {"enabled": True}}
    return {"hypervisors": hypervisors(count)}


def measure(count: int, case: str = "plain") -> dict:
    """Run one size of one case in this process and return its figures."""
    from tools.plan import plan_json, plan_text, run_program, stack_config
    from tools.plan.diff import review

    config, keys = stack_config("dev", overrides=overrides(count, case), placeholder_secrets=True)
    start = time.perf_counter()
    rec = run_program("dev", config, keys)
    elapsed = time.perf_counter() - start
    start = time.perf_counter()
    steps = review(None, rec)  # what `./dev plan` writes for a new stack (tools/plan/render.write_plan)
    text = plan_text(rec, steps)
    as_json = json.dumps(plan_json(rec, steps), indent=2, sort_keys=True) + "\n"
    rendered = time.perf_counter() - start
    levels = rec.levels()
    return {"hypervisors": count, "case": case, "seconds": elapsed, "render_seconds": rendered,
            "resources": len(rec.registrations), "edges": sum(len(r.dependencies) for r in rec.resources()),
            "levels": max(levels.values()) + 1, "critical_path": len(rec.critical_path()),
            "plan_txt_bytes": len(text.encode()), "plan_json_bytes": len(as_json.encode()),
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def row_text(row: dict) -> str:
    return (f"{row['hypervisors']:>11} {row['case']:>9} {row['seconds']:>8.2f} {row['render_seconds']:>8.2f} "
            f"{row['resources']:>9} {row['edges']:>7} {row['levels']:>6} {row['critical_path']:>8} "
            f"{1000 * row['seconds'] / row['resources']:>11.2f} {row['plan_txt_bytes'] / MB:>11.2f} "
            f"{row['plan_json_bytes'] / MB:>12.2f} {row['peak_mb']:>7.0f}")


def ratios(rows: list[dict]) -> list[str]:
    """Per case: the largest size against the smallest, in time and in plan.txt, beside the
    ratio of resources (of hypervisors for the plan); then what migration adds at each size."""
    lines = []
    for case in CASES:
        done = [r for r in rows if r["case"] == case]
        if len(done) < 2:
            continue
        first, last = done[0], done[-1]
        lines.append(
            f"{case}: time ratio {last['hypervisors']}:{first['hypervisors']} nodes = "
            f"{last['seconds'] / first['seconds']:.1f}x for {last['resources'] / first['resources']:.1f}x the resources "
            f"(per resource: {(last['seconds'] / last['resources']) / (first['seconds'] / first['resources']):.2f}x); "
            f"plan.txt {last['plan_txt_bytes'] / first['plan_txt_bytes']:.1f}x, "
            f"{last['plan_txt_bytes'] / last['hypervisors'] / 1024:.1f} KB per hypervisor at {last['hypervisors']}")
    plain = {r["hypervisors"]: r for r in rows if r["case"] == "plain"}
    for row in (r for r in rows if r["case"] == "migration" and r["hypervisors"] in plain):
        base = plain[row["hypervisors"]]
        lines.append(
            f"migration at {row['hypervisors']}: {row['seconds'] / base['seconds']:.2f}x the time, "
            f"{row['resources'] / base['resources']:.2f}x the resources, "
            f"{row['plan_txt_bytes'] / base['plan_txt_bytes']:.2f}x plan.txt, "
            f"{row['plan_json_bytes'] / base['plan_json_bytes']:.2f}x plan.json, "
            f"{row['peak_mb'] / base['peak_mb']:.2f}x the peak memory")
    return lines


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
    if argv[:1] == ["--one"]:  # one size and case, in a process of its own (below)
        print(json.dumps(measure(int(argv[1]), argv[2])))
        return 0
    sizes = sizes_argument("./dev bench", "The offline plan's cost as the number of hypervisors grows (a benchmark, "
                           "not a test); `./dev bench --engine` measures the real engine's preview.", DEFAULT_SIZES, argv)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{'hypervisors':>11} {'case':>9} {'seconds':>8} {'render s':>8} {'resources':>9} {'edges':>7} "
          f"{'levels':>6} {'critical':>8} {'ms/resource':>11} {'plan.txt MB':>11} {'plan.json MB':>12} {'peak MB':>7}")
    rows = []
    for case in CASES:
        for size in sizes:
            done = subprocess.run([sys.executable, "-m", "benchmarks.plan_scaling", "--one", str(size), case],
                                  capture_output=True, text=True, check=True)
            row = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(row_text(row), flush=True)
    for line in ratios(rows):
        print(line)
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(code)  # skip the SDK's noisy event-loop teardown (see tools/plan/__main__.py)
