"""Load management over a 1.6 charge point and a 2.0.1 charging station sharing one limit.

Real Daphne and a Celery worker on 127.0.0.1; the 2.0.1 station is the
`ocpp` package's v201 client: its session is a TransactionEvent Started, its
TxProfile must name the station's own transactionId and EVSE.
"""

import asyncio
from datetime import UTC, datetime

import pytest
import websockets
from django.contrib.auth import get_user_model
from ocpp.routing import on
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201
from rest_framework.authtoken.models import Token

from api_support.testing import make_charge_point
from csms_project import testing
from drivers.models import IdTag
from loadmanagement.models import SessionAllocation
from stations.models import Station

from .test_e2e_load_management import (
    SimulatedCharger,
    Site,
    get_allocation,
    patch_station,
    settled,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LIMIT_W = 15_000
CAPACITY_W = 14_250
TX_201 = "lm-201-tx"
CARD = {"id_token": "LM201", "type": "ISO14443"}


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class SimulatedStation(ChargePoint201):
    """A 2.0.1 station drawing what its profiles allow on EVSE 1."""

    def __init__(self, name, ws, site: Site):
        super().__init__(name, ws, response_timeout=15)
        self.site = site
        self.charging = False
        self.tx_limit_a = None
        self.default_limit_a = None
        self.max_limit_w = None
        self.received: list[tuple[int, dict]] = []

    def drawing_w(self) -> float:
        if not self.charging:
            return 0.0
        limit = self.tx_limit_a if self.tx_limit_a is not None else self.default_limit_a
        watts = 16 * 690 if limit is None else min(limit, 16) * 690
        return watts if self.max_limit_w is None else min(watts, self.max_limit_w)

    @on(Action201.set_charging_profile)
    def on_set_charging_profile(self, evse_id, charging_profile, **_):
        self.received.append((evse_id, charging_profile))
        schedule = charging_profile["charging_schedule"][0]
        limit = float(schedule["charging_schedule_period"][0]["limit"])
        if charging_profile["charging_profile_purpose"] == "TxProfile":
            if charging_profile.get("transaction_id") != TX_201 or evse_id != 1:
                return result201.SetChargingProfile(status="Rejected")
            self.tx_limit_a = limit
        elif charging_profile["charging_profile_purpose"] == "ChargingStationMaxProfile":
            if evse_id != 0 or "transaction_id" in charging_profile:
                return result201.SetChargingProfile(status="Rejected")
            self.max_limit_w = limit
        else:
            self.default_limit_a = limit
        self.site.set(self.id, self.drawing_w())
        return result201.SetChargingProfile(status="Accepted")

    async def event(self, event_type: str, seq_no: int):
        extra = {"id_token": CARD, "evse": {"id": 1, "connector_id": 1}} if seq_no == 0 else {}
        info = {"transaction_id": TX_201}
        if event_type == "Ended":
            info["stopped_reason"] = "EVDisconnected"
        await self.call(
            call201.TransactionEvent(
                event_type=event_type,
                timestamp=now(),
                trigger_reason="Authorized" if seq_no == 0 else "EVCommunicationLost",
                seq_no=seq_no,
                transaction_info=info,
                **extra,
            )
        )


async def play(base_url: str, token: str, station_id: int) -> dict:
    site = Site()
    ws_base = base_url.replace("http://", "ws://") + "/ocpp/"
    seen = {}
    ws16 = await websockets.connect(ws_base + "MIX-16", subprotocols=["ocpp1.6"])
    ws201 = await websockets.connect(ws_base + "MIX-201", subprotocols=["ocpp2.0.1"])
    charger = SimulatedCharger("MIX-16", ws16, site)
    station = SimulatedStation("MIX-201", ws201, site)
    listeners = [asyncio.create_task(charger.start()), asyncio.create_task(station.start())]
    try:
        await charger.boot()
        await station.call(
            call201.BootNotification(
                charging_station={"vendor_name": "Sim", "model": "LM-201"}, reason="PowerUp"
            )
        )
        await asyncio.to_thread(
            patch_station, base_url, token, station_id, {"grid_limit_w": LIMIT_W}
        )
        await charger.start_session("LM16")
        await wait_for(lambda: settled(1))
        station.charging = True
        site.set(station.id, station.drawing_w())
        await station.event("Started", 0)
        await wait_for(lambda: settled(2))
        seen["both"] = await asyncio.to_thread(get_allocation, base_url, token, station_id)
        share = min(entry["allocated_w"] for entry in seen["both"]["sessions"])
        station.charging = False
        site.set(station.id, 0.0)
        await station.event("Ended", 1)
        # The 2.0.1 session's share is free again (kept for the next start: a
        # connector is free).
        await wait_for(lambda: settled(1) and SessionAllocation.objects.get().allocated_w >= share)
        seen["one"] = await asyncio.to_thread(get_allocation, base_url, token, station_id)
    finally:
        for listener in listeners:
            listener.cancel()
        await ws16.close()
        await ws201.close()
    seen["peak"] = site.peak
    seen["received_201"] = station.received
    return seen


def test_a_16_and_a_201_charger_share_one_limit(tmp_path):
    station = Station.objects.create(name="Mixed depot")
    for name in ("MIX-16", "MIX-201"):
        make_charge_point(name, station=station).connectors.update(max_power_w=11_040)
    IdTag.objects.create(id_tag="LM16")
    IdTag.objects.create(id_tag="LM201")
    operator = get_user_model().objects.create_user(
        "ops", password="x" * 20, is_staff=True, is_superuser=True
    )
    token = Token.objects.create(user=operator).key
    env = testing.process_env(OCPP_AUTO_REGISTER="1")
    with testing.daphne_node(env, tmp_path) as base_url, testing.celery_worker(env, tmp_path):
        seen = asyncio.run(play(base_url, token, station.pk))

    assert seen["peak"] <= CAPACITY_W
    both = seen["both"]
    assert len(both["sessions"]) == 2
    assert both["allocated_w"] <= CAPACITY_W
    assert {entry["state"] for entry in both["sessions"]} == {"accepted"}
    assert [entry["charge_point"] for entry in seen["one"]["sessions"]] == ["MIX-16"]
    purposes = {(evse, p["charging_profile_purpose"]) for evse, p in seen["received_201"]}
    assert purposes == {
        (0, "TxDefaultProfile"),
        (0, "ChargingStationMaxProfile"),
        (1, "TxProfile"),
    }
    tx_profiles = [
        p for _evse, p in seen["received_201"] if p["charging_profile_purpose"] == "TxProfile"
    ]
    assert all(p["transaction_id"] == TX_201 for p in tx_profiles)
