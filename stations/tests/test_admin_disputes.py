"""The transaction pages of the console: status, energy so far, the tariff, disputes."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from billing.models import Invoice
from stations.choices import DisputeResolution, SessionStatus
from stations.models import ChargePoint, Connector, MeterValue, Transaction

pytestmark = pytest.mark.django_db

START = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
CHANGELIST = "admin:stations_transaction_changelist"
SNAPSHOT = {
    "id": 3,
    "name": "Depot night rate",
    "currency": "EUR",
    "price_per_kwh": "0.3900",
    "session_fee": "0.50",
    "vat_rate": "21.00",
    "periods": [
        {
            "start": "22:00:00",
            "end": "06:00:00",
            "price_per_kwh": "0.2100",
            "price_per_minute": None,
        }
    ],
}
REASONS = "The energy register went backwards.\nMore energy than the connector can deliver."


@pytest.fixture
def connector():
    charge_point = ChargePoint.objects.create(charge_point_id="CP-D")
    return Connector.objects.create(charge_point=charge_point, connector_id=1)


def session(connector, *, minutes=0, **fields):
    """An ended session unless `status` says otherwise."""
    start = START + timedelta(minutes=minutes)
    running = fields.get("status") == SessionStatus.RUNNING
    defaults = {
        "status": SessionStatus.ENDED,
        "meter_stop": None if running else 8300,
        "stop_timestamp": None if running else start + timedelta(hours=1),
        "energy_wh": None if running else 7300,
    }
    return Transaction.objects.create(
        charge_point=connector.charge_point,
        connector=connector,
        id_tag="TAG",
        meter_start=1000,
        start_timestamp=start,
        **{**defaults, **fields},
    )


def disputed(connector, **fields):
    defaults = {
        "disputed_at": START + timedelta(hours=1, seconds=1),
        "dispute_reason": REASONS,
        "meter_segments": [{"from_wh": 1000, "to_wh": 6000}, {"from_wh": 0, "to_wh": 2300}],
        "tariff_snapshot": SNAPSHOT,
    }
    return session(connector, **{**defaults, **fields})


def page(client, transaction):
    response = client.get(reverse("admin:stations_transaction_change", args=[transaction.pk]))
    assert response.status_code == 200
    return response


def resolve(client, transaction, **data):
    url = reverse("admin:stations_transaction_resolve", args=[transaction.pk])
    return client.post(url, data, follow=True)


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def listed(client, **params) -> set[int]:
    response = client.get(reverse(CHANGELIST), params)
    return {row.pk for row in response.context["cl"].result_list}


# --- the list ------------------------------------------------------------------------


def test_a_running_session_shows_its_energy_so_far_and_no_invoice(admin_client, connector):
    running = session(connector, status=SessionStatus.RUNNING)
    MeterValue.objects.create(
        charge_point=connector.charge_point,
        connector=connector,
        transaction=running,
        timestamp=START + timedelta(minutes=10),
        value="3.5",
        numeric_value=Decimal("3.5"),
        measurand="Energy.Active.Import.Register",
        unit="kWh",
        context="Sample.Periodic",
        location="Outlet",
        format="Raw",
    )
    response = admin_client.get(reverse(CHANGELIST))
    row = response.text.split(f">{running.pk}</a>", 1)[1].split("</tr>", 1)[0]
    assert "2.500 (so far)" in row
    assert "Running" in row
    assert "None" not in row
    assert "—" in row  # no invoice yet

    detail = page(admin_client, running).text
    assert "2.500 (so far)" in detail
    assert ">None<" not in detail and "None</div>" not in detail


def test_a_session_without_readings_shows_a_dash_never_none(admin_client, connector):
    refused = session(connector, status=SessionStatus.REFUSED, energy_wh=None)
    response = admin_client.get(reverse(CHANGELIST))
    row = response.text.split(f">{refused.pk}</a>", 1)[1].split("</tr>", 1)[0]
    assert "None" not in row
    assert "Refused at start" in row
    detail = page(admin_client, refused).text
    assert "Not disputed." in detail
    assert "None</div>" not in detail


def test_the_invoice_column_links_the_invoice(admin_client, connector):
    ended = session(connector)
    invoice = Invoice.objects.create(
        number="2024-000009",
        transaction=ended,
        currency="EUR",
        energy_wh=7300,
        net_total=Decimal("2.85"),
        vat_total=Decimal("0.60"),
        total=Decimal("3.45"),
    )
    response = admin_client.get(reverse(CHANGELIST))
    assert reverse("admin:billing_invoice_change", args=[invoice.pk]) in response.text


def test_the_dispute_filter_lists_those_waiting_for_a_decision(admin_client, connector):
    waiting = disputed(connector)
    decided = disputed(
        connector,
        minutes=120,
        dispute_resolution=DisputeResolution.ACCEPTED,
        dispute_resolved_at=START + timedelta(days=1),
    )
    plain = session(connector, minutes=240)
    assert listed(admin_client, disputed="waiting") == {waiting.pk}
    assert listed(admin_client, disputed="resolved") == {decided.pk}
    assert listed(admin_client) == {waiting.pk, decided.pk, plain.pk}
    response = admin_client.get(reverse(CHANGELIST))
    assert "waiting for a decision" in response.text


# --- a disputed session's page -------------------------------------------------------


def test_the_page_shows_the_dispute_the_segments_and_the_tariff(admin_client, connector):
    text = page(admin_client, disputed(connector)).text
    assert "Waiting for a decision" in text
    assert "The energy register went backwards." in text
    assert "More energy than the connector can deliver." in text
    assert "2024-05-01" in text  # disputed since
    for shown in (
        "Depot night rate",
        "0.3900 EUR",
        "0.50 EUR",
        "21.00",
        "22:00–06:00",
        "0.2100 EUR",
    ):
        assert shown in text, shown
    assert reverse("admin:billing_tariff_change", args=[3]) in text
    assert "<td>1000</td><td>6000</td><td>5000</td>" in text  # a meter segment
    assert 'value="accepted"' in text and 'value="corrected"' in text
    assert 'value="voided"' in text and 'name="energy_wh"' in text and 'name="note"' in text


def test_accepting_records_who_when_what_and_the_note(admin_client, admin_user, connector):
    transaction = disputed(connector)
    response = resolve(admin_client, transaction, resolution="accepted", note="Checked the log.")
    assert response.status_code == 200
    assert any("Accepted as recorded" in message for message in messages_of(response))
    transaction.refresh_from_db()
    assert transaction.dispute_resolution == DisputeResolution.ACCEPTED
    assert transaction.dispute_resolved_by == admin_user
    assert transaction.dispute_resolved_at is not None
    assert transaction.dispute_note == "Checked the log."
    assert transaction.energy_wh == 7300

    text = page(admin_client, transaction).text
    assert f"Accepted as recorded by {admin_user.username} on" in text
    assert "Checked the log." in text
    assert 'value="accepted"' not in text  # decided: no form any more


def test_correcting_keeps_the_reported_energy(admin_client, connector):
    transaction = disputed(connector)
    response = resolve(
        admin_client, transaction, resolution="corrected", energy_wh="6100", note="Site meter."
    )
    assert any("Corrected" in message for message in messages_of(response))
    transaction.refresh_from_db()
    assert (transaction.energy_wh, transaction.energy_wh_reported) == (6100, 7300)
    text = page(admin_client, transaction).text
    assert "6.100" in text and "7300" in text


def test_voiding(admin_client, connector):
    transaction = disputed(connector)
    resolve(admin_client, transaction, resolution="voided", note="Test session.")
    transaction.refresh_from_db()
    assert transaction.dispute_resolution == DisputeResolution.VOIDED
    assert not transaction.is_disputed


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"resolution": "corrected"}, "energy in Wh"),
        ({"resolution": "accepted", "energy_wh": "10"}, "Only a correction"),
        ({"resolution": "corrected", "energy_wh": "-5"}, "Corrected energy (Wh)"),
        ({"resolution": "forgiven"}, "Select a valid choice"),
    ],
)
def test_a_refused_decision_is_an_error_message(admin_client, connector, data, expected):
    transaction = disputed(connector)
    response = resolve(admin_client, transaction, **data)
    assert response.status_code == 200
    errors = [m for m in get_messages(response.wsgi_request) if m.level_tag == "error"]
    assert any(expected in str(message) for message in errors), [str(m) for m in errors]
    transaction.refresh_from_db()
    assert transaction.is_disputed


def test_a_running_or_undisputed_session_cannot_be_decided(admin_client, connector):
    running = disputed(connector, status=SessionStatus.RUNNING, minutes=300)
    assert "decide once it has ended" in page(admin_client, running).text
    assert 'value="accepted"' not in page(admin_client, running).text
    response = resolve(admin_client, running, resolution="accepted")
    assert any("still running" in message for message in messages_of(response))

    plain = session(connector)
    response = resolve(admin_client, plain, resolution="voided")
    assert any("not waiting for a decision" in message for message in messages_of(response))
    plain.refresh_from_db()
    assert plain.dispute_resolution == ""


def test_deciding_needs_the_change_permission(client, django_user_model, connector):
    viewer = django_user_model.objects.create_user(
        username="viewer", password="viewer-pass-1", is_staff=True
    )
    viewer.user_permissions.add(Permission.objects.get(codename="view_transaction"))
    client.force_login(viewer)
    transaction = disputed(connector)
    text = page(client, transaction).text
    assert "You may not decide on disputes." in text
    url = reverse("admin:stations_transaction_resolve", args=[transaction.pk])
    assert client.post(url, {"resolution": "accepted"}).status_code == 403
    transaction.refresh_from_db()
    assert transaction.is_disputed


def test_the_resolve_address_takes_only_posts(admin_client, connector):
    transaction = disputed(connector)
    url = reverse("admin:stations_transaction_resolve", args=[transaction.pk])
    assert admin_client.get(url).status_code == 405
    assert (
        admin_client.post(reverse("admin:stations_transaction_resolve", args=[999999])).status_code
        == 404
    )


def test_what_a_charger_or_tariff_wrote_is_escaped(admin_client, connector):
    transaction = disputed(
        connector,
        tariff_snapshot={**SNAPSHOT, "name": "<script>alert(1)</script>", "extra": "<b>x</b>"},
        dispute_reason="<img src=x onerror=alert(2)>",
        meter_segments=[{"from_wh": "<i>", "to_wh": 5}],
    )
    text = page(admin_client, transaction).text
    assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)" in text
    assert "<img src=x" not in text and "<b>x</b>" not in text and "<i>" not in text
