"""A roaming driver charges at a simulated OCPP 1.6 charger: the session and the CDR reach the eMSP.

The eMSP is the peer written from the specification (peer_emsp.py); the
charger speaks OCPP 1.6 to the ASGI application; the outbox relay and the
Celery tasks (eager in the tests) run as in production.
"""

import functools
import json
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.utils import timezone

from api_support.testing import client_for, make_charge_point, make_operator
from billing.models import Invoice, Tariff
from csms_project.asgi import application
from events.models import OutboxMessage
from events.tasks import relay_outbox
from roaming.models import Cdr
from roaming.tasks import push_running_sessions, send_unsent_cdrs
from stations.models import ChargePoint, Connector, Station, Transaction

from .peer_emsp import PeerEmsp, call

pytestmark = pytest.mark.django_db(transaction=True)

CARD = "04C0FFEE01"


@pytest.fixture
def peer_with_a_driver(live_server, settings):
    """A registered eMSP (sessions and CDRs receivers) that pushed its driver's card."""
    settings.OCPI_BASE_URL = f"{live_server.url}/ocpi"
    peer = PeerEmsp().start()
    operator = client_for(make_operator("roaming.add_party"))
    created = operator.post(
        "/api/v1/roaming/parties/",
        {"name": "Peer", "country_code": "DE", "party_id": "EMS", "role": "EMSP"},
        format="json",
    ).json()
    assert peer.register_with(created["versions_url"], created["token_a"])["status_code"] == 1000
    card = {
        "country_code": "DE", "party_id": "EMS", "uid": CARD, "type": "RFID",
        "contract_id": "DE-EMS-C00000001-1", "issuer": "Peer eMSP", "valid": True,
        "whitelist": "ALLOWED", "last_updated": "2026-12-01T10:00:00Z",
    }  # fmt: skip
    tokens_url = peer.cpo_endpoints[("tokens", "RECEIVER")]
    status, _, _ = call("PUT", f"{tokens_url}/DE/EMS/{CARD}", peer.token_c, card)
    assert status == 201
    station = Station.objects.create(
        name="Harbour", address="Kade 1", city="Utrecht", country="NL",
        latitude=Decimal("52.1"), longitude=Decimal("5.1"),
    )  # fmt: skip
    charge_point = make_charge_point("CP-ROAM", station=station, connectors={1: "Available"})
    # Installed yesterday: the sessions of the tests start before "now" (not disputed).
    ChargePoint.objects.filter(pk=charge_point.pk).update(
        created_at=timezone.now() - timedelta(days=1)
    )
    Connector.objects.filter(charge_point__charge_point_id="CP-ROAM").update(
        standard="IEC_62196_T2", format="SOCKET", power_type="AC_3_PHASE"
    )
    Tariff.objects.create(
        name="Public", is_default=True, price_per_kwh=Decimal("0.30"),
        session_fee=Decimal("1.00"), vat_rate=Decimal("21"),
    )  # fmt: skip
    yield peer
    peer.stop()


class Charger:
    """An OCPP 1.6 charge point on the ASGI application."""

    def __init__(self):
        self.socket = WebsocketCommunicator(application, "/ocpp/CP-ROAM", subprotocols=["ocpp1.6"])

    async def __aenter__(self):
        connected, _ = await self.socket.connect(timeout=5)
        assert connected
        await self.call("BootNotification", {"chargePointVendor": "ACME", "chargePointModel": "W"})
        return self

    async def __aexit__(self, *exc):
        await self.socket.disconnect()
        await sync_to_async(connections.close_all)()

    async def call(self, action: str, payload: dict) -> dict:
        await self.socket.send_to(text_data=json.dumps([2, uuid.uuid4().hex, action, payload]))
        frame = await self.socket.receive_json_from(timeout=10)
        assert frame[0] == 3, frame
        return frame[2]


