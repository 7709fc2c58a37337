"""The physical reference: a bare `websockets` server that echoes every frame.

It negotiates the `ocpp2.0.1` or `ocpp1.6` subprotocol like the CSMS, does
no parsing, no validation and no I/O besides the socket, so what the load
generator measures against it is the cost of WebSocket framing, asyncio and
loopback TCP on this machine. The load generator accepts the echoed CALL as the answer (same
uniqueId), so the client side does exactly the same work as against the CSMS.

    .venv/bin/python -m bench.echo_server --port 9000
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal

from websockets.asyncio.server import serve


async def echo(websocket) -> None:
    try:
        async for message in websocket:
            await websocket.send(message)
    except Exception:  # a client dropping its socket is normal in the storm scenario
        pass


# As the CSMS: the newest offered.
SUBPROTOCOLS = ("ocpp2.0.1", "ocpp1.6")


def select_subprotocol(connection, subprotocols):
    return next((name for name in SUBPROTOCOLS if name in subprotocols), None)


async def main(host: str, port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(
        echo,
        host,
        port,
        select_subprotocol=select_subprotocol,
        compression=None,  # as the CSMS: no per-message deflate for OCPP
        ping_interval=None,
        max_queue=None,
        backlog=4096,
    ):
        print(f"echo server on ws://{host}:{port}/", flush=True)
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    options = parser.parse_args()
    gc.collect()
    asyncio.run(main(options.host, options.port))
