"""OCPP 2.0.1 reservations and local lists against real Daphne, sent through the HTTP API.

The charging station is the `ocpp` package's v201 ChargePoint over
`websockets`. The SendLocalList body is the console's builder's payload for
this station (2.0.1 idToken terms), sent snake_case as an API client would.
"""

import asyncio
import json
import urllib.request

import pytest
import websockets
from django.contrib.auth import get_user_model
from ocpp.charge_point import camel_to_snake_case
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action
from rest_framework.authtoken.models import Token

from csms_project import testing
from drivers.models import IdTag, LocalAuthList
from ocpp_consumer.local_lists import local_list_payloads
from stations.models import ChargePoint as ChargePointRecord
from stations.models import Reservation, ReservationStatus, Transaction

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

STATION_ID = "E2E-RES-201"
CARD = {"id_token": "TAG-1", "type": "ISO14443"}


class Station(ChargePoint):
    """Accepts reservations and list updates, and keeps the list it was sent."""

    reservations: dict[int, int | None] = {}
    local_list: dict = {}

    @on(Action.reserve_now)
    def on_reserve_now(self, **request):
        self.reservations[request["id"]] = request.get("evse_id")
        return call_result.ReserveNow(status="Accepted")

    @on(Action.send_local_list)
    def on_send_local_list(self, version_number, update_type, local_authorization_list=(), **_):
        self.local_list = {
            "version": version_number,
            "update_type": update_type,
            "entries": list(local_authorization_list),
        }
        return call_result.SendLocalList(status="Accepted")

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self, **_):
        return call_result.GetLocalListVersion(version_number=self.local_list["version"])


def api(base_url: str, token: str, path: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{base_url}/api/v1/charge-points/{STATION_ID}/commands/{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


def console_payload() -> dict:
    """What the console's "send to local lists" builds for this station (all tags)."""
    station = ChargePointRecord.objects.get(charge_point_id=STATION_ID)
    tags = IdTag.objects.all()
    return local_list_payloads(charge_point_pks=[station.pk], selected=tags, mode="replace")[
        station.pk
    ]


async def play(ws_url: str, base_url: str, token: str) -> dict:
    answers = {}

    async def post(path: str, body: dict) -> dict:
        status, answer = await asyncio.to_thread(api, base_url, token, path, body)
        assert status == 200, answer
        return answer

    def reserve(reservation_id: int) -> dict:
        return {
            "id": reservation_id,
            "evse_id": 1,
            "expiry_date_time": "2030-01-01T12:00:00Z",
            "id_token": CARD,
        }

    async with websockets.connect(ws_url, subprotocols=["ocpp2.0.1"]) as ws:
        station = Station(STATION_ID, ws, response_timeout=15)
        listener = asyncio.create_task(station.start())
        try:
            boot = await station.call(
                call.BootNotification(
                    charging_station={"vendor_name": "E2EVendor", "model": "Res-201"},
                    reason="PowerUp",
                )
            )
            answers["boot"] = boot.status
            answers["reserve_7"] = await post("reserve-now/", reserve(7))
            answers["reserve_8"] = await post("reserve-now/", reserve(8))
            started = await station.call(
                call.TransactionEvent(
                    event_type="Started",
                    timestamp="2026-11-26T10:00:00Z",
                    trigger_reason="Authorized",
                    seq_no=0,
                    transaction_info={"transaction_id": "TX-E2E-R"},
                    evse={"id": 1, "connector_id": 1},
                    id_token=CARD,
                    reservation_id=7,
                )
            )
            answers["started"] = started.id_token_info
            await station.call(
                call.ReservationStatusUpdate(reservation_id=8, reservation_update_status="Expired")
            )
            body = camel_to_snake_case(await asyncio.to_thread(console_payload))
            answers["send_local_list"] = await post("send-local-list/", body)
            answers["list_version"] = await post("get-local-list-version/", {})
        finally:
            listener.cancel()
    answers["station_reservations"] = dict(station.reservations)
    answers["station_list"] = dict(station.local_list)
    return answers


def test_reservations_and_local_lists_over_real_daphne(tmp_path):
    operator = get_user_model().objects.create_user(
        "ops", password="x" * 20, is_staff=True, is_superuser=True
    )
    token = Token.objects.create(user=operator).key
    IdTag.objects.create(id_tag="TAG-1")
    IdTag.objects.create(id_tag="LOST-9", status="Blocked")
    env = testing.process_env(OCPP_AUTO_REGISTER="1")
    with testing.daphne_node(env, tmp_path) as base_url:
        ws_url = base_url.replace("http://", "ws://") + f"/ocpp/{STATION_ID}"
        answers = asyncio.run(play(ws_url, base_url, token))

    assert answers["boot"] == "Accepted"
    assert answers["reserve_7"] == {"status": "Accepted", "response": {"status": "Accepted"}}
    assert answers["station_reservations"] == {7: 1, 8: 1}
    assert answers["started"] == {"status": "Accepted"}
    session = Transaction.objects.get(ocpp_transaction_id="TX-E2E-R")
    statuses = {r.reservation_id: (r.status, r.transaction_id) for r in Reservation.objects.all()}
    assert statuses == {
        7: (ReservationStatus.USED, session.pk),
        8: (ReservationStatus.EXPIRED, None),
    }

    assert answers["send_local_list"]["status"] == "Accepted"
    assert answers["station_list"] == {
        "version": 1,
        "update_type": "Full",
        "entries": [
            {
                "id_token": {"id_token": "LOST-9", "type": "ISO14443"},
                "id_token_info": {"status": "Blocked"},
            },
            {"id_token": CARD, "id_token_info": {"status": "Accepted"}},
        ],
    }
    assert answers["list_version"] == {"status": "Answered", "response": {"version_number": 1}}
    listed = LocalAuthList.objects.get(charge_point__charge_point_id=STATION_ID)
    assert (listed.version, listed.reported_version) == (1, 1)
    assert sorted(listed.id_tags.values_list("id_tag", flat=True)) == ["LOST-9", "TAG-1"]
