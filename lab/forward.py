#!/usr/bin/env python3
"""A TCP forwarder (standard library only; the lab runs it as a daemon of its own):

    forward.py LISTEN_ADDR:PORT=TARGET:PORT ...

The hosts reach the machine's MariaDB and RabbitMQ (which listen on 127.0.0.1 only) and its
Debian mirror through it, at the bridge's gateway address: MariaDB then sees the connection come
from 127.0.0.1, as a local client. The target name is resolved on the machine for each
connection. Prints "ready" once every listener is bound."""
from __future__ import annotations

import asyncio
import sys


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            writer.close()


def _handler(target_host: str, target_port: int):
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.wait_for(asyncio.open_connection(target_host, target_port), 15)
        except (OSError, asyncio.TimeoutError) as exc:
            print(f"connect {target_host}:{target_port}: {exc}", file=sys.stderr, flush=True)
            client_w.close()
            return
        await asyncio.gather(_pipe(client_r, server_w), _pipe(server_r, client_w))
        for w in (client_w, server_w):
            w.close()
    return handle


def _split(endpoint: str) -> tuple:
    host, _, port = endpoint.rpartition(":")
    return host.strip("[]"), int(port)


async def main(routes: list) -> None:
    servers = []
    for route in routes:
        listen, target = route.split("=", 1)
        servers.append(await asyncio.start_server(_handler(*_split(target)), *_split(listen), reuse_address=True))
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
