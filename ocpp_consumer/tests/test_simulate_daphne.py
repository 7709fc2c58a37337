"""`manage.py simulate` against the project's own Daphne, a real process on
127.0.0.1 sharing the test database, as the other e2e tests do.

The simulator drives and this CSMS is checked (what it stored, what its API
answered), so the test lives with the adapter's: the `simulator` app,
tests included, imports nothing of the CSMS.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
import urllib.request
import uuid

import pytest
from django.core.management import call_command

from csms_project import testing
from drivers.models import IdTag, User
from ocpp_consumer.models import Command, CommandStatus
from simulator import Simulation, SimulationConfig
from stations.models import ChargePoint, MeterValue, Transaction

# --- against the project's own Daphne ----------------------------------------------------


async def wait_for(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)


@pytest.fixture
def daphne(tmp_path):
    """Daphne on 127.0.0.1 with auto-registration, sharing the test database.

    Its Celery broker is in memory (the invoice tasks of the sessions go
    nowhere) and, on Redis, its channel layer has its own prefix, deleted after.
    """
    prefix = f"sim-test-{uuid.uuid4().hex[:12]}"
    env = testing.process_env(
        OCPP_AUTO_REGISTER="1", CELERY_BROKER_URL="memory://", CHANNEL_LAYER_PREFIX=prefix
    )
    try:
        with testing.daphne_node(env, tmp_path) as base_url:
            yield base_url.replace("http://", "ws://") + "/ocpp/", base_url
    finally:
        if os.environ.get("REDIS_URL"):
            import redis

            client = redis.Redis.from_url(os.environ["REDIS_URL"])
            keys = list(client.scan_iter(match=f"{prefix}*"))
            if keys:
                client.delete(*keys)
            client.close()


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_fleet_against_daphne_fills_the_database(daphne, tmp_path):
    ws_url, _ = daphne
    IdTag.objects.bulk_create([IdTag(id_tag=f"SIMTAG{n:04d}") for n in range(1, 13)])
    path = tmp_path / "report.json"
    call_command(
        "simulate",
        *("--url", ws_url, "--charge-points", "3", "--duration", "4", "--seed", "5"),
        *("--sessions-per-hour", "7200", "--session-minutes", "0.02", "--meter-interval", "0.3"),
        *("--heartbeat-interval", "1", "--id-tag-count", "12", "--quiet", "--json", str(path)),
        stdout=io.StringIO(),
    )
    report = json.loads(path.read_text())

    sent = report["sent"]
    assert sent["BootNotification"]["sent"] == sent["BootNotification"]["answered"] == 3
    for action in ("StartTransaction", "StopTransaction", "MeterValues", "Heartbeat"):
        assert sent[action]["answered"] > 0, action
        assert sent[action]["latency_ms"]["p99"] > 0
    assert report["totals"]["errors"] == 0
    assert report["totals"]["sent"] == report["totals"]["answered"]
    assert report["connections"]["handshakes_ok"] == report["connections"]["connected_at_end"] == 3
    sessions = report["sessions"]
    assert sessions["started"] == sessions["completed"] == sent["StartTransaction"]["answered"]
    assert sessions["refused"] == 0

    charge_points = ChargePoint.objects.filter(charge_point_id__startswith="SIM-")
    assert sorted(charge_points.values_list("charge_point_id", flat=True)) == [
        "SIM-00001",
        "SIM-00002",
        "SIM-00003",
    ]
    assert {(cp.vendor, cp.model) for cp in charge_points} == {("CSMS-Simulator", "Simulated AC")}
    transactions = Transaction.objects.filter(charge_point__in=charge_points)
    assert transactions.count() == sessions["started"]
    assert not transactions.filter(stop_timestamp__isnull=True).exists()  # all closed
    assert {t.stop_reason for t in transactions} == {"Local"}
    assert all(t.meter_stop >= t.meter_start for t in transactions)
    registers = MeterValue.objects.filter(
        transaction__in=transactions, measurand="Energy.Active.Import.Register"
    )
    assert registers.count() == sent["MeterValues"]["answered"]
    assert MeterValue.objects.filter(
        transaction__in=transactions, measurand="Power.Active.Import"
    ).exists()


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_commands_sent_through_the_csms_api_are_answered(daphne):
    ws_url, base_url = daphne
    IdTag.objects.create(id_tag="SIMTAG")
    operator = User.objects.create_user("ops", password="x" * 20, is_staff=True, is_superuser=True)
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=operator).key

    def post(action: str, body: dict) -> tuple[int, dict]:
        request = urllib.request.Request(
            f"{base_url}/api/v1/charge-points/SIM-00001/commands/{action}/",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())

    async def scenario():
        config = SimulationConfig(
            url=ws_url, connectors=2, sessions_per_hour=0, session_minutes=10, meter_interval=0.3
        )
        simulation = Simulation(config)
        run = asyncio.ensure_future(simulation.run())
        await wait_for(
            lambda: simulation.stats.actions["StatusNotification"].answered == 3, timeout=20
        )
        answers = {"configuration": await asyncio.to_thread(post, "get-configuration", {})}
        answers["start"] = await asyncio.to_thread(
            post, "remote-start-transaction", {"id_tag": "SIMTAG", "connector_id": 2}
        )
        connector = simulation.charge_points[0].connectors[1]
        await wait_for(lambda: simulation.stats.actions["MeterValues"].answered >= 1, timeout=10)
        answers["stop"] = await asyncio.to_thread(
            post, "remote-stop-transaction", {"transaction_id": connector.transaction_id}
        )
        await wait_for(lambda: not connector.busy, timeout=10)
        simulation.request_stop()
        return answers, await run

    answers, report = asyncio.run(scenario())

    status, body = answers["configuration"]
    assert status == 200
    keys = {item["key"]: item for item in body["response"]["configuration_key"]}
    assert keys["HeartbeatInterval"] == {
        "key": "HeartbeatInterval",
        "readonly": False,
        "value": "300",
    }
    assert keys["NumberOfConnectors"]["value"] == "2"
    status, body = answers["start"]
    assert status == 200 and isinstance(body.pop("command_id"), int)
    assert body == {"status": "Accepted", "response": {"status": "Accepted"}}
    assert answers["stop"] == (200, {"status": "Accepted", "response": {"status": "Accepted"}})

    assert report["received"] == {
        "GetConfiguration": {"answered": 1},
        "RemoteStartTransaction": {"answered": 1},
        "RemoteStopTransaction": {"answered": 1},
    }
    assert report["sessions"]["remote_started"] == report["sessions"]["remote_stopped"] == 1
    assert report["totals"]["errors"] == 0
    session = Transaction.objects.get(charge_point__charge_point_id="SIM-00001")
    assert (session.connector.connector_id, session.id_tag, session.stop_reason) == (
        2,
        "SIMTAG",
        "Remote",
    )
    assert session.meter_stop >= session.meter_start
    assert MeterValue.objects.filter(transaction=session).exists()
    assert list(Command.objects.order_by("id").values_list("action", "status")) == [
        ("GetConfiguration", CommandStatus.ANSWERED),
        ("RemoteStartTransaction", CommandStatus.ANSWERED),
        ("RemoteStopTransaction", CommandStatus.ANSWERED),
    ]
