"""Test double of pulumi-openstack 5.5.3 (terraform-provider-openstack v3's identity resources,
bridged by pulumi-terraform-bridge), a plugin the engine runs as `pulumi-resource-openstack`,
for the resources and functions this program uses, over keystone's v3 API (keystone.py):
- Configure contacts nothing (the provider authenticates on first use: delayed auth);
- Diff: a role assignment's every field and the others' `region` replace (ForceNew in the
  Terraform schema); any other change updates in place;
- Create/Update/Delete/Read (import) as keystone.py does them; at preview nothing is asked of
  keystone and the ids are unknown; the user's `password` is secret in the state (Sensitive);
- getProject/getRole run against keystone at preview too (data sources are read at plan time),
  which is why a preview without the ids in the stack needs keystone: an unreachable keystone
  fails them with "Error creating OpenStack identity client: ...".
Unknown inputs (fields this double does not model) fail Check, naming the field."""
from __future__ import annotations

from tests.doubles.keystone import ASSIGNMENT_KEYS, KINDS, ROLE_ASSIGNMENT, IdentityProvider, KeystoneError
from tests.doubles.server import Provider, ProviderError, Resource, serve
from tests.doubles.wire import UNKNOWN, Secret, plain

VERSION = "5.5.3"
_session: dict[str, IdentityProvider] = {}


def identity(config: dict) -> IdentityProvider:
    key = repr(sorted(config.items()))
    if key not in _session:
        try:
            _session[key] = IdentityProvider(config)
        except Exception as err:  # noqa: BLE001 (unreachable, refused login: the provider's one message)
            raise ProviderError(f"Error creating OpenStack identity client: {err}") from None
    return _session[key]


class IdentityResource(Resource):
    def __init__(self, provider: Provider, type_: str):
        self.provider, self.type = provider, type_
        self.inputs = (*(ASSIGNMENT_KEYS if type_ == ROLE_ASSIGNMENT else tuple(KINDS[type_].fields)), "region")
        self.replace_on_changes = frozenset(self.inputs if type_ == ROLE_ASSIGNMENT else ("region",))

    def check(self, olds: dict, news: dict) -> tuple[dict, list]:
        modelled = {k: v for k, v in news.items() if k != "region"}
        return news, IdentityProvider.check(self.type, modelled)

    def _keystone(self) -> IdentityProvider:
        return identity(self.provider.config)

    def create(self, urn: str, news: dict, preview: bool) -> tuple[str, dict]:
        if preview:
            return "", {**news, "id": UNKNOWN}
        id_, state = self._keystone().create(self.type, plain(news))
        return id_, self._secret(state)

    def read(self, id_: str, state: dict, inputs: dict) -> tuple[str, dict, dict]:
        """Refresh (the state given) or import (none): what keystone holds; a gone object reads as
        no id (the engine forgets it). Fields keystone never returns (a password) keep the
        state's value, as Terraform keeps an attribute its read does not set."""
        try:
            if self.type == ROLE_ASSIGNMENT:
                self._keystone().keystone.call("HEAD", self._keystone().assignment_path(plain(state)))
                return id_, state, inputs
            found, _ = self._keystone().read(self.type, id_)
        except KeystoneError as err:
            if err.status == 404:
                return "", {}, {}
            raise ProviderError(str(err)) from None
        kept = {k: state[k] for k in KINDS[self.type].write_only if k in state}
        found = self._secret({**found, **kept})
        return id_, found, (inputs if state else found)  # an import: the object is its inputs too

    def update(self, id_: str, olds: dict, news: dict, preview: bool) -> dict:
        changed, _ = self.diff(olds, news)
        if preview:
            return news
        return self._secret(self._keystone().update(self.type, id_, plain(news), changed))

    def delete(self, id_: str, state: dict) -> None:
        self._keystone().delete(self.type, id_, plain(state))

    @staticmethod
    def _secret(state: dict) -> dict:
        return {k: Secret(v) if k == "password" else v for k, v in state.items()}


def lookup(token: str):
    def invoke(config: dict, args: dict) -> dict:
        try:
            found = identity(config).lookup(token, args)
        except (LookupError, KeystoneError) as err:
            raise ProviderError(str(err)) from None
        return {"id": found["id"], "name": found.get("name"), "domainId": found.get("domain_id") or "",
                "region": args.get("region") or ""}
    return invoke


def provider() -> Provider:
    p = Provider("openstack", VERSION, {})
    p.resources = {t: IdentityResource(p, t) for t in (*KINDS, ROLE_ASSIGNMENT)}
    p.invokes = {t: lookup(t) for t in ("openstack:identity/getProject:getProject", "openstack:identity/getRole:getRole")}
    return p


if __name__ == "__main__":
    serve(provider())
