"""What a run of the program registered: resources (with their wire inputs) and invokes, and
the graph queries the plan and the tests ask of them (dependencies, levels, critical path)."""
from __future__ import annotations

from dataclasses import dataclass, field

STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    protect: bool
    additional_secret_outputs: list[str]
    replace_on_changes: list[str]
    import_id: str
    provider: str
    raw_inputs: dict  # as on the wire (secrets wrapped)
    inputs: dict = field(default_factory=dict)  # masked
    secret_inputs: list[str] = field(default_factory=list)
    outputs: dict = field(default_factory=dict)  # component outputs (masked)
    aliases: list[str] = field(default_factory=list)  # earlier URNs of this resource (its and its parents' aliases)
    legacy_urn: str = ""  # its URN in the SDK mock monitor's scheme (states this tool kept before)


@dataclass
class Invocation:
    token: str
    args: dict


@dataclass
class Recording:
    stack: str
    registrations: dict[str, Registration]
    invocations: list[Invocation]
    outputs: dict
    config: dict = field(default_factory=dict)  # the stack's config as the program got it, secrets masked
    diagnostics: list[dict] = field(default_factory=list)  # its warnings and errors, as `preview --json`'s

    # -- queries used by the plan and the tests ----------------------------------------------
    def resources(self) -> list[Registration]:
        return sorted(self.registrations.values(), key=lambda r: r.urn)

    def by_name(self, name: str) -> Registration:
        found = [r for r in self.registrations.values() if r.name == name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources named {name!r}: {[r.urn for r in found]}")
        return found[0]

    def of_type(self, type_: str) -> list[Registration]:
        return sorted((r for r in self.registrations.values() if r.type == type_), key=lambda r: r.name)

    def children(self, urn: str) -> list[Registration]:
        return sorted((r for r in self.registrations.values() if r.parent == urn), key=lambda r: r.name)

    def depends(self, dependent: str, dependency: str) -> bool:
        """Does resource `dependent` (by name) wait for `dependency` (by name), directly?"""
        return self.by_name(dependency).urn in self.by_name(dependent).dependencies

    def waits_for(self, dependent: str, dependency: str) -> bool:
        """Transitively."""
        target = self.by_name(dependency).urn
        seen, todo = set(), [self.by_name(dependent).urn]
        while todo:
            urn = todo.pop()
            for dep in self.registrations[urn].dependencies if urn in self.registrations else ():
                if dep == target:
                    return True
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return False

    def levels(self) -> dict[str, int]:
        """Level of each custom resource: 0 when it waits for nothing, else 1 + its deepest
        dependency. Resources on one level can run in parallel."""
        custom = {r.urn: r for r in self.registrations.values() if r.custom}
        memo: dict[str, int] = {}

        def level(urn: str, trail: frozenset = frozenset()) -> int:
            if urn in memo:
                return memo[urn]
            if urn in trail:
                raise RuntimeError(f"dependency cycle through {urn}")
            deps = [d for d in custom[urn].dependencies if d in custom]
            memo[urn] = 1 + max((level(d, trail | {urn}) for d in deps), default=-1)
            return memo[urn]

        for urn in custom:
            level(urn)
        return memo

    def critical_path(self) -> list[str]:
        levels = self.levels()
        if not levels:
            return []
        urn = max(levels, key=lambda u: (levels[u], u))
        path = [urn]
        while levels[urn] > 0:
            deps = [d for d in self.registrations[urn].dependencies if d in levels]
            urn = max(deps, key=lambda u: (levels[u], u))
            path.append(urn)
        return list(reversed(path))

