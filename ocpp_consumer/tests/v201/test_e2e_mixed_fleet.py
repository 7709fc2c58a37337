"""A 1.6J charger and a 2.0.1 charging station side by side, one driver's card on both.

Real processes on 127.0.0.1 (Daphne and a Celery worker); the clients are
the `ocpp` package's v16 and v201 ChargePoints over `websockets`. The two
sessions end as the same kind of record, priced the same way, invoiced the
same way, and the driver sees both through the API.
"""

import asyncio
import json
import urllib.request
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import websockets
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from rest_framework.authtoken.models import Token

from billing.models import Invoice, Tariff
from csms_project import testing
from drivers.models import Driver, IdTag, User
from stations.models import ChargePoint, Transaction

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CARD = "DRV-CARD-1"


async def session_16(ws_url: str) -> tuple[str, str]:
    """Boot, authorize the card, charge 5 kWh, stop: (authorization, start answer)."""
    async with websockets.connect(f"{ws_url}/MIX-16", subprotocols=["ocpp1.6"]) as ws:
        station = ChargePoint16("MIX-16", ws, response_timeout=15)
        listener = asyncio.create_task(station.start())
        try:
            await station.call(
                call16.BootNotification(charge_point_vendor="ACME", charge_point_model="J16")
            )
            authorized = await station.call(call16.Authorize(id_tag=CARD))
            started = await station.call(
                call16.StartTransaction(
                    connector_id=1,
                    id_tag=CARD,
                    meter_start=1_000,
                    timestamp="2026-11-26T08:00:00Z",
                )
            )
            await station.call(
                call16.StopTransaction(
                    meter_stop=6_000,
                    timestamp="2026-11-26T09:00:00Z",
                    transaction_id=started.transaction_id,
                )
            )
        finally:
            listener.cancel()
    return authorized.id_tag_info["status"], started.id_tag_info["status"]


async def session_201(ws_url: str) -> tuple[str, str]:
    """The same card (its UID in lower case) on a 2.0.1 station: 2.5 kWh."""
    token = {"id_token": CARD.lower(), "type": "ISO14443"}
    async with websockets.connect(f"{ws_url}/MIX-201", subprotocols=["ocpp2.0.1"]) as ws:
        station = ChargePoint201("MIX-201", ws, response_timeout=15)
        listener = asyncio.create_task(station.start())
        try:
            await station.call(
                call201.BootNotification(
                    charging_station={"vendor_name": "ACME", "model": "W201"}, reason="PowerUp"
                )
            )
            authorized = await station.call(call201.Authorize(id_token=token))
            answers = []
            for seq_no, (event_type, at, kwh) in enumerate(
                [("Started", "10:00", 20.0), ("Ended", "11:00", 22.5)]
            ):
                timestamp = f"2026-11-26T{at}:00Z"
                answers.append(
                    await station.call(
                        call201.TransactionEvent(
                            event_type=event_type,
                            timestamp=timestamp,
                            trigger_reason="Authorized" if seq_no == 0 else "EVDeparted",
                            seq_no=seq_no,
                            transaction_info={"transaction_id": "mix-tx-1"},
                            evse={"id": 1, "connector_id": 1},
                            id_token=token if seq_no == 0 else None,
                            meter_value=[
                                {
                                    "timestamp": timestamp,
                                    "sampled_value": [
                                        {"value": kwh, "unit_of_measure": {"unit": "kWh"}}
                                    ],
                                }
                            ],
                        )
                    )
                )
        finally:
            listener.cancel()
    return authorized.id_token_info["status"], answers[0].id_token_info["status"]


def driver_invoices(base_url: str, token: str) -> list[dict]:
    request = urllib.request.Request(
        f"{base_url}/api/v1/me/invoices/", headers={"Authorization": f"Token {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["results"]


def test_one_card_charges_on_both_versions_and_both_sessions_are_invoiced(tmp_path):
    # Its own tariff: a flushed test database may have lost the migrations' default.
    Tariff.objects.create(
        name="Mixed fleet",
        currency="EUR",
        price_per_kwh=Decimal("0.3000"),
        vat_rate=Decimal("0"),
        is_default=True,
        priority=10,
    )
    user = User.objects.create_user("alice", email="alice@example.com", password="x" * 20)
    IdTag.objects.create(id_tag=CARD, driver=Driver.objects.create(user=user))
    token = Token.objects.create(user=user).key
    for charge_point_id in ("MIX-16", "MIX-201"):
        registered = ChargePoint.objects.create(
            charge_point_id=charge_point_id, registration_status="Accepted"
        )
        ChargePoint.objects.filter(pk=registered.pk).update(
            created_at=datetime(2026, 11, 1, tzinfo=UTC)
        )
    env = testing.process_env()

    with testing.daphne_node(env, tmp_path) as base_url, testing.celery_worker(env, tmp_path):
        ws_url = base_url.replace("http://", "ws://") + "/ocpp"
        assert asyncio.run(session_16(ws_url)) == ("Accepted", "Accepted")
        assert asyncio.run(session_201(ws_url)) == ("Accepted", "Accepted")
        testing.wait_until(lambda: Invoice.objects.count() == 2, timeout=60)
        invoices = driver_invoices(base_url, token)

    versions = dict(ChargePoint.objects.values_list("charge_point_id", "ocpp_version"))
    assert versions == {"MIX-16": "1.6", "MIX-201": "2.0.1"}
    sessions = {
        s.charge_point.charge_point_id: s
        for s in Transaction.objects.select_related("charge_point", "tag")
    }
    assert {cp: (s.status, s.energy_wh) for cp, s in sessions.items()} == {
        "MIX-16": ("ended", 5_000),
        "MIX-201": ("ended", 2_500),
    }
    assert {s.tag.id_tag for s in sessions.values()} == {CARD}  # one card, one driver
    totals = {
        invoice.transaction.charge_point.charge_point_id: invoice.total
        for invoice in Invoice.objects.select_related("transaction__charge_point")
    }
    assert totals == {"MIX-16": Decimal("1.50"), "MIX-201": Decimal("0.75")}
    assert len(invoices) == 2  # the driver sees both, whatever the charger spoke
