"""Invoicing of finished transactions, against the database."""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.models import BillingFailure, Invoice, InvoiceSequence, Tariff, TariffPeriod
from billing.pricing import PricingError
from billing.selectors import tariff_in_force
from billing.services import invoice_create
from drivers.models import IdTag
from events.models import OutboxMessage
from stations.models import Connector, OrphanStopTransaction, Station, Transaction
from stations.services import (
    chargepoint_create,
    metervalues_record,
    transaction_start,
    transaction_stop,
)
from stations.tests.samples import meter_sample

from .helpers import registered_long_ago

pytestmark = pytest.mark.django_db

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


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
    with django_capture_on_commit_callbacks(execute=True):
        finished = session(charge_point, **kwargs)
    # The stop recorded one invoicing event, and the relay handled it.
    (invoicing,) = OutboxMessage.objects.filter(
        subscriber="invoicing", payload__transaction=finished.pk
    )
    assert invoicing.handled_at is not None
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


def test_numbers_are_sequential_per_year_of_issue(
    charge_point, django_capture_on_commit_callbacks, monkeypatch
):
    """The year is the one the invoice is issued in, not the charger's stop time."""
    Tariff.objects.create(name="CP", charge_point=charge_point, price_per_kwh=Decimal("0.30"))
    this_year = timezone.localdate().year
    starts = [T0, T0 + timedelta(hours=2), datetime(2025, 1, 2, 8, 0, tzinfo=UTC)]
    numbers = [
        stopped_session(
            charge_point, django_capture_on_commit_callbacks, energy_wh=1000, start=start
        ).invoice.number
        for start in starts
    ]
    assert numbers == [f"{this_year}-00000{n}" for n in (1, 2, 3)]
    assert InvoiceSequence.objects.get(year=this_year).last_number == 3
    assert not InvoiceSequence.objects.filter(year__in=(2024, 2025)).exists()

    monkeypatch.setattr(timezone, "localdate", lambda: date(this_year + 1, 1, 1))
    next_year = stopped_session(
        charge_point, django_capture_on_commit_callbacks, energy_wh=1000, start=T0 + HOUR * 4
    )
    assert next_year.invoice.number == f"{this_year + 1}-000001"


def test_invoice_create_twice_yields_one_invoice(charge_point, default_tariff):
    finished = session(charge_point, energy_wh=2000)
    first = invoice_create(transaction_id=finished.pk)
    second = invoice_create(transaction_id=finished.pk)
    assert first is not None
    assert second.pk == first.pk
    assert Invoice.objects.count() == 1
    assert first.lines.count() == 1
    assert InvoiceSequence.objects.get(year=timezone.localdate().year).last_number == 1


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
    lone = registered_long_ago(chargepoint_create(charge_point_id="CP-LONE"))
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
        name="CP",
        charge_point=charge_point,
        price_per_kwh=Decimal("0.4000"),
        vat_rate=19,
        idle_price_per_minute=Decimal("0.05"),
        idle_grace_minutes=10,
        min_price=Decimal("1.00"),
    )
    TariffPeriod.objects.create(
        tariff=tariff, start_time=time(22), end_time=time(6), price_per_kwh=Decimal("0.2")
    )
    finished = stopped_session(charge_point, django_capture_on_commit_callbacks, energy_wh=1000)
    tariff.price_per_kwh = Decimal("0.9000")
    tariff.name = "CP renamed"
    tariff.save()
    tariff.periods.update(price_per_kwh=Decimal("0.9"))
    invoice = Invoice.objects.get(transaction=finished)
    assert invoice.tariff_snapshot == {
        "id": tariff.pk,
        "name": "CP",
        "currency": "EUR",
        "price_per_kwh": "0.4000",
        "price_per_minute": "0.0000",
        "idle_price_per_minute": "0.0500",
        "idle_grace_minutes": 10,
        "idle_power_threshold_w": 100,
        "session_fee": "0.00",
        "min_price": "1.00",
        "max_price": None,
        "vat_rate": "19.00",
        "periods": [
            {
                "start": "22:00:00",
                "end": "06:00:00",
                "price_per_kwh": "0.2000",
                "price_per_minute": None,
            }
        ],
    }
    assert invoice.net_total == Decimal("1.00")  # 0.40, lifted to the minimum


