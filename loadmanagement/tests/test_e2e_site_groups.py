"""A site of two stations end to end: one limit, chargers' caps, and clearing on leaving.

Real Daphne and a Celery worker on 127.0.0.1. The depot has a 1.6 charge
point, the annex a 2.0.1 charging station (the `ocpp` package's clients);
the operator makes them one site through the API. Both sessions share the
limit, each charger gets its maximum profile on connector/EVSE 0, and they
draw what their profiles allow (never above the cap). Then the annex leaves
the site and the site is switched off: each charger is asked to clear, by
id, exactly the profiles load management installed there, and is then no
longer throttled.
"""

import asyncio
import json
import urllib.request

import pytest
import websockets
from django.contrib.auth import get_user_model
from ocpp.routing import on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201
from rest_framework.authtoken.models import Token

from api_support.testing import make_charge_point
from csms_project import testing
from drivers.models import IdTag
from loadmanagement.models import (
    ChargerMaxProfile,
    ClearState,
    ProfileClearance,
    SendState,
    SessionAllocation,
)
from stations.models import Station

from .test_e2e_load_management import SimulatedCharger, Site, get_allocation, settled, wait_for
from .test_e2e_mixed_fleet import SimulatedStation

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LIMIT_W = 15_000
CAPACITY_W = 14_250
BASE = 70_000


class ClearingCharger(SimulatedCharger):
    """A 1.6 charger that keeps its profiles by id and clears them when asked."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.installed: dict[int, str] = {}
        self.cleared: list[int] = []

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, connector_id, cs_charging_profiles, **kwargs):
        answer = super().on_set_charging_profile(connector_id, cs_charging_profiles, **kwargs)
        if answer.status == "Accepted":
            self.installed[cs_charging_profiles["charging_profile_id"]] = cs_charging_profiles[
                "charging_profile_purpose"
            ]
        return answer

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(self, id=None, **_):  # noqa: A002 (the OCPP field's name)
        purpose = self.installed.pop(id, None)
        if purpose is None:
            return call_result.ClearChargingProfile(status="Unknown")
        self.cleared.append(id)
        if purpose == "ChargePointMaxProfile":
            self.max_limit_w = None
        elif purpose == "TxProfile":
            self.tx_limit_a = None
        else:
            self.default_limit_a = None
        self.site.set(self.id, self.drawing_w())
        return call_result.ClearChargingProfile(status="Accepted")


class ClearingStation(SimulatedStation):
    """A 2.0.1 station that keeps its profiles by id and clears them when asked."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.installed: dict[int, str] = {}
        self.cleared: list[int] = []

    @on(Action201.set_charging_profile)
    def on_set_charging_profile(self, evse_id, charging_profile, **kwargs):
        answer = super().on_set_charging_profile(evse_id, charging_profile, **kwargs)
        if answer.status == "Accepted":
            self.installed[charging_profile["id"]] = charging_profile["charging_profile_purpose"]
        return answer

    @on(Action201.clear_charging_profile)
    def on_clear_charging_profile(self, charging_profile_id=None, **_):
        purpose = self.installed.pop(charging_profile_id, None)
        if purpose is None:
            return result201.ClearChargingProfile(status="Unknown")
        self.cleared.append(charging_profile_id)
        if purpose == "ChargingStationMaxProfile":
            self.max_limit_w = None
        elif purpose == "TxProfile":
            self.tx_limit_a = None
        else:
            self.default_limit_a = None
        self.site.set(self.id, self.drawing_w())
        return result201.ClearChargingProfile(status="Accepted")


