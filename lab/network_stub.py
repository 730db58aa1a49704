"""A stand-in for neutron's API in the services host: this project deploys no network service,
yet nova's API asks neutron about a server's ports and security groups when it shows or deletes
one (with `networks: none` too). It answers that there are none: every list is empty, every
other GET an empty object, every DELETE done. Run by the lab as
`python3 network_stub.py ADDRESS PORT`; it logs each request to stdout."""
from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

LISTS = {"ports", "networks", "subnets", "security-groups", "security_groups", "floatingips", "extensions",
         "trunks", "qos/policies"}


class Handler(BaseHTTPRequestHandler):
    def _send(self, status: int, body=None) -> None:
        raw = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = urlsplit(self.path).path.rstrip("/")
        if path in ("", "/"):
            return self._send(200, {"versions": [{"id": "v2.0", "status": "CURRENT",
                                                  "links": [{"rel": "self", "href": "/v2.0/"}]}]})
        resource = path.split("/v2.0/", 1)[-1]
        if resource in LISTS:
            return self._send(200, {resource.replace("-", "_").split("/")[-1]: []})
        return self._send(404, {"NeutronError": {"type": "NotFound", "message": f"{resource} (a stand-in)"}})

    def do_DELETE(self) -> None:  # noqa: N802
        self._send(204)

    def log_message(self, fmt: str, *args) -> None:
        print(f"{self.command} {self.path}", flush=True)


if __name__ == "__main__":
    ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
