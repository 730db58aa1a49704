"""HTTP with the standard library: waiting for a service to answer, and just enough of keystone's
v3 API to create what the tutorial's earlier chapters would have (passwords only in bodies), and
of glance's to upload the lab's guest."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterable, Optional

from .common import PrereqError
from .processes import wait_until


def http_get(url: str, timeout: float = 5.0) -> tuple:
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def wait_http(url: str, ok: Iterable[int], timeout: float, proc_pid: Optional[int] = None,
              logfile: Optional[Path] = None) -> None:
    """Until `url` answers with a status in `ok` (PrereqError when `proc_pid` exits first)."""
    last = [""]

    def answers() -> bool:
        try:
            status, _ = http_get(url, timeout=5)
        except (OSError, urllib.error.URLError) as exc:
            last[0] = str(exc)
            return False
        last[0] = f"HTTP {status}"
        return status in ok

    wait_until(answers, what=f"{url} to answer", timeout=timeout, interval=0.5,
               pid=proc_pid, logfile=logfile, last=lambda: last[0])


def json_request(url: str, method: str, body: Optional[dict], headers: dict) -> urllib.request.Request:
    return urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                  headers={"Content-Type": "application/json", **headers},
                                  method=method)


class KeystoneError(PrereqError):
    """keystone answered with an HTTP error (`status`)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class Keystone:
    """Just enough of keystone's v3 API (stdlib only; passwords only in request bodies)."""

    def __init__(self, url: str, user: str, password: str, project: str, *,
                 user_domain: Optional[dict] = None, project_domain: Optional[dict] = None):
        """`user_domain`/`project_domain`: {"id": ...} or {"name": ...}; default: id `default`."""
        self.url = url.rstrip("/")
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": user_domain or {"id": "default"}, "password": password}}},
            "scope": {"project": {"name": project, "domain": project_domain or {"id": "default"}}}}}
        try:
            with urllib.request.urlopen(json_request(f"{self.url}/auth/tokens", "POST", body, {}),
                                        timeout=30) as resp:
                self.token = resp.headers["X-Subject-Token"]
        except urllib.error.HTTPError as exc:
            raise PrereqError(f"keystone refused the admin login: HTTP {exc.code}") from None

    def call(self, method: str, path: str, body: Optional[dict] = None) -> dict:
        req = json_request(f"{self.url}{path}", method, body,
                            {"X-Auth-Token": self.token, "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise KeystoneError(f"keystone {method} {path}: HTTP {exc.code} "
                                f"{exc.read().decode(errors='replace')[:500]}", exc.code) from None
        return json.loads(raw) if raw else {}

    def find(self, collection: str, **query: str) -> Optional[dict]:
        qs = "&".join(f"{k}={urllib.request.quote(v)}" for k, v in query.items())
        items = self.call("GET", f"/{collection}?{qs}")[collection]
        return items[0] if items else None

    def ensure_project(self, name: str, description: str) -> dict:
        return self.find("projects", name=name, domain_id="default") or self.call(
            "POST", "/projects", {"project": {"name": name, "domain_id": "default",
                                              "description": description}})["project"]

    def ensure_user(self, name: str, password: str) -> dict:
        user = self.find("users", name=name, domain_id="default")
        if user:
            self.call("PATCH", f"/users/{user['id']}", {"user": {"password": password}})
            return user
        return self.call("POST", "/users", {"user": {"name": name, "domain_id": "default",
                                                     "password": password,
                                                     "enabled": True}})["user"]

    def grant(self, project: dict, user: dict, role_name: str) -> None:
        role = self.find("roles", name=role_name)
        if not role:
            raise PrereqError(f"keystone has no role {role_name!r}")
        self.call("PUT", f"/projects/{project['id']}/users/{user['id']}/roles/{role['id']}")

    def ensure_service(self, name: str, type_: str, description: str) -> dict:
        return self.find("services", type=type_) or self.call(
            "POST", "/services", {"service": {"name": name, "type": type_,
                                              "description": description, "enabled": True}})["service"]

    def ensure_endpoint(self, service_id: str, interface: str, url: str, region: str) -> dict:
        """The service's one endpoint on `interface`: created, or updated where its URL, region
        or enabled flag differ; returns it."""
        wanted = {"url": url, "region_id": region, "enabled": True}
        found = self.call("GET", f"/endpoints?service_id={service_id}&interface={interface}")["endpoints"]
        if not found:
            return self.call("POST", "/endpoints", {"endpoint": {
                "service_id": service_id, "interface": interface, **wanted}})["endpoint"]
        if any(found[0].get(key) != value for key, value in wanted.items()):
            return self.call("PATCH", f"/endpoints/{found[0]['id']}", {"endpoint": wanted})["endpoint"]
        return found[0]

    def ensure_endpoints(self, service: dict, url: str, region: str) -> None:
        for interface in ("public", "internal", "admin"):
            self.ensure_endpoint(service["id"], interface, url, region)


class Glance:
    """Just enough of glance's v2 API for the lab's images (stdlib only)."""

    def __init__(self, url: str, token: str):
        self.url, self.token = url.rstrip("/"), token

    def _call(self, method: str, path: str, data: Optional[bytes] = None,
              content_type: str = "application/json") -> dict:
        req = urllib.request.Request(f"{self.url}{path}", method=method, data=data,
                                     headers={"X-Auth-Token": self.token, "Content-Type": content_type,
                                              "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise PrereqError(f"glance {method} {path}: HTTP {exc.code} "
                              f"{exc.read().decode(errors='replace')[:500]}") from None
        return json.loads(raw) if raw else {}

    def images(self, name: str) -> list:
        return self._call("GET", f"/v2/images?name={urllib.request.quote(name)}")["images"]

    def delete(self, image_id: str) -> None:
        self._call("DELETE", f"/v2/images/{image_id}")

    def upload(self, properties: dict, data: bytes) -> str:
        """A new image of `properties` holding `data`; its id once glance says it is active."""
        image = self._call("POST", "/v2/images", json.dumps(properties).encode())
        self._call("PUT", f"/v2/images/{image['id']}/file", data, content_type="application/octet-stream")
        status = self._call("GET", f"/v2/images/{image['id']}")["status"]
        if status != "active":
            raise PrereqError(f"glance: image {properties.get('name')} is {status} after its upload, not active")
        return image["id"]
