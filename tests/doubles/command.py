"""Test double of pulumi-command v1.2.1's `command:remote:Command` (provider/pkg/provider/remote/
commandController.go, common/inputs.go, over pulumi-go-provider v1.3.0's infer), a plugin the
engine runs as `pulumi-resource-command`. What it does, each from the file it comes from:
- Check applies the schema's connection defaults (ssh.py: user root, port 22, dialErrorLimit
  10, perDialTimeout 15); `connection` is always secret (`provider:"secret"`); an element of
  `triggers` (`[]any`) that is an unknown secret is refused, "triggers[0]: malformed secret:
  missing value" (its value is lost re-encoding `any`; the engine sends it with its marker:
  measured with the real plugin, which previews an unknown secret in stdin, in environment, or
  nested inside a trigger's map or list: tests/test_provider_doubles.py);
- Diff: `triggers` replaces (`provider:"replaceOnChanges"`), any other changed or unknown input
  updates (infer's default diff);
- Create: an id from the resource name and 8 random hex digits (resource.NewUniqueHex(name, 8,
  0)); at preview nothing runs and stdout/stderr are unknown; otherwise `create` runs over SSH
  (ssh.py) and stdout/stderr are captured, a failure fails the step with the command and output;
- Update: `update`, else `create`, runs again; at preview the old stdout/stderr are kept;
- Delete runs the state's `delete`, nothing when it has none; Read returns the state as it is
  (pulumi-command looks at nothing on the node: a hand-edited file is invisible to refresh).
Not modelled: streaming the commands' output to the engine's log (`logging`)."""
from __future__ import annotations

import secrets as random

from tests.doubles import ssh
from tests.doubles.server import Provider, ProviderError, Resource, serve
from tests.doubles.wire import UNKNOWN, Secret, plain, secret

TYPE = "command:remote:Command"
VERSION = "1.2.1"


def _with_defaults(conn):
    if isinstance(conn, Secret):
        return Secret(_with_defaults(conn.value))
    if not isinstance(conn, dict):
        return conn
    filled = {**ssh.DEFAULTS, **conn}
    if isinstance(filled.get("proxy"), dict):
        filled["proxy"] = {**ssh.DEFAULTS, **filled["proxy"]}
    return filled


def _run(state: dict, command: str) -> tuple[str, str]:
    try:
        return ssh.run(plain(state), command)
    except ssh.CommandError as err:
        raise ProviderError(str(err)) from None


class RemoteCommand(Resource):
    replace_on_changes = frozenset({"triggers"})
    inputs = ("connection", "environment", "triggers", "create", "delete", "update", "stdin", "logging",
              "addPreviousOutputInEnv")

    def check(self, olds: dict, news: dict) -> tuple[dict, list]:
        checked = dict(news)
        for i, trigger in enumerate(news.get("triggers") or []):
            if isinstance(trigger, Secret) and trigger.value == UNKNOWN:
                raise ProviderError(f"triggers[{i}]: malformed secret: missing value")
        if "connection" in checked:
            checked["connection"] = secret(_with_defaults(checked["connection"]))
        return checked, []

    def create(self, urn: str, news: dict, preview: bool) -> tuple[str, dict]:
        id_ = urn.rsplit("::", 1)[-1] + random.token_hex(4)
        outputs = dict(news)
        if preview:
            return id_, {**outputs, "stdout": UNKNOWN, "stderr": UNKNOWN}
        out, err = _run(news, plain(news["create"])) if news.get("create") is not None else ("", "")
        return id_, {**outputs, "stdout": out, "stderr": err}

    def update(self, id_: str, olds: dict, news: dict, preview: bool) -> dict:
        state = {**news, "stdout": olds.get("stdout", ""), "stderr": olds.get("stderr", "")}
        command = news.get("update") if news.get("update") is not None else news.get("create")
        if preview or command is None:
            return state
        out, err = _run(state, plain(command))
        return {**news, "stdout": out, "stderr": err}

    def delete(self, id_: str, state: dict) -> None:
        if state.get("delete") is not None:
            _run(state, plain(state["delete"]))


if __name__ == "__main__":
    serve(Provider("command", VERSION, {TYPE: RemoteCommand()}))