def api(base_url: str, token: str, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"{base_url}/api/v1/{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def caps_accepted(count: int) -> bool:
    states = list(ChargerMaxProfile.objects.values_list("state", flat=True))
    return len(states) == count and all(state == SendState.ACCEPTED for state in states)


def cleared(count: int) -> bool:
    states = list(ProfileClearance.objects.values_list("state", flat=True))
    return len(states) == count and all(state == ClearState.CLEARED for state in states)


async def play(base_url: str, token: str, depot_id: int, annex_id: int) -> dict:
    site = Site()
    ws_base = base_url.replace("http://", "ws://") + "/ocpp/"
    seen = {}
    ws16 = await websockets.connect(ws_base + "GRP-16", subprotocols=["ocpp1.6"])
    ws201 = await websockets.connect(ws_base + "GRP-201", subprotocols=["ocpp2.0.1"])
    charger = ClearingCharger("GRP-16", ws16, site)
    station = ClearingStation("GRP-201", ws201, site)
    listeners = [asyncio.create_task(charger.start()), asyncio.create_task(station.start())]
    try:
        await charger.boot()
        await station.call(
            call201.BootNotification(
                charging_station={"vendor_name": "Sim", "model": "LM-201"}, reason="PowerUp"
            )
        )
        path = f"stations/{depot_id}/load-management/"
        seen["site"] = await asyncio.to_thread(
            api, base_url, token, "PATCH", path, {"grid_limit_w": LIMIT_W}
        )
        seen["group"] = await asyncio.to_thread(
            api, base_url, token, "PATCH", path, {"stations": [depot_id, annex_id]}
        )
        await wait_for(lambda: caps_accepted(2))
        await charger.start_session("GRP16")
        await wait_for(lambda: settled(1))
        station.charging = True
        site.set(station.id, station.drawing_w())
        await station.event("Started", 0)
        await wait_for(lambda: settled(2))
        # The annex's allocation is the site's: both sessions.
        seen["both"] = await asyncio.to_thread(get_allocation, base_url, token, annex_id)
        seen["draw_both"] = sum(site.draw.values())
        seen["peak"] = site.peak

        # The annex leaves the site: its station's profiles are cleared, by their ids.
        await asyncio.to_thread(api, base_url, token, "PATCH", path, {"stations": [depot_id]})
        await wait_for(lambda: cleared(1))
        seen["annex_cleared"] = sorted(station.cleared)
        seen["annex_left"] = dict(station.installed)
        seen["annex_draw"] = station.drawing_w()
        await wait_for(lambda: settled(1))

        # The site is switched off: the depot's charger is cleared as well.
        await asyncio.to_thread(api, base_url, token, "PATCH", path, {"enabled": False})
        await wait_for(lambda: cleared(2))
        seen["depot_cleared"] = sorted(charger.cleared)
        seen["depot_left"] = dict(charger.installed)
        seen["depot_draw"] = charger.drawing_w()
        seen["allocations_left"] = await asyncio.to_thread(SessionAllocation.objects.count)
    finally:
        for listener in listeners:
            listener.cancel()
        await ws16.close()
        await ws201.close()
    return seen


def test_two_stations_share_a_site_and_leaving_or_switching_off_clears_the_profiles(tmp_path):
    depot = Station.objects.create(name="Group depot")
    annex = Station.objects.create(name="Group annex")
    make_charge_point("GRP-16", station=depot).connectors.update(max_power_w=11_040)
    make_charge_point("GRP-201", station=annex).connectors.update(max_power_w=11_040)
    IdTag.objects.create(id_tag="GRP16")
    IdTag.objects.create(id_tag="LM201")
    operator = get_user_model().objects.create_user(
        "ops", password="x" * 20, is_staff=True, is_superuser=True
    )
    token = Token.objects.create(user=operator).key
    env = testing.process_env(OCPP_AUTO_REGISTER="1")
    with testing.daphne_node(env, tmp_path) as base_url, testing.celery_worker(env, tmp_path):
        seen = asyncio.run(play(base_url, token, depot.pk, annex.pk))

    assert seen["site"]["stations"] == [depot.pk]
    assert seen["group"]["stations"] == [depot.pk, annex.pk]
    both = seen["both"]
    assert {entry["charge_point"] for entry in both["sessions"]} == {"GRP-16", "GRP-201"}
    assert {entry["state"] for entry in both["sessions"]} == {"accepted"}
    assert both["allocated_w"] <= CAPACITY_W
    assert seen["draw_both"] <= CAPACITY_W and seen["peak"] <= CAPACITY_W
    # The annex's station: its cap, its fallback and its session's TxProfile, all cleared.
    assert seen["annex_cleared"] == [BASE - 1, BASE, BASE + 1]
    assert seen["annex_left"] == {}
    assert seen["annex_draw"] == 16 * 690  # no longer throttled
    assert seen["depot_cleared"] == [BASE - 1, BASE, BASE + 1]
    assert seen["depot_left"] == {}
    assert seen["depot_draw"] == 16 * 3 * 230
    assert seen["allocations_left"] == 0
