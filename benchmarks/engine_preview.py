"""The real engine's preview of a new stack beside the offline plan, as the number of hypervisors
grows (a benchmark, not a test; it never gates anything).

    ./dev bench --engine            # sizes 1 10 100
    ./dev bench --engine 1 50       # other sizes

Each size: the `dev` stack with that many generated hypervisors (fixed virt type), the keystone
lookups given as ids (no keystone is contacted), previewed by `./dev preview`'s machinery (the
toolchain's CLI, the Automation API) with the providers of the caller's plugin cache
(PULUMI_HOME: real plugins, or the test doubles a test run installed), and by the offline plan.
Prints wall seconds, the CLI's CPU seconds and peak memory (its process tree, from rusage), and
the ratios between the two and between the largest and smallest size."""
from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.plan_scaling import hypervisors, sizes_argument
from tools.engine.workspace import EngineError, check_plugins, engine_env, preview, select, set_config, toolchain
from tools.plan import PROJECT_ROOT, run_program, stack_config

DEFAULT_SIZES = (1, 10, 100)
IDS = {"serviceProjectId": "8b" * 16, "serviceRoleId": "1a" * 16, "serviceExtraRoleIds": {"service": "0f" * 16},
       "keystoneHost": "127.0.0.1"}


def offline(count: int) -> float:
    config = stack_config("dev", overrides={**IDS, "hypervisors": hypervisors(count)}, placeholder_secrets=True)
    start = time.perf_counter()
    run_program("dev", config.values, config.secret_keys)
    return time.perf_counter() - start


def engine(count: int, env: dict) -> dict:
    config = stack_config("dev", overrides={**IDS, "hypervisors": hypervisors(count)}, placeholder_secrets=True)
    with tempfile.TemporaryDirectory() as work:
        (Path(work) / "stacks").mkdir()
        shutil.copy(PROJECT_ROOT / "Pulumi.yaml", work)
        shutil.copy(PROJECT_ROOT / "stacks" / "Pulumi.dev.yaml", Path(work) / "stacks")
        run_env = {**env, "PULUMI_BACKEND_URL": f"file://{work}/backend", "PYTHONPATH": str(PROJECT_ROOT)}
        (Path(work) / "backend").mkdir()
        st = select("dev", run_env, work_dir=Path(work))
        set_config(st, config.values, config.secret_keys)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        result = preview(st, color="never")
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"seconds": wall, "cpu": cpu, "max_rss_mb": after.ru_maxrss / 1024,
            "resources": sum(result.change_summary.values())}


def main(argv: list[str]) -> int:
    sizes = sizes_argument("./dev bench --engine", "The real engine's preview of a new stack beside the offline "
                           "plan, as the number of hypervisors grows (a benchmark, not a test).", DEFAULT_SIZES, argv)
    base = {**os.environ, "PULUMI_CONFIG_PASSPHRASE": os.environ.get("PULUMI_CONFIG_PASSPHRASE", "bench")}
    try:
        env = engine_env(base, toolchain(base))
        check_plugins(env)
    except EngineError as err:  # as `./dev preview` says it (tools/engine/__main__.py)
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{'hypervisors':>11} {'resources':>9} {'engine s':>9} {'cpu s':>7} {'peak MB':>8} {'offline s':>9} {'ratio':>6}")
    rows = []
    for size in sizes:
        row = {"hypervisors": size, **engine(size, env), "offline": offline(size)}
        rows.append(row)
        print(f"{size:>11} {row['resources']:>9} {row['seconds']:>9.1f} {row['cpu']:>7.1f} {row['max_rss_mb']:>8.0f} "
              f"{row['offline']:>9.2f} {row['seconds'] / row['offline']:>6.1f}")
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        print(f"largest/smallest: engine {last['seconds'] / first['seconds']:.1f}x, offline "
              f"{last['offline'] / first['offline']:.1f}x, resources {last['resources'] / first['resources']:.1f}x")
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
