"""Site load management end to end: simulated charge points under a grid limit.

Daphne and a Celery worker run as real processes on 127.0.0.1; three OCPP
1.6 charge points (the `ocpp` package's client over websockets) start and
stop sessions, answer SetChargingProfile and draw exactly what their
profiles allow (the TxProfile of their session, else their TxDefaultProfile),
reporting it in MeterValues. The operator sets the limit through the API.
What they draw together is tracked at every change and must never exceed
the limit less its margin.
"""

import asyncio
import json
import urllib.request
from datetime import UTC, datetime

import pytest
import websockets
from django.contrib.auth import get_user_model
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action, ChargePointErrorCode, ChargePointStatus
from rest_framework.authtoken.models import Token

from api_support.testing import make_charge_point
from csms_project import testing
from drivers.models import IdTag
from loadmanagement.models import ChargerFallback, SendState, SessionAllocation
from stations.models import Station

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LIMIT_W = 15_000
CAPACITY_W = 14_250  # less the default 5 % margin
VOLTAGE = 230
TAGS = ("TAG-A", "TAG-B", "TAG-C")


class Site:
    """What every simulated charger draws now, and the highest total seen."""

    def __init__(self):
        self.draw: dict[str, float] = {}
        self.peak = 0.0
        self.changes = 0

    def set(self, name: str, watts: float) -> None:
        self.draw[name] = watts
        self.peak = max(self.peak, sum(self.draw.values()))
        self.changes += 1


class SimulatedCharger(ChargePoint):
    """Follows its profiles: draws the TxProfile's limit in a session, else the default's."""

    def __init__(self, name, ws, site: Site):
        super().__init__(name, ws, response_timeout=15)
        self.site = site
        self.tx_id: int | None = None
        self.tx_limit_a: float | None = None
        self.default_limit_a: float | None = None
        self.max_limit_w: float | None = None  # its ChargePointMaxProfile caps it as a whole
        self.profiles: list[dict] = []

    def drawing_w(self) -> float:
        if self.tx_id is None:
            return 0.0
        limit = self.tx_limit_a if self.tx_limit_a is not None else self.default_limit_a
        watts = 16 * 3 * VOLTAGE if limit is None else min(limit, 16) * 3 * VOLTAGE
        return watts if self.max_limit_w is None else min(watts, self.max_limit_w)

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, connector_id, cs_charging_profiles, **_):
        schedule = cs_charging_profiles["charging_schedule"]
        limit = float(schedule["charging_schedule_period"][0]["limit"])
        purpose = cs_charging_profiles["charging_profile_purpose"]
        self.profiles.append(cs_charging_profiles)
        if purpose == "ChargePointMaxProfile":
            assert connector_id == 0 and "transaction_id" not in cs_charging_profiles
            assert schedule["charging_rate_unit"] == "W"
            self.max_limit_w = limit
            self.site.set(self.id, self.drawing_w())
            return call_result.SetChargingProfile(status="Accepted")
        assert schedule["charging_rate_unit"] == "A"
        if purpose == "TxProfile":
            if cs_charging_profiles.get("transaction_id") != self.tx_id:
                return call_result.SetChargingProfile(status="Rejected")
            self.tx_limit_a = limit
        else:
            self.default_limit_a = limit
        self.site.set(self.id, self.drawing_w())
        return call_result.SetChargingProfile(status="Accepted")

    @after(Action.set_charging_profile)
    async def report_draw(self, **_):
        if self.tx_id is not None:
            await self.meter(self.drawing_w())

    async def meter(self, watts: float) -> None:
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        await self.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=self.tx_id,
                meter_value=[
                    {
                        "timestamp": now,
                        "sampledValue": [
                            {
                                "value": str(round(watts)),
                                "measurand": "Power.Active.Import",
                                "unit": "W",
                            }
                        ],
                    }
                ],
            )
        )

    async def boot(self):
        await self.call(call.BootNotification(charge_point_vendor="Sim", charge_point_model="LM"))
        await self.call(
            call.StatusNotification(
                connector_id=1,
                error_code=ChargePointErrorCode.no_error,
                status=ChargePointStatus.available,
            )
        )

    async def start_session(self, id_tag: str):
        answer = await self.call(
            call.StartTransaction(
                connector_id=1,
                id_tag=id_tag,
                meter_start=0,
                timestamp=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            )
        )
        self.tx_id = answer.transaction_id
        self.tx_limit_a = None
        self.site.set(self.id, self.drawing_w())  # its fallback until its profile arrives

    async def stop_session(self):
        await self.call(
            call.StopTransaction(
                meter_stop=1_000,
                timestamp=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                transaction_id=self.tx_id,
            )
        )
        self.tx_id, self.tx_limit_a = None, None
        self.site.set(self.id, 0.0)


