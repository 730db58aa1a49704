"""The keystone objects as pulumi-openstack 5.5.3 manages them (terraform-provider-openstack's
identity resources, bridged), over keystone's v3 REST API, authenticated as the *registered*
`pulumi:providers:openstack` says (its authUrl, user, password, project and their domains).

- create: one POST (PUT for a role assignment) of the inputs; keystone decides conflicts, as the
  provider lets it (a second user of one name in a domain is HTTP 409; keystone allows duplicate
  services and endpoints, which is why operators adopt theirs: README "Adopting objects");
- import (the `import` option): a GET by the given id is the imported state; the engine then
  diffs and updates whatever differs (pulumi step.go ImportStep + continueStepsFromImport);
- the state is what keystone answers (a Read after each create/update), plus the password, which
  keystone never returns;
- update: one PATCH of the changed fields (HasChange); a role assignment has none (all ForceNew:
  tools/plan/diff.py REPLACE_KEYS);
- delete: DELETE; an object already gone (404) counts as deleted (CheckDeleted);
- getProject/getRole: a filtered list that must match exactly one (data sources).
"""
from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Optional

from lab.support.identity import Keystone, KeystoneError

ROLE_ASSIGNMENT = "openstack:identity/roleAssignment:RoleAssignment"


@dataclass(frozen=True)
class Kind:
    collection: str  # /users
    member: str  # the body's key: {"user": {...}}
    fields: dict[str, str]  # input key -> keystone field
    write_only: tuple[str, ...] = ()  # inputs keystone never returns


KINDS = {
    "openstack:identity/user:User": Kind("users", "user", {
        "name": "name", "domainId": "domain_id", "password": "password", "enabled": "enabled",
        "description": "description", "defaultProjectId": "default_project_id"}, write_only=("password",)),
    "openstack:identity/serviceV3:ServiceV3": Kind("services", "service", {
        "name": "name", "type": "type", "description": "description", "enabled": "enabled"}),
    "openstack:identity/endpointV3:EndpointV3": Kind("endpoints", "endpoint", {
        "serviceId": "service_id", "interface": "interface", "url": "url", "endpointRegion": "region_id"}),
}
ASSIGNMENT_KEYS = ("domainId", "projectId", "groupId", "userId", "roleId")  # its id, in the provider's order
LOOKUPS = {"openstack:identity/getProject:getProject": "projects", "openstack:identity/getRole:getRole": "roles"}


class IdentityProvider:
    """One configured openstack provider: its keystone session and the identity resources."""

    def __init__(self, config: dict) -> None:
        def domain(prefix: str) -> Optional[dict]:
            ident, name = config.get(f"{prefix}DomainId"), config.get(f"{prefix}DomainName")
            return {"id": ident} if ident else {"name": name} if name else None

        self.keystone = Keystone(config["authUrl"], config["userName"], config["password"], config["tenantName"],
                                 user_domain=domain("user"), project_domain=domain("project"))

    @staticmethod
    def check(type_: str, news: dict) -> list[tuple[str, str]]:
        """Check failures: inputs this stand-in does not model fail loudly instead of being dropped."""
        known = ASSIGNMENT_KEYS if type_ == ROLE_ASSIGNMENT else tuple(KINDS[type_].fields)
        return [(key, f"{type_}: input {key!r} is not modelled by the e2e engine") for key in news if key not in known]

    def create(self, type_: str, news: dict) -> tuple[str, dict]:
        if type_ == ROLE_ASSIGNMENT:
            self.keystone.call("PUT", self.assignment_path(news))
            return "/".join(news.get(k, "") for k in ASSIGNMENT_KEYS), dict(news)
        kind = KINDS[type_]
        body = {kind.fields[k]: v for k, v in news.items() if v not in (None, "")}
        made = self.keystone.call("POST", f"/{kind.collection}", {kind.member: body})[kind.member]
        return made["id"], self._state(kind, made, news)

    def read(self, type_: str, id_: str) -> tuple[dict, dict]:
        """The imported state (inputs and outputs alike), as a Read by id gives it."""
        if type_ == ROLE_ASSIGNMENT:
            raise NotImplementedError("importing a role assignment is not modelled by the e2e engine")
        kind = KINDS[type_]
        found = self.keystone.call("GET", f"/{kind.collection}/{id_}")[kind.member]
        state = self._state(kind, found, {})
        return state, state

    def update(self, type_: str, id_: str, news: dict, changed: list[str]) -> dict:
        if type_ == ROLE_ASSIGNMENT:
            raise AssertionError("a role assignment is never updated: every change replaces it")
        kind = KINDS[type_]
        body = {kind.fields[k]: news.get(k) for k in changed}
        updated = self.keystone.call("PATCH", f"/{kind.collection}/{id_}", {kind.member: body})[kind.member]
        return self._state(kind, updated, news)

    def delete(self, type_: str, id_: str, outputs: dict) -> None:
        path = self.assignment_path(outputs) if type_ == ROLE_ASSIGNMENT else f"/{KINDS[type_].collection}/{id_}"
        try:
            self.keystone.call("DELETE", path)
        except KeystoneError as exc:
            if exc.status != 404:
                raise

    def lookup(self, token: str, args: dict) -> dict:
        collection = LOOKUPS[token]
        query = {"name": args.get("name"), "domain_id": args.get("domainId")}
        qs = urllib.parse.urlencode({k: v for k, v in query.items() if v})
        found = self.keystone.call("GET", f"/{collection}?{qs}")[collection]
        if len(found) != 1:
            raise LookupError(f"{token} {args}: your query returned {len(found) or 'no'} results, not one")
        return found[0]

    @staticmethod
    def _state(kind: Kind, answer: dict, news: dict) -> dict:
        state = {key: answer.get(field) for key, field in kind.fields.items()
                 if key not in kind.write_only and answer.get(field) is not None}
        state.update({key: news[key] for key in kind.write_only if key in news})
        return state

    @staticmethod
    def assignment_path(props: dict) -> str:
        target = f"/projects/{props['projectId']}" if props.get("projectId") else f"/domains/{props['domainId']}"
        actor = f"/groups/{props['groupId']}" if props.get("groupId") else f"/users/{props['userId']}"
        return f"{target}{actor}/roles/{props['roleId']}"
