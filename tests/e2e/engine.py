"""Apply the program's recorded resources for real, the way the Pulumi engine would.

The Pulumi CLI cannot be installed here, so this stands in for the engine (and only for it):
the resources and their inputs are exactly what __main__.py registered (recorded under the SDK's
mock runtime with real secrets), applied in the graph's dependency order:

- the database through the program's own dynamic provider (components.mysql_admin) against the
  real MariaDB;
- keystone objects through keystone's API. With the Pulumi CLI this is pulumi-openstack's job;
  here a few REST calls create what its User, RoleAssignment, ServiceV3 and EndpointV3 inputs say;
- every remote.Command over real SSH with its own `create` text and `stdin`, as pulumi-command
  runs it (the command string goes to the remote user's shell).

Like the engine, a resource is applied again only when its inputs changed since the last apply
(a changed `triggers` entry, script or stdin), unless `force` is given.
"""
from __future__ import annotations

import json
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Optional

from components.mysql_admin import ServiceDatabaseProvider
from tools.plan import Recording, Registration, unwrap

from harness import E2EEnvironment, Keystone

COMMAND = "command:remote:Command"
DATABASE = "pulumi-python:dynamic/mysql:ServiceDatabase"


@dataclass
class StepResult:
    name: str
    stdout: str
    stderr: str
    seconds: float


@dataclass
class Engine:
    env: E2EEnvironment
    applied: dict[str, str] = field(default_factory=dict)  # resource name -> inputs as applied
    real_ids: dict[str, str] = field(default_factory=dict)  # URN -> id in the real service
    results: dict[str, StepResult] = field(default_factory=dict)
    ps_snapshots: list[str] = field(default_factory=list)
    last_db_inputs: Optional[dict] = None  # the provider's update needs the old inputs

    # -- the engine loop ---------------------------------------------------------------------
    def apply(self, rec: Recording, force: bool = False) -> list[str]:
        """Apply what changed; returns the names of the resources that ran, in order."""
        levels = rec.levels()
        order = sorted(levels, key=lambda urn: (levels[urn], urn))
        ran: list[str] = []
        stop = threading.Event()
        watcher = threading.Thread(target=self._watch_processes, args=(stop,), daemon=True)
        watcher.start()
        try:
            for urn in order:
                r = rec.registrations[urn]
                inputs = unwrap(r.raw_inputs)
                inputs.pop("__provider", None)
                fingerprint = json.dumps(inputs, sort_keys=True)
                if not force and self.applied.get(r.name) == fingerprint:
                    continue
                self._apply_one(rec, r, inputs)
                self.applied[r.name] = fingerprint
                ran.append(r.name)
        finally:
            stop.set()
            watcher.join()
        return ran

    def _watch_processes(self, stop: threading.Event) -> None:
        """Snapshots of every process' command line while steps run (a secret on a command
        line would show up here)."""
        while not stop.is_set():
            out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
            self.ps_snapshots.append(out)
            stop.wait(0.3)

    def _apply_one(self, rec: Recording, r: Registration, inputs: dict) -> None:
        if r.type == COMMAND:
            self._run_command(r.name, inputs)
        elif r.type == DATABASE:
            self._apply_database(r, inputs)
        elif r.type.startswith("openstack:identity/"):
            self._apply_keystone(rec, r, inputs)
        elif r.type == "pulumi:providers:openstack":
            pass  # a provider holds credentials; it creates nothing
        else:
            raise AssertionError(f"the e2e engine does not know how to apply {r.type} ({r.name})")

    # -- resource kinds ----------------------------------------------------------------------
    def _run_command(self, name: str, inputs: dict) -> None:
        started = time.monotonic()
        proc = subprocess.run(self.env.ssh_command(inputs["create"]), input=inputs.get("stdin") or "",
                              capture_output=True, text=True, timeout=1800)
        self.results[name] = StepResult(name, proc.stdout, proc.stderr, time.monotonic() - started)
        if proc.returncode != 0:
            raise AssertionError(f"step {name} failed (exit {proc.returncode}):\n"
                                 f"stdout: {proc.stdout[-3000:]}\nstderr: {proc.stderr[-3000:]}")

    def _apply_database(self, r: Registration, inputs: dict) -> None:
        provider = ServiceDatabaseProvider()
        if r.urn in self.real_ids:
            provider.update(self.real_ids[r.urn], self.last_db_inputs, inputs)
        else:
            self.real_ids[r.urn] = provider.create(inputs).id
        self.last_db_inputs = inputs

    def _dependency_id(self, r: Registration, prop: str) -> str:
        urns = r.property_dependencies.get(prop) or []
        assert len(urns) == 1 and urns[0] in self.real_ids, f"{r.name}.{prop} comes from no applied resource"
        return self.real_ids[urns[0]]

    def _lookup(self, rec: Recording, token_suffix: str) -> dict:
        found = [i.args for i in rec.invocations if i.token.endswith(token_suffix)]
        assert len(found) == 1, f"expected one {token_suffix} lookup, got {found}"
        return found[0]

    def _apply_keystone(self, rec: Recording, r: Registration, inputs: dict) -> None:
        ks: Keystone = self.env.keystone()
        kind = r.type.rsplit(":", 1)[-1]
        if kind == "User":
            user = ks.ensure_user(inputs["name"], inputs["password"])
            assert user.get("domain_id", inputs["domainId"]) == inputs["domainId"]
            self.real_ids[r.urn] = user["id"]
        elif kind == "ServiceV3":
            service = ks.ensure_service(inputs["name"], inputs["type"], inputs["description"])
            self.real_ids[r.urn] = service["id"]
        elif kind == "EndpointV3":
            ep = ks.ensure_endpoint(self._dependency_id(r, "serviceId"), inputs["interface"], inputs["url"],
                                    inputs["endpointRegion"])
            self.real_ids[r.urn] = ep["id"]
        elif kind == "RoleAssignment":
            # project and role were looked up by name (getProject/getRole): look them up for real
            project_args, role_args = self._lookup(rec, "getProject"), self._lookup(rec, "getRole")
            project = ks.find("projects", name=project_args["name"], domain_id=project_args.get("domain_id", "default"))
            role = ks.find("roles", name=role_args["name"])
            assert project and role, f"keystone lacks project {project_args} or role {role_args}"
            user_id = self._dependency_id(r, "userId")
            ks.call("PUT", f"/projects/{project['id']}/users/{user_id}/roles/{role['id']}")
            self.real_ids[r.urn] = f"{project['id']}/{user_id}/{role['id']}"
        else:
            raise AssertionError(f"unknown keystone resource {r.type}")

    # -- cleanup -----------------------------------------------------------------------------
    def destroy_database(self, rec: Recording) -> None:
        for r in rec.of_type(DATABASE):
            if r.urn in self.real_ids:
                inputs = unwrap(r.raw_inputs)
                inputs.pop("__provider", None)
                ServiceDatabaseProvider().delete(self.real_ids.pop(r.urn), inputs)