def test_night_rate_idle_fee_and_vat_from_meter_values(django_capture_on_commit_callbacks):
    """The issue's acceptance: energy + night rate + idle fee + VAT, from real readings."""
    IdTag.objects.create(id_tag="TAG-1")
    depot = Station.objects.create(name="Depot", time_zone="Europe/Berlin")
    charge_point = registered_long_ago(
        chargepoint_create(charge_point_id="CP-NIGHT", station_id=depot.pk)
    )
    tariff = Tariff.objects.create(
        name="Depot",
        station=depot,
        price_per_kwh=Decimal("0.40"),
        idle_price_per_minute=Decimal("0.10"),
        idle_grace_minutes=15,
        vat_rate=Decimal("19"),
    )
    TariffPeriod.objects.create(
        tariff=tariff, start_time=time(22), end_time=time(6), price_per_kwh=Decimal("0.25")
    )
    start = datetime(2024, 5, 1, 19, 30, tzinfo=UTC)  # 21:30 in Berlin (CEST)
    started, _ = transaction_start(
        charge_point_pk=charge_point.pk,
        connector_id=1,
        id_tag="TAG-1",
        meter_start=1000,
        timestamp=start,
    )
    samples = [
        meter_sample("9000", datetime(2024, 5, 1, 19, 45, tzinfo=UTC), phase="L1"),  # not counted
        meter_sample("6.0", datetime(2024, 5, 1, 20, 0, tzinfo=UTC), unit="kWh"),  # 22:00 local
        meter_sample("11000", datetime(2024, 5, 1, 20, 30, tzinfo=UTC)),
        meter_sample(
            "0", datetime(2024, 5, 1, 20, 30, tzinfo=UTC), measurand="Power.Active.Import", unit="W"
        ),
        meter_sample("11000", datetime(2024, 5, 1, 21, 0, tzinfo=UTC)),
    ]
    metervalues_record(
        charge_point_pk=charge_point.pk,
        connector_id=1,
        transaction_id=started.pk,
        samples=samples,
    )
    with django_capture_on_commit_callbacks(execute=True):
        transaction_stop(
            charge_point_pk=charge_point.pk,
            transaction_id=started.pk,
            meter_stop=11000,
            timestamp=start + timedelta(hours=2, minutes=30),
        )
    invoice = Invoice.objects.get(transaction_id=started.pk)
    assert [
        (line.component, line.description, line.quantity, line.unit_price, line.amount)
        for line in invoice.lines.all()
    ] == [
        # 21:30-22:00 local: 5 kWh at the day rate
        ("energy", "Energy", Decimal("5"), Decimal("0.40"), Decimal("2.00")),
        # 22:00-22:30 local: 5 kWh at the night rate
        ("energy", "Energy 22:00-06:00", Decimal("5"), Decimal("0.25"), Decimal("1.25")),
        # full at 22:30, unplugged at 00:00: 90 min - 15 min grace
        ("idle", "Idle fee (after 15 min grace)", Decimal("75"), Decimal("0.10"), Decimal("7.50")),
    ]
    # 10.75 net; 19 % = 2.0425 -> 2.04
    assert (invoice.net_total, invoice.vat_total, invoice.total) == (
        Decimal("10.75"),
        Decimal("2.04"),
        Decimal("12.79"),
    )
    assert invoice.energy_wh == 10_000


