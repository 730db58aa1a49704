"""Drift of the files the program writes on its nodes, made visible to `pulumi refresh` and repaired
by the next `pulumi up`: a dynamic provider with one `FileWatch` per written file.

pulumi-command's Read looks at nothing on the node, so a hand-edited or deleted nova.conf is
invisible to refresh. A watch holds what its file should be (its content's sha256, owner, group,
mode) and the SSH connection of its node; it is registered before the step that writes the file,
and that step and what depends on it (restart, verify) take the watch's `generation` into their
triggers (components/node.py: `repaired`).

- create: nothing runs on the node (the write step that follows writes the file); generation 0.
- read (refresh): reads the file over SSH (components/remote_file.py) and sets `drift` to what
  differs ("" when nothing does). Refresh shows that as a change. `drift` goes into the inputs
  too, where the next check sees it.
- check: generation is the old one, one more when the last refresh found drift. It is decided
  here, in check, rather than in update, because the engine previews this provider (which does
  not implement previews) with the checked inputs as its outputs: so `pulumi preview` already
  knows the new generation, and shows the write, restart and verify it replaces.
- diff: a change when the file should now be something else (a config change: the write step
  updates, restart and verify replace on the content hash, as without watches), when the
  connection or path changed, or when drift was found (then the generation moves, and the write
  step, restart and verify are replaced: they run again).
- update: records the new expectation, drift cleared; delete: nothing (the file stays, as when
  the write step is deleted).

Pulumi pickles `FileWatchProvider` by reference, and the CLI's provider host unpickles it from
every stack's state by the path `components.file_watch.FileWatchProvider`: do not rename or move
the module or the class. Importing it has no side effect.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

import pulumi
import pulumi.dynamic
from pulumi.runtime import rpc

from components.remote_file import Observation, RemoteFileError, readable_path, observe

# What the program gives a watch; `generation` and `drift` are the provider's.
INPUT_KEYS = ("connection", "path", "expected", "owner", "group", "mode")
COMPARED = (*INPUT_KEYS, "generation")
SECRET_OUTPUTS = ("connection", "expected")  # the node's key; the hash of a file holding passwords
IN_SYNC = ""  # `drift` when the file is what it should be


def _known(value: Any) -> bool:
    return value is not None and value != rpc.UNKNOWN


def watch_input_problems(news: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key, message) for each bad input; unknown values are not checked (preview)."""
    problems = []
    if _known(news.get("path")):
        try:
            readable_path(news["path"])
        except RemoteFileError as err:
            problems.append(("path", str(err)))
    if _known(news.get("mode")) and not (isinstance(news["mode"], str) and len(news["mode"]) == 4
                                         and all(c in "01234567" for c in news["mode"])):
        problems.append(("mode", f"{news['mode']!r} is not a four-digit octal mode"))
    for key in ("owner", "group"):
        if _known(news.get(key)) and not (isinstance(news[key], str) and news[key].isprintable()
                                          and news[key] and " " not in news[key] and ":" not in news[key]):
            problems.append((key, f"{news[key]!r} is not a user or group name"))
    return problems


def generation_after(olds: Mapping[str, Any]) -> int:
    """The generation the next up gives the watch: one more when the last refresh found drift.
    `olds` are the watch's last inputs (empty for a new watch)."""
    generation = int(olds.get("generation") or 0)
    return generation + 1 if olds.get("drift") else generation


def checked_inputs(olds: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, Any]:
    return {**{key: news.get(key) for key in INPUT_KEYS}, "generation": generation_after(olds)}


def has_changes(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    """`olds`: the state (outputs), `news`: the checked inputs."""
    return bool(olds.get("drift")) or any(olds.get(key) != news.get(key) for key in COMPARED)


def recorded(props: Mapping[str, Any]) -> dict[str, Any]:
    """The state after create or update: what the write step that follows makes true."""
    return {**{key: props.get(key) for key in COMPARED}, "generation": int(props.get("generation") or 0),
            "drift": IN_SYNC}


def drift_of(expected: Mapping[str, Any], seen: Observation) -> str:
    """What differs between the file as it should be and as it is ("" when nothing), in words a
    refresh shows: never the content or its hash."""
    if seen.sha256 is None:
        return "absent"
    found = []
    if seen.sha256 != expected.get("expected"):
        found.append("content differs")
    owner, group = expected.get("owner") or "root", expected.get("group") or "root"
    if (seen.owner, seen.group) != (owner, group):
        found.append(f"owner {seen.owner}:{seen.group}, expected {owner}:{group}")
    mode = int(expected.get("mode") or "0600", 8)
    if seen.mode != mode:
        found.append(f"mode {seen.mode:04o}, expected {mode:04o}")
    return "; ".join(found)


class FileWatchProvider(pulumi.dynamic.ResourceProvider):
    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
        failures = [pulumi.dynamic.CheckFailure(key, message) for key, message in watch_input_problems(news)]
        return pulumi.dynamic.CheckResult(checked_inputs(olds, news), failures)

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        return pulumi.dynamic.CreateResult(f"file-watch:{props['path']}", recorded(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        return pulumi.dynamic.DiffResult(changes=has_changes(olds, news), replaces=[], delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        return pulumi.dynamic.UpdateResult(recorded(news))

    def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
        try:
            seen = observe(props["connection"], props["path"])
        except RemoteFileError as err:
            raise RemoteFileError(f"file watch {id_}: {err}") from None
        outs = {**recorded(props), "drift": drift_of(props, seen)}
        return pulumi.dynamic.ReadResult(id_, outs, inputs=dict(outs))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing: the watch only looks at the file."""


class FileWatch(pulumi.dynamic.Resource, module="files", name="FileWatch"):
    """Type token `pulumi-python:dynamic/files:FileWatch`."""
    generation: pulumi.Output[int]
    drift: pulumi.Output[str]

    def __init__(self, name: str, connection: pulumi.Input[dict], path: str, expected: pulumi.Input[str], *,
                 owner: str, group: str, mode: str, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        props = {"connection": pulumi.Output.secret(connection), "path": path, "expected": expected,
                 "owner": owner, "group": group, "mode": mode,
                 "generation": None, "drift": None}  # the provider's: declared so the SDK makes them Outputs
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=list(SECRET_OUTPUTS)))
        super().__init__(FileWatchProvider(), name, props, opts)
