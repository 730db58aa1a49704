"""The timing table of one apply: seconds per step, the wall time, the critical path (the
longest chain of steps each waiting for the one before, by their measured seconds) and what
running independent steps at once saved (sum of step seconds / wall seconds)."""
from __future__ import annotations

from typing import Any


def critical_path(steps: list[Any]) -> tuple[list[str], float]:
    """The chain of steps (create/update/replace/import; deletes run after them) whose seconds add
    up to the most, following each step's dependencies among the steps that ran."""
    ran = {s.name: s for s in steps if not s.op.startswith("delete")}
    memo: dict[str, tuple[float, list[str]]] = {}

    def longest(name: str) -> tuple[float, list[str]]:
        if name not in memo:
            before = max((longest(d) for d in ran[name].dependencies if d in ran), default=(0.0, []))
            memo[name] = (before[0] + ran[name].seconds, before[1] + [name])
        return memo[name]

    seconds, path = max((longest(name) for name in ran), default=(0.0, []))
    return path, seconds


def table(applied: Any) -> str:
    steps = applied.steps
    width = max((len(s.name) for s in steps), default=4)
    lines = [f"e2e engine, {applied.label} (parallel {applied.parallel}):",
             f"  {'step':<{width}}  {'op':<15} {'start s':>8} {'seconds':>8}"]
    lines += [f"  {s.name:<{width}}  {s.op:<15} {s.started:>8.1f} {s.seconds:>8.1f}" for s in steps]
    total = sum(s.seconds for s in steps)
    path, path_seconds = critical_path(steps)
    speedup = total / applied.wall if applied.wall > 0 else 1.0
    lines += [f"  steps: {len(steps)}; sum of step times {total:.1f} s; wall time {applied.wall:.1f} s; "
              f"speed-up from running independent steps at once {speedup:.2f}x",
              f"  critical path ({path_seconds:.1f} s): " + (" -> ".join(
                  f"{name} ({next(s.seconds for s in steps if s.name == name):.1f})" for name in path) or "none")]
    return "\n".join(lines)