def patch_station(base_url: str, token: str, station_id: int, body: dict) -> dict:
    request = urllib.request.Request(
        f"{base_url}/api/v1/stations/{station_id}/",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="PATCH",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def get_allocation(base_url: str, token: str, station_id: int) -> dict:
    request = urllib.request.Request(
        f"{base_url}/api/v1/stations/{station_id}/allocation/",
        headers={"Authorization": f"Token {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def settled(running: int) -> bool:
    """Every running session's profile accepted, and nothing left to send."""
    rows = list(SessionAllocation.objects.values_list("state", flat=True))
    return len(rows) == running and all(state == SendState.ACCEPTED for state in rows)


async def wait_for(predicate, timeout: float = 40.0):
    return await asyncio.to_thread(testing.wait_until, predicate, timeout)


async def play(base_url: str, token: str, station_id: int) -> dict:
    site = Site()
    ws_base = base_url.replace("http://", "ws://") + "/ocpp/"
    seen = {}
    sockets, chargers, listeners = [], [], []
    try:
        for name in ("LM-E2E-1", "LM-E2E-2", "LM-E2E-3"):
            ws = await websockets.connect(ws_base + name, subprotocols=["ocpp1.6"])
            charger = SimulatedCharger(name, ws, site)
            sockets.append(ws)
            chargers.append(charger)
            listeners.append(asyncio.create_task(charger.start()))
            await charger.boot()
        seen["limit"] = await asyncio.to_thread(
            patch_station, base_url, token, station_id, {"grid_limit_w": LIMIT_W}
        )
        await wait_for(
            lambda: ChargerFallback.objects.filter(state=SendState.ACCEPTED).count() == 3
        )
        for running, (charger, tag) in enumerate(zip(chargers, TAGS, strict=True), 1):
            await charger.start_session(tag)
            await wait_for(lambda running=running: settled(running))
        seen["three"] = await asyncio.to_thread(get_allocation, base_url, token, station_id)
        seen["draw_three"] = dict(site.draw)
        # Two leave: the one left is given more (a free connector keeps room for a start).
        await chargers[0].stop_session()
        await wait_for(lambda: settled(2))
        await chargers[1].stop_session()
        share = seen["three"]["sessions"][2]["allocated_w"]
        await wait_for(lambda: settled(1) and SessionAllocation.objects.get().allocated_w > share)
        # The sweep reads what it draws from its meter values.
        drawn = round(site.draw[chargers[2].id])
        await wait_for(lambda: SessionAllocation.objects.get().measured_w == drawn)
        seen["one"] = await asyncio.to_thread(get_allocation, base_url, token, station_id)
        seen["draw_one"] = dict(site.draw)
    finally:
        for listener in listeners:
            listener.cancel()
        for ws in sockets:
            await ws.close()
    seen["peak"] = site.peak
    seen["changes"] = site.changes
    seen["profiles"] = [charger.profiles for charger in chargers]
    return seen


def test_sessions_come_and_go_and_the_site_never_draws_above_its_limit(tmp_path):
    station = Station.objects.create(name="E2E depot")
    for name in ("LM-E2E-1", "LM-E2E-2", "LM-E2E-3"):
        make_charge_point(name, station=station).connectors.update(max_power_w=11_040)
    for tag in TAGS:
        IdTag.objects.create(id_tag=tag)
    operator = get_user_model().objects.create_user(
        "ops", password="x" * 20, is_staff=True, is_superuser=True
    )
    token = Token.objects.create(user=operator).key
    env = testing.process_env(OCPP_AUTO_REGISTER="1", LOADMGMT_SWEEP_SECONDS="2")
    with (
        testing.daphne_node(env, tmp_path) as base_url,
        testing.celery_worker(env, tmp_path, beat=True),
    ):
        seen = asyncio.run(play(base_url, token, station.pk))

    assert seen["limit"]["grid_limit_w"] == LIMIT_W
    # The chargers drew what their profiles allowed; together never above the limit.
    assert seen["changes"] > 6
    assert seen["peak"] <= CAPACITY_W
    three = seen["three"]
    assert three["grid_limit_w"] == LIMIT_W
    assert len(three["sessions"]) == 3
    assert three["allocated_w"] <= CAPACITY_W
    assert sum(seen["draw_three"].values()) <= CAPACITY_W
    # One left: it was given more, still under the limit, and reported drawing it.
    one = seen["one"]
    assert len(one["sessions"]) == 1
    assert one["allocated_w"] > three["sessions"][2]["allocated_w"]
    assert round(sum(seen["draw_one"].values())) == one["allocated_w"] == one["measured_w"]
    # Every TxProfile named its session; a TxDefaultProfile and a ChargePointMaxProfile
    # (the most the site can give the charger: its own 11.04 kW) went to connector 0 of each.
    for profiles in seen["profiles"]:
        purposes = {profile["charging_profile_purpose"] for profile in profiles}
        assert purposes == {"TxProfile", "TxDefaultProfile", "ChargePointMaxProfile"}
        caps = [p for p in profiles if p["charging_profile_purpose"] == "ChargePointMaxProfile"]
        assert caps[0]["charging_schedule"]["charging_schedule_period"][0]["limit"] == 11_040
