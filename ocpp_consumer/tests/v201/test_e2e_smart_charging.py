"""OCPP 2.0.1 smart charging against real Daphne: a profile set through the API, then asked.

The charging station is the `ocpp` package's v201 ChargePoint over
`websockets`; the operator's commands go through the HTTP API of the same
Daphne process, and the station's report comes back on its socket.
"""

import asyncio
from decimal import Decimal

import pytest
import websockets
from django.contrib.auth import get_user_model
from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action
from rest_framework.authtoken.models import Token

from csms_project import testing
from stations.models import ChargingProfile

from .test_e2e_provisioning import api, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

STATION_ID = "E2E-PROV-201"  # the name `api` posts to
PROFILE = {
    "id": 21,
    "stack_level": 1,
    "charging_profile_purpose": "TxDefaultProfile",
    "charging_profile_kind": "Absolute",
    "charging_schedule": [
        {
            "id": 1,
            "charging_rate_unit": "W",
            "charging_schedule_period": [
                {"start_period": 0, "limit": 7400.0},
                {"start_period": 1800, "limit": 3700.0, "number_phases": 1},
            ],
        }
    ],
}
GRID_LIMIT = {
    "id": 90,
    "stack_level": 0,
    "charging_profile_purpose": "ChargingStationExternalConstraints",
    "charging_profile_kind": "Absolute",
    "charging_schedule": [
        {
            "id": 2,
            "charging_rate_unit": "A",
            "charging_schedule_period": [{"start_period": 0, "limit": 20.0}],
        }
    ],
}


class Station(ChargePoint):
    """Keeps the profiles it accepts, and reports them with a grid operator's limit."""

    installed: dict[int, tuple[int, dict]] = {}

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, evse_id, charging_profile, **_):
        self.installed[charging_profile["id"]] = (evse_id, charging_profile)
        return call_result.SetChargingProfile(status="Accepted")

    @on(Action.get_charging_profiles)
    def on_get_charging_profiles(self, request_id, charging_profile, **_):
        return call_result.GetChargingProfiles(status="Accepted")

    @after(Action.get_charging_profiles)
    async def report(self, request_id, **_):
        for evse_id, profile in self.installed.values():
            await self.call(
                call.ReportChargingProfiles(
                    request_id=request_id,
                    charging_limit_source="CSO",
                    evse_id=evse_id,
                    charging_profile=[profile],
                    tbc=True,
                )
            )
        await self.call(
            call.ReportChargingProfiles(
                request_id=request_id,
                charging_limit_source="SO",
                evse_id=0,
                charging_profile=[GRID_LIMIT],
            )
        )


async def play(ws_url: str, base_url: str, token: str) -> dict:
    answers = {}

    async def post(path: str, body: dict) -> dict:
        status, answer = await asyncio.to_thread(api, base_url, token, path, body)
        assert status == 200, answer
        return answer

    async with websockets.connect(ws_url, subprotocols=["ocpp2.0.1"]) as ws:
        station = Station(STATION_ID, ws, response_timeout=15)
        listener = asyncio.create_task(station.start())
        try:
            boot = await station.call(
                call.BootNotification(
                    charging_station={"vendor_name": "E2EVendor", "model": "Smart-201"},
                    reason="PowerUp",
                )
            )
            answers["boot"] = boot.status
            answers["set"] = await post(
                "commands/set-charging-profile/", {"evse_id": 1, "charging_profile": PROFILE}
            )
            answers["get"] = await post(
                "commands/get-charging-profiles/", {"request_id": 3, "charging_profile": {}}
            )
            await wait_for(lambda: ChargingProfile.objects.filter(limit_source="SO").exists())
        finally:
            listener.cancel()
    answers["installed"] = dict(Station.installed)
    return answers


def test_a_profile_set_through_the_api_is_recorded_and_reported_back(tmp_path):
    operator = get_user_model().objects.create_user(
        "ops", password="x" * 20, is_staff=True, is_superuser=True
    )
    token = Token.objects.create(user=operator).key
    env = testing.process_env(OCPP_AUTO_REGISTER="1")
    with testing.daphne_node(env, tmp_path) as base_url:
        ws_url = base_url.replace("http://", "ws://") + f"/ocpp/{STATION_ID}"
        answers = asyncio.run(play(ws_url, base_url, token))

    assert answers["boot"] == "Accepted"
    assert answers["set"] == {"status": "Accepted", "response": {"status": "Accepted"}}
    assert answers["get"] == {"status": "Accepted", "response": {"status": "Accepted"}}
    # The station got the 2.0.1 profile as the operator wrote it (the library's snake_case).
    assert answers["installed"] == {21: (1, PROFILE)}

    ours = ChargingProfile.objects.get(charging_profile_id=21)
    assert (ours.connector_id, ours.purpose, ours.stack_level, ours.limit_source) == (
        1,
        "TxDefaultProfile",
        1,
        "CSO",
    )
    assert ours.cleared_at is None  # reported back as installed: the same record stays
    assert list(ours.periods.values_list("start_period", "limit", "number_phases")) == [
        (0, Decimal("7400.0"), None),
        (1800, Decimal("3700.0"), 1),
    ]
    grid = ChargingProfile.objects.get(charging_profile_id=90)
    assert (grid.connector_id, grid.purpose, grid.limit_source, grid.cleared_at) == (
        0,
        "ExternalConstraints",
        "SO",
        None,
    )
    assert ChargingProfile.objects.count() == 2
