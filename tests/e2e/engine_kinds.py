"""The providers the e2e engine drives, one apply at a time, behind one small interface per
resource type (what the engine asks of a provider plugin):

    check(new, old) -> (checked inputs, failures)     diff(new, old) -> None | (changed, replaces)
    create(new) -> (id, outputs)   read(new, id) -> (inputs, outputs)   update(new, old, changed)
    delete(old)

`new`/`old` are engine.State; None from diff means the provider has no diff of its own and the
engine compares state and inputs itself.
"""
from __future__ import annotations

import secrets
import threading
from typing import Any, Optional

from tests.doubles import ssh as remote_command
from tests.doubles.keystone import KINDS as IDENTITY_TYPES, ROLE_ASSIGNMENT, IdentityProvider
from provider_host import DynamicProvider, ProviderHost
from tools.plan.diff import COMMAND

DATABASE = "pulumi-python:dynamic/mysql:ServiceDatabase"
OPENSTACK = "pulumi:providers:openstack"


class CommandProvider:
    """pulumi-command's remote.Command (commandController.go; tests/doubles/ssh.py runs it)."""

    @staticmethod
    def check(new: Any, _old: Any) -> tuple[dict, list]:
        return remote_command.check(new.inputs), []

    @staticmethod
    def diff(_new: Any, _old: Any) -> None:
        return None

    @staticmethod
    def create(new: Any) -> tuple[str, dict]:
        ident = new.name + secrets.token_hex(4)  # resource.NewUniqueHex(name, 8, 0)
        if new.inputs.get("create") is None:
            return ident, dict(new.inputs)
        out, err = remote_command.run(new.inputs, new.inputs["create"])
        return ident, {**new.inputs, "stdout": out, "stderr": err}

    @staticmethod
    def read(_new: Any, _id: str) -> tuple[dict, dict]:
        raise NotImplementedError("remote.Command cannot be imported")

    @staticmethod
    def update(new: Any, old: Any, _changed: list[str]) -> dict:
        state = {**new.inputs, "stdout": old.outputs.get("stdout", ""), "stderr": old.outputs.get("stderr", "")}
        command = new.inputs.get("update") or new.inputs.get("create")
        if command is None:
            return state
        out, err = remote_command.run(state, command)
        return {**new.inputs, "stdout": out, "stderr": err}

    @staticmethod
    def delete(old: Any) -> None:
        if old.outputs.get("delete"):
            remote_command.run(old.outputs, old.outputs["delete"])


class DatabaseProvider:
    """The ServiceDatabase through `python -m pulumi.dynamic`, started on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._host: Optional[ProviderHost] = None
        self._client: Optional[DynamicProvider] = None

    def _provider(self) -> DynamicProvider:
        with self._lock:
            if self._client is None:
                self._host = ProviderHost()
                self._client = DynamicProvider(self._host)
            return self._client

    def check(self, new: Any, old: Any) -> tuple[dict, list]:
        return self._provider().check(new.urn, old.inputs if old else None, new.inputs)

    def diff(self, new: Any, old: Any) -> tuple[bool, list[str]]:
        return self._provider().diff(new.urn, old.id, old.outputs, old.inputs, new.inputs)

    def create(self, new: Any) -> tuple[str, dict]:
        return self._provider().create(new.urn, new.inputs)

    def read(self, _new: Any, _id: str) -> tuple[dict, dict]:
        raise NotImplementedError("importing a ServiceDatabase is not modelled (creating over one adopts it)")

    def update(self, new: Any, old: Any, _changed: list[str]) -> dict:
        return self._provider().update(new.urn, old.id, old.outputs, old.inputs, new.inputs)

    def delete(self, old: Any) -> None:
        self._provider().delete(old.urn, old.id, old.outputs, old.inputs)

    def close(self) -> bytes:
        return self._host.stop() if self._host else b""


class ProviderResource:
    """A `pulumi:providers:*` resource: its inputs configure the plugin; it creates nothing."""

    @staticmethod
    def check(new: Any, _old: Any) -> tuple[dict, list]:
        return dict(new.inputs), []

    @staticmethod
    def diff(_new: Any, _old: Any) -> None:
        return None

    @staticmethod
    def create(new: Any) -> tuple[str, dict]:
        return secrets.token_hex(16), dict(new.inputs)

    @staticmethod
    def read(_new: Any, _id: str) -> tuple[dict, dict]:
        raise NotImplementedError("a provider is not imported")

    @staticmethod
    def update(new: Any, _old: Any, _changed: list[str]) -> dict:
        return dict(new.inputs)

    @staticmethod
    def delete(_old: Any) -> None:
        return None


class IdentityResources:
    """openstack:identity/* through the provider each resource names (tests/doubles/keystone.py)."""

    def __init__(self, kinds: "Kinds") -> None:
        self.kinds = kinds

    def check(self, new: Any, _old: Any) -> tuple[dict, list]:
        return dict(new.inputs), IdentityProvider.check(new.type, new.inputs)

    @staticmethod
    def diff(_new: Any, _old: Any) -> None:
        return None

    def create(self, new: Any) -> tuple[str, dict]:
        return self.kinds.identity(new.provider).create(new.type, new.inputs)

    def read(self, new: Any, id_: str) -> tuple[dict, dict]:
        return self.kinds.identity(new.provider).read(new.type, id_)

    def update(self, new: Any, old: Any, changed: list[str]) -> dict:
        return self.kinds.identity(new.provider).update(new.type, old.id, new.inputs, changed)

    def delete(self, old: Any) -> None:
        self.kinds.identity(old.provider).delete(old.type, old.id, old.outputs)


class Kinds:
    """The providers of one apply, by resource type; `close()` stops what was started and returns
    what the provider host printed."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._identity: dict[str, IdentityProvider] = {}
        self.database = DatabaseProvider()
        identity = IdentityResources(self)
        self.by_type = {COMMAND: CommandProvider(), DATABASE: self.database, OPENSTACK: ProviderResource(),
                        ROLE_ASSIGNMENT: identity, **{type_: identity for type_ in IDENTITY_TYPES}}

    def get(self, type_: str) -> Any:
        if type_ not in self.by_type:
            raise NotImplementedError(f"the e2e engine does not know how to apply {type_}")
        return self.by_type[type_]

    def identity(self, provider_urn: str) -> IdentityProvider:
        """The openstack provider configured with its resource's (current) inputs."""
        with self._lock:
            if provider_urn not in self._identity:
                self._identity[provider_urn] = IdentityProvider(self.engine.state[provider_urn].inputs)
            return self._identity[provider_urn]

    def lookup(self, provider: Any, token: str, args: dict) -> dict:
        return self.identity(provider.urn).lookup(token, args)

    def close(self) -> bytes:
        return self.database.close()
