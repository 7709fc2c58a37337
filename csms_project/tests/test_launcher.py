"""Several server processes on one port (csms_project.launcher), as bin/run starts them.

Each test runs with Daphne (the default) and with uvicorn.

Needs REDIS_URL (as in CI): a command must reach a charge point on whichever
process holds its socket.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection, connections
from ocpp.v16 import call

from csms_project import testing
from csms_project.launcher import parse, uvicorn_command
from ocpp_consumer.commands import command_send
from ocpp_consumer.tests.test_cluster import SimulatedChargePoint
from stations.models import ChargePoint

CHARGE_POINTS = 16


async def boot(port: int, charge_point_id: str):
    ws = await websockets.connect(
        f"ws://127.0.0.1:{port}/ocpp/{charge_point_id}", subprotocols=["ocpp1.6"]
    )
    client = SimulatedChargePoint(charge_point_id, ws, response_timeout=15)
    client.resets = []
    listener = asyncio.create_task(client.start())
    answer = await client.call(
        call.BootNotification(charge_point_vendor="V", charge_point_model="M")
    )
    assert answer.status == "Accepted"
    return ws, client, listener


def channel_prefixes(ids: list[str]) -> set[str]:
    """The channel-layer client prefixes (one per process) holding these charge points."""
    try:
        names = ChargePoint.objects.filter(charge_point_id__in=ids).values_list(
            "connection_channel", flat=True
        )
        return {name.split("!")[0] for name in names if name}
    finally:
        connection.close()


def child_pids(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(line) for line in out.split()]


@pytest.fixture(params=["daphne", "uvicorn"])
def launcher(request, tmp_path):
    port = testing.free_port()
    # The same channel layer as this process, which sends the commands.
    prefix = settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("prefix", "")
    env = testing.process_env(CHANNEL_LAYER_PREFIX=prefix)
    args = [sys.executable, "-m", "csms_project.launcher", "--processes", "2"]
    args += ["--server", request.param]
    args += ["--host", "127.0.0.1", "--port", str(port)]
    with testing.running(args, env, tmp_path / "launcher.log") as process:
        testing.wait_for_http(f"http://127.0.0.1:{port}/healthz")
        testing.wait_until(lambda: len(child_pids(process.pid)) == 2)
        yield process, port


@pytest.mark.e2e
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")
def test_processes_share_the_port_and_commands_reach_every_one(launcher):
    process, port = launcher
    ids = [f"LAUNCH-{n}" for n in range(CHARGE_POINTS)]

    async def scenario():
        sockets = [await boot(port, charge_point_id) for charge_point_id in ids]
        try:
            prefixes = await asyncio.to_thread(channel_prefixes, ids)
            answers = await asyncio.gather(
                *(
                    command_send(charge_point_id=cp, action="Reset", payload={"type": "Soft"})
                    for cp in ids
                )
            )
            resets = [client.resets for _, client, _ in sockets]
        finally:
            for ws, _, listener in sockets:
                listener.cancel()
                await ws.close()
            # command_send's ORM calls ran on asgiref's shared sync thread: close
            # its connection, or PostgreSQL cannot drop the test database.
            await sync_to_async(connections.close_all)()
        return prefixes, answers, resets

    prefixes, answers, resets = asyncio.run(scenario())
    # The kernel spread the connections over both processes...
    assert len(prefixes) == 2
    # ...and a command from this third process reached each one's socket.
    assert [answer.response for answer in answers] == [{"status": "Accepted"}] * CHARGE_POINTS
    assert resets == [["Soft"]] * CHARGE_POINTS


@pytest.mark.e2e
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")
def test_a_process_that_dies_is_started_again(launcher):
    process, port = launcher
    victim = child_pids(process.pid)[0]
    os.kill(victim, signal.SIGKILL)
    testing.wait_until(
        lambda: victim not in (pids := child_pids(process.pid)) and len(pids) == 2, timeout=60
    )

    async def every_connection_boots():
        sockets = [await boot(port, f"AGAIN-{n}") for n in range(CHARGE_POINTS)]
        for ws, _, listener in sockets:
            listener.cancel()
            await ws.close()
        return len(sockets)

    assert asyncio.run(every_connection_boots()) == CHARGE_POINTS
    process.terminate()
    assert process.wait(timeout=30) == 0


def test_more_than_one_process_needs_redis(monkeypatch, capsys):
    monkeypatch.delenv("REDIS_URL", raising=False)
    with pytest.raises(SystemExit):
        parse(["--processes", "2"])
    assert "needs REDIS_URL" in capsys.readouterr().err


def test_server_options_follow_the_separator(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    argv = [
        "--processes",
        "3",
        "--port",
        "9000",
        "--server",
        "uvicorn",
        "--",
        "--ws-ping-interval",
        "5",
    ]
    args, options = parse(argv)
    assert (args.processes, args.port, args.server) == (3, 9000, "uvicorn")
    assert options == ["--ws-ping-interval", "5"]


def test_uvicorn_never_believes_forwarded_headers_itself():
    # Only OCPP_TRUSTED_PROXIES decides whose X-Forwarded-* headers count.
    with socket.socket() as sock:
        assert "--no-proxy-headers" in uvicorn_command(sock, [])
