"""The SDK's dynamic provider host exactly as the Pulumi CLI runs it, and the engine's calls to it.

The CLI starts `python -u -m pulumi.dynamic` in the project root (PYTHONPATH unset: imports
resolve from the working directory only, PULUMI_PROJECT set as for every plugin), reads the port
it prints and speaks the ResourceProvider gRPC protocol to it (pulumi/pulumi
pkg/resource/plugin/provider_plugin.go). Used by the e2e engine for the database resource and by
tests/test_provider_host.py, which checks each call's answer on its own.
"""
from __future__ import annotations

import os
import select
import subprocess
import sys
import tempfile
from typing import Any, Optional

import grpc
from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from tools.plan.paths import PROJECT_ROOT

TIMEOUT = 30


def struct(props: dict) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(props)
    return s


def plain(s: struct_pb2.Struct) -> dict:
    return json_format.MessageToDict(s)


class ProviderHost:
    """One `python -u -m pulumi.dynamic` process and its gRPC stub; `stop()` kills it and returns
    everything it printed (kept for leak checks)."""

    def __init__(self, project: str = "openstack-nova") -> None:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["PULUMI_PROJECT"] = project
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, "-u", "-m", "pulumi.dynamic"], cwd=PROJECT_ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=self._stderr)
        self.channel: Optional[grpc.Channel] = None
        self.output = b""
        try:
            assert select.select([self.proc.stdout], [], [], TIMEOUT)[0], "host printed no port in time"
            port_line = self.proc.stdout.readline()
            self.output += port_line
            assert port_line.strip().isdigit(), f"host printed no port: {self.stop()!r}"
            self.channel = grpc.insecure_channel(f"127.0.0.1:{int(port_line)}")
            grpc.channel_ready_future(self.channel).result(timeout=TIMEOUT)
            self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> bytes:
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if self.proc.poll() is None:
            self.proc.kill()
        out = self.proc.communicate(timeout=TIMEOUT)[0] or b""
        if not self._stderr.closed:
            self._stderr.seek(0)
            self.output += out + self._stderr.read()
            self._stderr.close()
        return self.output

    def __enter__(self) -> "ProviderHost":
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.stop()


class DynamicProvider:
    """The engine's side of the protocol for one resource type: Configure once (the engine falls
    back to it: the host has no Handshake; it answers acceptSecrets=False, so every request
    carries plain values), then Check/Diff/Create/Update/Delete with the olds the engine keeps:
    Check gets the old inputs, Diff/Update/Delete the old state (outputs) and the old inputs."""

    def __init__(self, host: ProviderHost) -> None:
        self.stub = host.stub
        self.stub.Configure(provider_pb2.ConfigureRequest(
            args=struct({}), acceptSecrets=True, acceptResources=True, sends_old_inputs=True,
            sends_old_inputs_to_delete=True), timeout=TIMEOUT)

    @staticmethod
    def _ident(urn: str) -> dict:
        type_, name = urn.split("::")[-2].split("$")[-1], urn.split("::")[-1]
        return dict(urn=urn, name=name, type=type_)

    def check(self, urn: str, olds: Optional[dict], news: dict) -> tuple[dict, list[tuple[str, str]]]:
        resp = self.stub.Check(provider_pb2.CheckRequest(**self._ident(urn), olds=struct(olds or {}),
                                                         news=struct(news)), timeout=TIMEOUT)
        return plain(resp.inputs), [(f.property, f.reason) for f in resp.failures]

    def diff(self, urn: str, id_: str, outputs: dict, old_inputs: dict, news: dict) -> tuple[bool, list[str]]:
        resp = self.stub.Diff(provider_pb2.DiffRequest(id=id_, **self._ident(urn), olds=struct(outputs),
                                                       news=struct(news), old_inputs=struct(old_inputs)),
                              timeout=TIMEOUT)
        # DIFF_UNKNOWN: the engine decides by comparing inputs (step_generator.go diffResource)
        changed = {resp.DIFF_SOME: True, resp.DIFF_NONE: False}.get(resp.changes, old_inputs != news)
        return changed, list(resp.replaces)

    def create(self, urn: str, news: dict) -> tuple[str, dict]:
        resp = self.stub.Create(provider_pb2.CreateRequest(**self._ident(urn), properties=struct(news)),
                                timeout=TIMEOUT)
        return resp.id, plain(resp.properties)

    def update(self, urn: str, id_: str, outputs: dict, old_inputs: dict, news: dict) -> dict:
        resp = self.stub.Update(provider_pb2.UpdateRequest(id=id_, **self._ident(urn), olds=struct(outputs),
                                                           news=struct(news), old_inputs=struct(old_inputs)),
                                timeout=TIMEOUT)
        return plain(resp.properties)

    def delete(self, urn: str, id_: str, outputs: dict, old_inputs: dict) -> None:
        self.stub.Delete(provider_pb2.DeleteRequest(id=id_, **self._ident(urn), properties=struct(outputs),
                                                    old_inputs=struct(old_inputs)), timeout=TIMEOUT)
