"""Invoicing of finished transactions, against the database."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing.models import Invoice, InvoiceSequence, Tariff
from billing.selectors import tariff_in_force
from billing.services import invoice_create
from drivers.models import IdTag
from stations.models import Station, Transaction
from stations.services import chargepoint_create, transaction_start, transaction_stop

pytestmark = pytest.mark.django_db

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def station():
    return Station.objects.create(name="Main street")


@pytest.fixture
def charge_point(station):
    IdTag.objects.create(id_tag="TAG-1")
    return chargepoint_create(charge_point_id="CP-1", station_id=station.pk)


@pytest.fixture
def default_tariff():
    return Tariff.objects.get(is_default=True, station__isnull=True, charge_point__isnull=True)


def session(charge_point, *, energy_wh, start=T0, connector_id=1, capture=None):
    """Start and stop a session; with `capture`, the on-commit invoicing runs."""
    started, _ = transaction_start(
        charge_point_pk=charge_point.pk,
        connector_id=connector_id,
        id_tag="TAG-1",
        meter_start=1000,
        timestamp=start,
    )
    transaction_stop(
        charge_point_pk=charge_point.pk,
        transaction_id=started.pk,
        meter_stop=1000 + energy_wh,
        timestamp=start + timedelta(hours=1),
    )
    return Transaction.objects.get(pk=started.pk)


def stopped_session(charge_point, django_capture_on_commit_callbacks, **kwargs):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        finished = session(charge_point, **kwargs)
    assert len(callbacks) == 1
    return finished


def test_default_tariff_comes_from_the_data_migration(settings, default_tariff):
    assert default_tariff.name == "Default"
    assert default_tariff.currency == settings.BILLING_DEFAULT_CURRENCY
    assert default_tariff.price_per_kwh == Decimal("0")
    assert Tariff.objects.filter(is_default=True).count() == 1


def test_stop_creates_the_invoice_on_commit(charge_point, django_capture_on_commit_callbacks):
    Tariff.objects.create(
        name="CP", charge_point=charge_point, price_per_kwh=Decimal("0.3500"), vat_rate=19
    )
    finished = stopped_session(charge_point, django_capture_on_commit_callbacks, energy_wh=12345)
    invoice = Invoice.objects.get(transaction=finished)
    assert invoice.currency == "EUR"
    assert invoice.energy_wh == 12345
    # 12.345 kWh x 0.35 = 4.32075 -> 4.32; 19 % of 4.32 = 0.8208 -> 0.82
    assert invoice.net_total == Decimal("4.32")
    assert invoice.vat_total == Decimal("0.82")
    assert invoice.total == Decimal("5.14")
    assert all(isinstance(v, Decimal) for v in (invoice.net_total, invoice.total))
    line = invoice.lines.get()
    assert line.quantity == Decimal("12.345")
    assert line.unit == "kWh"
    assert line.unit_price == Decimal("0.35")
    assert line.amount == Decimal("4.32")


def test_without_commit_no_invoice_yet(charge_point):
    finished = session(charge_point, energy_wh=5000)
    assert not Invoice.objects.filter(transaction=finished).exists()


def test_rounding_is_half_up_in_cents(charge_point, django_capture_on_commit_callbacks):
    Tariff.objects.create(
        name="CP", charge_point=charge_point, price_per_kwh=Decimal("0.1250"), vat_rate=20
    )
    finished = stopped_session(charge_point, django_capture_on_commit_callbacks, energy_wh=1000)
    invoice = finished.invoice
    # 0.125 -> 0.13 (half up, not half even); 20 % of 0.13 = 0.026 -> 0.03
    assert (invoice.net_total, invoice.vat_total, invoice.total) == (
        Decimal("0.13"),
        Decimal("0.03"),
        Decimal("0.16"),
    )


def test_yen_is_rounded_to_whole_units(charge_point, django_capture_on_commit_callbacks):
    Tariff.objects.create(
        name="JP",
        charge_point=charge_point,
        currency="JPY",
        price_per_kwh=Decimal("45.5"),
        vat_rate=10,
    )
    finished = stopped_session(charge_point, django_capture_on_commit_callbacks, energy_wh=7500)
    invoice = Invoice.objects.get(transaction=finished)
    # 7.5 kWh x 45.5 = 341.25 -> 341; 10 % = 34.1 -> 34
    assert invoice.currency == "JPY"
    assert invoice.net_total == Decimal("341")
    assert invoice.vat_total == Decimal("34")
    assert invoice.total == Decimal("375")


def test_numbers_are_sequential_per_year(charge_point, django_capture_on_commit_callbacks):
    Tariff.objects.create(name="CP", charge_point=charge_point, price_per_kwh=Decimal("0.30"))
    starts = [T0, T0 + timedelta(hours=2), datetime(2025, 1, 2, 8, 0, tzinfo=UTC)]
    numbers = [
        stopped_session(
            charge_point, django_capture_on_commit_callbacks, energy_wh=1000, start=start
        ).invoice.number
        for start in starts
    ]
    assert numbers == ["2024-000001", "2024-000002", "2025-000001"]
    assert InvoiceSequence.objects.get(year=2024).last_number == 2


def test_invoice_create_twice_yields_one_invoice(charge_point, default_tariff):
    finished = session(charge_point, energy_wh=2000)
    first = invoice_create(transaction_id=finished.pk)
    second = invoice_create(transaction_id=finished.pk)
    assert first is not None
    assert second.pk == first.pk
    assert Invoice.objects.count() == 1
    assert first.lines.count() == 1
    assert InvoiceSequence.objects.get(year=2024).last_number == 1


def test_task_run_twice_yields_one_invoice(charge_point, django_capture_on_commit_callbacks):
    from billing.tasks import invoice_create_for_transaction

    finished = stopped_session(charge_point, django_capture_on_commit_callbacks, energy_wh=2000)
    again = invoice_create_for_transaction.delay(finished.pk).get()
    assert again == finished.invoice.pk
    assert Invoice.objects.count() == 1


def test_zero_energy_is_not_invoiced(charge_point, django_capture_on_commit_callbacks):
    finished = stopped_session(charge_point, django_capture_on_commit_callbacks, energy_wh=0)
    assert finished.energy_wh == 0
    assert not Invoice.objects.exists()
    assert invoice_create(transaction_id=finished.pk) is None


def test_zero_energy_invoiced_when_configured(
    settings, charge_point, django_capture_on_commit_callbacks
):
    settings.BILLING_INVOICE_ZERO_ENERGY = True
    Tariff.objects.create(name="CP", charge_point=charge_point, price_per_kwh=Decimal("0.30"))
    finished = stopped_session(charge_point, django_capture_on_commit_callbacks, energy_wh=0)
    invoice = Invoice.objects.get(transaction=finished)
    assert invoice.energy_wh == 0
    assert invoice.total == Decimal("0")


def test_open_transaction_is_not_invoiced(charge_point):
    started, _ = transaction_start(
        charge_point_pk=charge_point.pk,
        connector_id=1,
        id_tag="TAG-1",
        meter_start=0,
        timestamp=T0,
    )
    assert invoice_create(transaction_id=started.pk) is None
    assert not Invoice.objects.exists()
    assert not InvoiceSequence.objects.exists()


def test_unknown_transaction_is_not_invoiced():
    assert invoice_create(transaction_id=999999) is None


def test_no_applicable_tariff_means_no_invoice(charge_point, default_tariff):
    default_tariff.delete()
    finished = session(charge_point, energy_wh=1000)
    assert invoice_create(transaction_id=finished.pk) is None
    assert not Invoice.objects.exists()


def test_tariff_precedence(charge_point, station, default_tariff):
    finished = session(charge_point, energy_wh=1000)
    assert tariff_in_force(transaction=finished) == default_tariff
    other_station = Station.objects.create(name="Elsewhere")
    Tariff.objects.create(name="Other station", station=other_station, priority=99)
    assert tariff_in_force(transaction=finished) == default_tariff
    station_tariff = Tariff.objects.create(name="Station", station=station)
    assert tariff_in_force(transaction=finished) == station_tariff
    cp_tariff = Tariff.objects.create(name="CP", charge_point=charge_point)
    assert tariff_in_force(transaction=finished) == cp_tariff


def test_specific_scope_beats_priority(charge_point, station, default_tariff):
    default_tariff.priority = 100
    default_tariff.save()
    Tariff.objects.create(name="Station high", station=station, priority=50)
    cp_tariff = Tariff.objects.create(name="CP low", charge_point=charge_point, priority=-5)
    finished = session(charge_point, energy_wh=1000)
    assert tariff_in_force(transaction=finished) == cp_tariff


def test_priority_within_a_scope(charge_point, station):
    Tariff.objects.create(name="Low", station=station, priority=1)
    high = Tariff.objects.create(name="High", station=station, priority=5)
    finished = session(charge_point, energy_wh=1000)
    assert tariff_in_force(transaction=finished) == high


def test_charge_point_without_station_uses_default(default_tariff):
    IdTag.objects.create(id_tag="TAG-1")
    lone = chargepoint_create(charge_point_id="CP-LONE")
    finished = session(lone, energy_wh=1000)
    assert tariff_in_force(transaction=finished) == default_tariff


def test_validity_window_at_session_start(charge_point, station, default_tariff):
    station_tariff = Tariff.objects.create(name="Station", station=station)
    Tariff.objects.create(name="CP future", charge_point=charge_point, valid_from=T0 + timedelta(1))
    Tariff.objects.create(name="CP ended", charge_point=charge_point, valid_until=T0)
    finished = session(charge_point, energy_wh=1000)
    assert tariff_in_force(transaction=finished) == station_tariff
    window = Tariff.objects.create(
        name="CP window",
        charge_point=charge_point,
        valid_from=T0,
        valid_until=T0 + timedelta(minutes=1),
    )
    assert tariff_in_force(transaction=finished) == window
    assert tariff_in_force(transaction=finished, at=T0 + timedelta(minutes=1)) == station_tariff


def test_invoice_uses_the_tariff_in_force(
    charge_point, station, django_capture_on_commit_callbacks
):
    Tariff.objects.create(name="Station", station=station, price_per_kwh=Decimal("0.50"))
    Tariff.objects.create(
        name="CP old",
        charge_point=charge_point,
        price_per_kwh=Decimal("9.99"),
        valid_until=T0 - timedelta(days=1),
    )
    finished = stopped_session(charge_point, django_capture_on_commit_callbacks, energy_wh=2000)
    assert finished.invoice.tariff.name == "Station"
    assert finished.invoice.net_total == Decimal("1.00")


def test_invoice_keeps_a_tariff_snapshot(charge_point, django_capture_on_commit_callbacks):
    tariff = Tariff.objects.create(
        name="CP", charge_point=charge_point, price_per_kwh=Decimal("0.4000"), vat_rate=19
    )
    finished = stopped_session(charge_point, django_capture_on_commit_callbacks, energy_wh=1000)
    tariff.price_per_kwh = Decimal("0.9000")
    tariff.name = "CP renamed"
    tariff.save()
    invoice = Invoice.objects.get(transaction=finished)
    assert invoice.tariff_snapshot == {
        "id": tariff.pk,
        "name": "CP",
        "currency": "EUR",
        "price_per_kwh": "0.4000",
        "vat_rate": "19.00",
    }
    assert invoice.net_total == Decimal("0.40")