def at(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def charge_one_hour(charger: Charger, *, between=None) -> int:
    """Authorize, start, a meter value, stop: 10 kWh in one hour; the transaction id."""
    start = timezone.now().replace(microsecond=0) - timedelta(hours=2)
    answer = await charger.call("Authorize", {"idTag": CARD})
    assert answer["idTagInfo"]["status"] == "Accepted"
    started = await charger.call(
        "StartTransaction",
        {"connectorId": 1, "idTag": CARD, "meterStart": 1000, "timestamp": at(start)},
    )
    assert started["idTagInfo"]["status"] == "Accepted"
    tx = started["transactionId"]
    value = {"value": "6000", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
    await charger.call(
        "MeterValues",
        {
            "connectorId": 1,
            "transactionId": tx,
            "meterValue": [
                {"timestamp": at(start + timedelta(minutes=30)), "sampledValue": [value]}
            ],
        },
    )
    if between is not None:
        await between(tx)
    await charger.call(
        "StopTransaction",
        {"transactionId": tx, "meterStop": 11000, "timestamp": at(start + timedelta(hours=1))},
    )
    return tx


def closing_connections(test):
    """Close the database connections the test's sync_to_async calls opened, whatever happens."""

    @functools.wraps(test)
    async def run(*args, **kwargs):
        try:
            await test(*args, **kwargs)
        finally:
            await sync_to_async(connections.close_all)()

    return run


def session_key(tx: int) -> str:
    return f"NL/CSM/{tx}"


@closing_connections
async def test_the_session_and_its_cdr_reach_the_emsp_once(peer_with_a_driver):
    peer = peer_with_a_driver
    relay = sync_to_async(relay_outbox)

    async def while_charging(tx):
        await relay()
        session = peer.sessions[session_key(tx)]
        assert session["status"] == "ACTIVE" and session["cdr_token"]["uid"] == CARD
        assert session["auth_method"] == "WHITELIST" and session["currency"] == "EUR"
        # The periodic progress update (the throttle): energy and cost so far.
        assert await sync_to_async(push_running_sessions)() == 1
        assert peer.sessions[session_key(tx)]["kwh"] == 5.0
        [period] = peer.sessions[session_key(tx)]["charging_periods"]
        assert period["dimensions"][0] == {"type": "ENERGY", "volume": 5.0}
        assert peer.sessions[session_key(tx)]["total_cost"]["excl_vat"] > 0

    async with Charger() as charger:
        tx = await charge_one_hour(charger, between=while_charging)
    await relay()
    await relay()  # the invoice's event, recorded by the first run
    session = peer.sessions[session_key(tx)]
    assert session["status"] == "COMPLETED" and session["kwh"] == 10.0
    assert session["total_cost"] == {"excl_vat": 4.0, "incl_vat": 4.84}
    invoice = await Invoice.objects.aget(transaction_id=tx)
    [(key, cdr)] = peer.cdrs.items()
    assert key == ("NL", "CSM", invoice.number) and peer.cdr_posts == 1
    # 10 kWh at 0.30 and the 1.00 session fee, 21 % VAT: what the invoice says.
    assert cdr["total_cost"] == {"excl_vat": 4.0, "incl_vat": 4.84}
    assert (invoice.net_total, invoice.total) == (Decimal("4.00"), Decimal("4.84"))
    assert cdr["total_energy_cost"] == {"excl_vat": 3.0, "incl_vat": 3.63}
    assert cdr["total_fixed_cost"] == {"excl_vat": 1.0, "incl_vat": 1.21}
    assert cdr["total_energy"] == 10.0 and cdr["total_time"] == 1.0
    assert cdr["session_id"] == str(tx) and cdr["cdr_token"]["contract_id"] == "DE-EMS-C00000001-1"
    assert cdr["charging_periods"][0]["dimensions"][0] == {"type": "ENERGY", "volume": 10.0}
    [tariff] = cdr["tariffs"]
    assert [c["type"] for e in tariff["elements"] for c in e["price_components"]] == [
        "FLAT",
        "ENERGY",
    ]
    assert cdr["cdr_location"]["connector_standard"] == "IEC_62196_T2"
    stored = await Cdr.objects.aget()
    assert stored.sent_at is not None and stored.location_url.endswith(invoice.number)
    # Later sweeps and relay runs send nothing again.
    assert await sync_to_async(send_unsent_cdrs)() == 0
    await relay()
    assert peer.cdr_posts == 1
    # The partner can pull its CDRs and sessions too (Sender interfaces).
    cdrs, _ = await sync_to_async(peer.get_all)(peer.cpo_endpoints[("cdrs", "SENDER")])
    assert [c["id"] for c in cdrs] == [invoice.number]
    sessions, _ = await sync_to_async(peer.get_all)(peer.cpo_endpoints[("sessions", "SENDER")])
    assert [(s["id"], s["status"]) for s in sessions] == [(str(tx), "COMPLETED")]


@closing_connections
async def test_an_emsp_that_is_down_gets_the_cdr_once_when_back(peer_with_a_driver):
    peer = peer_with_a_driver
    port = peer.server.server_address[1]
    relay = sync_to_async(relay_outbox)
    async with Charger() as charger:
        answer = await charger.call("Authorize", {"idTag": CARD})
        assert answer["idTagInfo"]["status"] == "Accepted"
        await sync_to_async(peer.stop)()
        # Charging is not delayed or refused while the partner is down.
        tx = await charge_one_hour(charger)
    assert await Transaction.objects.filter(pk=tx, energy_wh=10000).aexists()
    await relay()
    await relay()
    cdr = await Cdr.objects.aget()
    assert cdr.sent_at is None and "no answer" in cdr.last_error
    # Back up: the first POST is stored by the partner but its answer is lost.
    await sync_to_async(peer.start)(port=port)
    peer.lose_next_cdr_answer = True
    assert await sync_to_async(send_unsent_cdrs)() == 0
    assert peer.cdr_posts == 1 and len(peer.cdrs) == 1
    # The retry sends the same CDR (same id): the partner still holds one.
    assert await sync_to_async(send_unsent_cdrs)() == 1
    assert peer.cdr_posts == 2 and len(peer.cdrs) == 1
    await cdr.arefresh_from_db()
    assert cdr.sent_at is not None and cdr.attempts >= 3
    assert await sync_to_async(send_unsent_cdrs)() == 0 and peer.cdr_posts == 2
    # The session pushes that failed are retried by the outbox and arrive too.
    await OutboxMessage.objects.filter(handled_at=None).aupdate(next_attempt_at=timezone.now())
    await relay()
    assert peer.sessions[session_key(tx)]["status"] == "COMPLETED"
