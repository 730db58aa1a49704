"""The plugin side of the engine's provider protocol (pulumi/proto/provider.proto), shared by the
doubles: the engine starts the plugin, reads the port it prints, then calls it over gRPC (as it
does the SDK's own dynamic-provider host, `pulumi/dynamic/__main__.py`, the model here).

What both real providers answer, and so the doubles:
- Configure: acceptSecrets, supportsPreview, acceptResources, acceptOutputs all true
  (pulumi-go-provider v1.3.0 provider.go Configure; the bridge answers the same);
- every request's properties are decoded strictly (wire.py), so a request the real provider
  refuses is refused here with its message;
- an error is a gRPC UNKNOWN status whose details are the message the engine prints.

A resource type is served by a `Resource` (check, diff, create, read, update, delete); an
invoke by `invoke`."""
from __future__ import annotations

import sys
import threading
import traceback
from concurrent import futures
from typing import Callable, Optional

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import plugin_pb2, provider_pb2 as pb, provider_pb2_grpc

from tests.doubles.wire import DecodeError, decode, encode, has_unknown, plain


class ProviderError(Exception):
    """A failed operation, worded as the real provider words it."""


class Resource:
    """One resource type. Values are decoded (wire.py); `olds` are the state's outputs."""

    replace_on_changes: frozenset[str] = frozenset()
    inputs: tuple[str, ...] = ()  # the input fields compared by diff

    def check(self, olds: dict, news: dict) -> tuple[dict, list[tuple[str, str]]]:
        return news, []

    def diff(self, olds: dict, news: dict) -> tuple[list[str], list[str]]:
        """(changed input keys, those that replace): a key changes when its plain value differs
        or is unknown (the infer default diff, and the bridge's)."""
        changed = sorted(k for k in self.inputs
                         if (k in news or k in olds) and (has_unknown(news.get(k)) or plain(news.get(k)) != plain(olds.get(k))))
        return changed, [k for k in changed if k in self.replace_on_changes]

    def create(self, urn: str, news: dict, preview: bool) -> tuple[str, dict]:
        raise NotImplementedError

    def read(self, id_: str, state: dict, inputs: dict) -> tuple[str, dict, dict]:
        return id_, state, inputs

    def update(self, id_: str, olds: dict, news: dict, preview: bool) -> dict:
        raise NotImplementedError

    def delete(self, id_: str, state: dict) -> None:
        return None


def _guarded(method: Callable) -> Callable:
    def wrapper(self, request, context):
        try:
            return method(self, request, context)
        except (ProviderError, DecodeError) as err:
            context.abort(grpc.StatusCode.UNKNOWN, str(err))
        except Exception:  # noqa: BLE001 (a bug of the double: show all of it)
            context.abort(grpc.StatusCode.UNKNOWN, traceback.format_exc())
    return wrapper


class Provider(provider_pb2_grpc.ResourceProviderServicer):
    def __init__(self, name: str, version: str, resources: dict[str, Resource],
                 invokes: Optional[dict[str, Callable[[dict, dict], dict]]] = None):
        self.name, self.version, self.resources, self.invokes = name, version, resources, invokes or {}
        self.config: dict = {}

    def _resource(self, urn: str) -> Resource:
        type_ = urn.split("::")[-2].split("$")[-1]
        if type_ not in self.resources:
            raise ProviderError(f"unknown resource type {type_!r} (the {self.name} double serves "
                                f"{', '.join(sorted(self.resources))})")
        return self.resources[type_]

    def GetPluginInfo(self, request, context):
        return plugin_pb2.PluginInfo(version=self.version)

    @_guarded
    def CheckConfig(self, request, context):
        return pb.CheckResponse(inputs=request.news)

    @_guarded
    def DiffConfig(self, request, context):
        olds, news = decode(request.olds), decode(request.news)
        changed = sorted(k for k in set(olds) | set(news) if has_unknown(news.get(k)) or plain(olds.get(k)) != plain(news.get(k)))
        return pb.DiffResponse(changes=pb.DiffResponse.DIFF_SOME if changed else pb.DiffResponse.DIFF_NONE, diffs=changed)

    @_guarded
    def Configure(self, request, context):
        self.config = plain(decode(request.args))
        return pb.ConfigureResponse(acceptSecrets=True, supportsPreview=True, acceptResources=True, acceptOutputs=True)

    @_guarded
    def Check(self, request, context):
        resource = self._resource(request.urn)
        inputs, failures = resource.check(decode(request.olds), decode(request.news))
        return pb.CheckResponse(inputs=encode(inputs),
                                failures=[pb.CheckFailure(property=p, reason=r) for p, r in failures])

    @_guarded
    def Diff(self, request, context):
        resource = self._resource(request.urn)
        changed, replaces = resource.diff(decode(request.olds), decode(request.news))
        detailed = {k: pb.PropertyDiff(kind=pb.PropertyDiff.UPDATE_REPLACE if k in replaces else pb.PropertyDiff.UPDATE,
                                       inputDiff=True) for k in changed}
        return pb.DiffResponse(changes=pb.DiffResponse.DIFF_SOME if changed else pb.DiffResponse.DIFF_NONE,
                               diffs=changed, replaces=replaces, detailedDiff=detailed, hasDetailedDiff=True)

    @_guarded
    def Create(self, request, context):
        id_, outputs = self._resource(request.urn).create(request.urn, decode(request.properties), request.preview)
        return pb.CreateResponse(id=id_, properties=encode(outputs))

    @_guarded
    def Read(self, request, context):
        id_, state, inputs = self._resource(request.urn).read(request.id, decode(request.properties),
                                                              decode(request.inputs))
        return pb.ReadResponse(id=id_, properties=encode(state), inputs=encode(inputs))

    @_guarded
    def Update(self, request, context):
        outputs = self._resource(request.urn).update(request.id, decode(request.olds), decode(request.news),
                                                     request.preview)
        return pb.UpdateResponse(properties=encode(outputs))

    @_guarded
    def Delete(self, request, context):
        self._resource(request.urn).delete(request.id, decode(request.properties))
        return empty_pb2.Empty()

    @_guarded
    def Invoke(self, request, context):
        if request.tok not in self.invokes:
            raise ProviderError(f"unknown function {request.tok!r}")
        return pb.InvokeResponse(**{"return": encode(self.invokes[request.tok](self.config, plain(decode(request.args))))})

    def Cancel(self, request, context):
        return empty_pb2.Empty()


def serve(provider: Provider) -> None:
    """Serve on a loopback port and print it, as the engine expects of a plugin."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(provider, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    threading.Event().wait()