def test_energy_from_meter_values_when_the_stop_reading_is_wrong(
    charge_point, django_capture_on_commit_callbacks
):
    Tariff.objects.create(name="CP", charge_point=charge_point, price_per_kwh=Decimal("0.50"))
    started, _ = transaction_start(
        charge_point_pk=charge_point.pk,
        connector_id=1,
        id_tag="TAG-1",
        meter_start=1000,
        timestamp=T0,
    )
    metervalues_record(
        charge_point_pk=charge_point.pk,
        connector_id=1,
        transaction_id=started.pk,
        samples=[meter_sample("5000", datetime(2024, 5, 1, 10, 30, tzinfo=UTC))],
    )
    with django_capture_on_commit_callbacks(execute=True):
        transaction_stop(
            charge_point_pk=charge_point.pk,
            transaction_id=started.pk,
            meter_stop=0,  # a charger bug
            timestamp=T0 + timedelta(hours=1),
        )
    invoice = Invoice.objects.get(transaction_id=started.pk)
    assert invoice.transaction.energy_source == "meter_values"
    assert invoice.energy_wh == 4000
    assert invoice.net_total == Decimal("2.00")


def test_orphan_stop_is_answered_and_never_billed(charge_point, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        stopped, _ = transaction_stop(
            charge_point_pk=charge_point.pk,
            transaction_id=424242,
            meter_stop=5000,
            timestamp=T0,
        )
    assert stopped is None
    assert callbacks == []
    assert OrphanStopTransaction.objects.filter(transaction_id=424242).exists()
    assert invoice_create(transaction_id=424242) is None
    assert not Invoice.objects.exists()
    assert not BillingFailure.objects.exists()


def test_no_tariff_is_a_failure_for_the_operator_until_fixed(charge_point, default_tariff):
    default_tariff.delete()
    finished = session(charge_point, energy_wh=1000)
    assert invoice_create(transaction_id=finished.pk) is None
    failure = BillingFailure.objects.get(transaction=finished)
    assert failure.error == "No tariff applies to this session."
    assert failure.will_retry is False
    assert failure.resolved_at is None

    assert invoice_create(transaction_id=finished.pk) is None
    failure.refresh_from_db()
    assert failure.attempts == 2

    Tariff.objects.create(name="Fixed", charge_point=charge_point, price_per_kwh=Decimal("1"))
    invoice = invoice_create(transaction_id=finished.pk)
    assert invoice.total == Decimal("1.00")
    failure.refresh_from_db()
    assert failure.resolved_at is not None


def test_unknown_station_time_zone_is_a_pricing_error(charge_point, station):
    station.time_zone = "Nowhere/Atlantis"
    station.save()
    Tariff.objects.create(name="Station", station=station, price_per_kwh=Decimal("0.30"))
    finished = session(charge_point, energy_wh=1000)
    with pytest.raises(PricingError, match="Nowhere/Atlantis"):
        invoice_create(transaction_id=finished.pk)
    assert not Invoice.objects.exists()
    assert not InvoiceSequence.objects.filter(last_number__gt=0).exists()  # no number lost


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        ({"is_default": True, "station": True}, "tariff_default_has_no_scope"),
        ({"valid_from": T0, "valid_until": T0}, "tariff_valid_from_before_until"),
        (
            {"min_price": Decimal("5"), "max_price": Decimal("4.99")},
            "tariff_min_price_not_above_max",
        ),
    ],
)
def test_tariff_constraints(station, fields, constraint):
    if fields.get("station"):
        fields["station"] = station
    with pytest.raises(IntegrityError, match=constraint):
        with transaction.atomic():
            Tariff.objects.create(name="Bad", **fields)


def test_period_cannot_be_empty(default_tariff):
    with pytest.raises(IntegrityError, match="tariffperiod_start_differs_from_end"):
        with transaction.atomic():
            TariffPeriod.objects.create(tariff=default_tariff, start_time=time(6), end_time=time(6))


def test_connector_must_belong_to_the_charge_point(charge_point):
    other = chargepoint_create(charge_point_id="CP-OTHER")
    connector = Connector.objects.create(charge_point=other, connector_id=1)
    tariff = Tariff(name="Mixed", charge_point=charge_point, connector=connector)
    with pytest.raises(ValidationError, match="another charge point"):
        tariff.full_clean()
