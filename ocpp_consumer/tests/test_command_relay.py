"""Commands from other processes on the embedded default (no Redis): the relay.

A real Daphne on the in-process channel layer holds the socket; `manage.py
ocpp_command` runs as its own process, as a user runs it, and must reach the
charge point through the database (commands/relay.py) in a few seconds.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import pytest

from csms_project import testing
from ocpp_consumer.commands.relay import servers_running
from ocpp_consumer.models import Command, CommandRelay, CommandStatus
from stations.models import ChargePoint

from .test_cluster import connect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# "At once": well before a command's answer timeout (OCPP_CALL_TIMEOUT, 30 s),
# which is what these answers must not wait for. Most of it is starting a
# Python process, which takes seconds on a loaded 2-core CI machine.
AT_ONCE_SECONDS = 20


def embedded_env() -> dict[str, str]:
    """A server's environment on the embedded default: no Redis anywhere."""
    env = testing.process_env(CELERY_BROKER_URL="memory://")
    env.pop("REDIS_URL", None)
    env.pop("CHANNEL_LAYER_PREFIX", None)
    return env


def ocpp_command(env, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "manage.py", "ocpp_command", *args],
        cwd=testing.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    return done, time.monotonic() - started


@pytest.fixture
def server(tmp_path):
    env = embedded_env()
    with testing.daphne_node(env, tmp_path) as base_url:
        # It registers in the node registry just after it starts serving.
        testing.wait_until(servers_running, timeout=15)
        yield env, base_url


def test_ocpp_command_reaches_a_charge_point_held_by_the_server(server):
    env, base_url = server

    async def scenario():
        ws, client, listener = await connect(base_url, "NEWCOMER-1")
        try:
            reset = await asyncio.to_thread(
                ocpp_command, env, "NEWCOMER-1", "Reset", json.dumps({"type": "Soft"})
            )
            config = await asyncio.to_thread(
                ocpp_command, env, "NEWCOMER-1", "GetConfiguration", "{}"
            )
        finally:
            listener.cancel()
            await ws.close()
        return reset, config, client.resets

    (reset, reset_seconds), (config, _), resets = asyncio.run(scenario())
    assert reset.returncode == 0, reset.stderr
    assert json.loads(reset.stdout) == {"status": "Accepted"}
    assert resets == ["Soft"]
    # A Python process start is most of it; the relay adds a poll (0.3 s).
    assert reset_seconds < AT_ONCE_SECONDS, reset_seconds
    # The library's test charge point has no GetConfiguration handler: a
    # CALLERROR, reported as such, and at once.
    assert config.returncode == 1
    assert "NotImplemented" in config.stderr or "NotSupported" in config.stderr, config.stderr
    reset_record = Command.objects.get(action="Reset")
    assert (reset_record.status, reset_record.source) == (CommandStatus.ANSWERED, "cli")
    assert not CommandRelay.objects.exists(), "a taken command leaves no relay row"


def test_not_connected_answers_at_once(server):
    env, _ = server
    ChargePoint.objects.create(charge_point_id="ASLEEP")
    done, seconds = ocpp_command(env, "ASLEEP", "Reset", '{"type": "Soft"}')
    assert done.returncode == 1
    assert "ASLEEP is not connected" in done.stderr
    assert "no CSMS server" not in done.stderr  # one is running
    assert seconds < AT_ONCE_SECONDS


def test_socket_no_running_server_holds_answers_in_seconds(server):
    """Marked connected, but on a channel no process holds (a killed server's)."""
    env, _ = server
    ChargePoint.objects.create(
        charge_point_id="GHOST", is_online=True, connection_channel="specific..inmemory!gone"
    )
    done, seconds = ocpp_command(env, "GHOST", "Reset", '{"type": "Soft"}')
    assert done.returncode == 1
    assert "GHOST is not connected to any running server process" in done.stderr
    assert seconds < AT_ONCE_SECONDS
    command = Command.objects.get()
    assert command.status == CommandStatus.OFFLINE
    assert not CommandRelay.objects.exists()


def test_without_a_running_server_says_what_to_do():
    env = embedded_env()
    ChargePoint.objects.create(charge_point_id="ASLEEP")
    ChargePoint.objects.create(
        charge_point_id="GHOST", is_online=True, connection_channel="specific..inmemory!gone"
    )
    for charge_point_id in ("ASLEEP", "GHOST"):
        done, seconds = ocpp_command(env, charge_point_id, "Reset", '{"type": "Soft"}')
        assert done.returncode == 1
        assert "no CSMS server process is running: start it (bin/run)" in done.stderr
        assert seconds < AT_ONCE_SECONDS
