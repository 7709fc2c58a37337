"""The CDRs Sender interface: a partner pulls its own CDRs, paginated and by date."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from api_support.testing import make_charge_point, make_session
from billing.models import Tariff
from billing.services import invoice_create
from drivers.models import IdTag
from events.models import OutboxMessage
from events.tasks import relay_outbox
from roaming.models import Cdr, Exchange, Party
from roaming.tokens import token_store
from stations.models import Connector, Station

pytestmark = pytest.mark.django_db

CDRS = "/ocpi/cpo/2.2.1/cdrs"


def a_cdr(number: int, *, partner: Party, charge_point, last_updated) -> Cdr:
    session = make_session(charge_point, f"TAG{number}", energy_wh=1000, link_tag=False)
    return Cdr.objects.create(
        id=f"2026-{number:06d}",
        partner=partner,
        transaction=session,
        body={"id": f"2026-{number:06d}", "total_energy": 1.0},
        last_updated=last_updated,
    )


def test_a_partner_pulls_its_own_cdrs_by_page_and_date(client, registered_party):
    party, auth = registered_party
    other = Party.objects.create(name="Other", country_code="FR", party_id="OTH", role="EMSP")
    charge_point = make_charge_point("CP-C")
    now = timezone.now()
    for number in range(3):
        a_cdr(
            number,
            partner=party,
            charge_point=charge_point,
            last_updated=now - timedelta(hours=3 - number),
        )
    a_cdr(9, partner=other, charge_point=charge_point, last_updated=now)
    first = client.get(CDRS, {"limit": 2}, HTTP_AUTHORIZATION=auth)
    assert first.status_code == 200 and first["X-Total-Count"] == "3"
    assert [c["id"] for c in first.json()["data"]] == ["2026-000000", "2026-000001"]
    following = first["Link"][1 : first["Link"].index(">")]
    rest = client.get(following, HTTP_AUTHORIZATION=auth)
    assert [c["id"] for c in rest.json()["data"]] == ["2026-000002"]
    assert "Link" not in rest
    # date_from/date_to select on last_updated; the other partner's CDR is never seen.
    recent = client.get(
        CDRS,
        {"date_from": (now - timedelta(hours=2, minutes=30)).isoformat()},
        HTTP_AUTHORIZATION=auth,
    )
    assert [c["id"] for c in recent.json()["data"]] == ["2026-000001", "2026-000002"]
    bad = client.get(CDRS, {"date_to": "soon"}, HTTP_AUTHORIZATION=auth)
    assert bad.status_code == 400 and "date_to" in bad.json()["status_message"]


def test_our_endpoints_name_the_cdrs_and_sessions_senders(client, registered_party):
    _, auth = registered_party
    details = client.get("/ocpi/2.2.1", HTTP_AUTHORIZATION=auth).json()["data"]
    modules = {(e["identifier"], e["role"]) for e in details["endpoints"]}
    assert {("cdrs", "SENDER"), ("sessions", "SENDER")} <= modules


def test_the_cdrs_console_page_lists_unsent_ones(admin_client, registered_party):
    party, _ = registered_party
    a_cdr(1, partner=party, charge_point=make_charge_point("CP-C"), last_updated=timezone.now())
    page = admin_client.get(reverse("admin:roaming_cdr_changelist"), {"sent_at__isempty": "1"})
    assert page.status_code == 200 and "2026-000001" in page.content.decode()


@pytest.mark.django_db(transaction=True)
def test_our_own_drivers_sessions_are_neither_pushed_nor_given_a_cdr(registered_party):
    party, _ = registered_party
    nowhere = "http://127.0.0.1:9/ocpi/emsp/2.2.1"
    party.outgoing_token_encrypted = "x"
    party.endpoints = [
        {"identifier": module, "role": "RECEIVER", "url": f"{nowhere}/{module}"}
        for module in ("sessions", "cdrs")
    ]
    party.save()
    IdTag.objects.create(id_tag="OURS-1")
    Tariff.objects.create(name="Public", is_default=True)
    session = make_session(make_charge_point("CP-O"), "OURS-1", energy_wh=5000)
    assert invoice_create(transaction_id=session.pk) is not None
    relay_outbox()
    assert OutboxMessage.objects.filter(subscriber="roaming_sessions").exclude(handled_at=None)
    assert not Cdr.objects.exists() and not Exchange.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_cdr_waits_in_the_outbox_until_the_station_has_what_ocpi_requires(registered_party):
    party, _ = registered_party
    token_store(
        party=party,
        data={
            "country_code": "DE", "party_id": "EMS", "uid": "04DD", "type": "RFID",
            "contract_id": "DE-EMS-C1", "issuer": "Peer", "valid": True,
            "whitelist": "ALWAYS", "last_updated": "2026-12-01T10:00:00Z",
        },
    )  # fmt: skip
    station = Station.objects.create(
        name="S", address="Main 1", city="Utrecht", country="NL",
        latitude=Decimal("52.1"), longitude=Decimal("5.1"),
    )  # fmt: skip
    Tariff.objects.create(name="Public", is_default=True, price_per_kwh=Decimal("0.25"))
    session = make_session(make_charge_point("CP-D", station=station), "04DD", energy_wh=4000)
    invoice = invoice_create(transaction_id=session.pk)
    relay_outbox()
    waiting = OutboxMessage.objects.get(subscriber="roaming_sessions", kind="invoice.issued")
    assert waiting.handled_at is None and "no standard" in waiting.last_error
    assert not Cdr.objects.exists()
    # The operator completes the connector: the retried event makes the CDR.
    Connector.objects.update(standard="IEC_62196_T2", format="SOCKET", power_type="AC_3_PHASE")
    OutboxMessage.objects.filter(pk=waiting.pk).update(next_attempt_at=waiting.created_at)
    relay_outbox()
    cdr = Cdr.objects.get()
    assert cdr.id == invoice.number and cdr.partner == party
    assert cdr.body["total_cost"] == {"excl_vat": 1.0, "incl_vat": float(invoice.total)}
    assert cdr.sent_at is None  # the partner offers no CDRs Receiver: it pulls
