"""A session's prices are fixed when it starts: later tariff changes never reach its bill."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import BillingFailure, Tariff, TariffPeriod
from billing.selectors import tariff_in_force
from billing.services import invoice_create, transaction_start_priced
from drivers.models import IdTag
from stations.models import Transaction
from stations.services import chargepoint_create, transaction_start, transaction_stop

from .helpers import registered_long_ago

pytestmark = pytest.mark.django_db

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def tariff(charge_point):
    tariff = Tariff.objects.create(
        name="CP", charge_point=charge_point, price_per_kwh=Decimal("0.3000"), vat_rate=19
    )
    TariffPeriod.objects.create(
        tariff=tariff, start_time=time(22), end_time=time(6), price_per_kwh=Decimal("0.2000")
    )
    return tariff


def start(charge_point, *, at=T0, id_tag="TAG-1", connector_id=1):
    started, _ = transaction_start_priced(
        charge_point_pk=charge_point.pk,
        connector_id=connector_id,
        id_tag=id_tag,
        meter_start=1000,
        timestamp=at,
    )
    return started


def stop(charge_point, started, *, energy_wh=10_000, at=None):
    transaction_stop(
        charge_point_pk=charge_point.pk,
        transaction_id=started.pk,
        meter_stop=started.meter_start + energy_wh,
        timestamp=at or started.start_timestamp + HOUR,
    )


def test_the_start_fixes_the_prices_of_the_tariff_in_force(charge_point, tariff):
    started = start(charge_point)
    stored = Transaction.objects.get(pk=started.pk).tariff_snapshot
    assert stored == started.tariff_snapshot
    assert (stored["id"], stored["name"], stored["price_per_kwh"]) == (tariff.pk, "CP", "0.3000")
    assert stored["periods"] == [
        {
            "start": "22:00:00",
            "end": "06:00:00",
            "price_per_kwh": "0.2000",
            "price_per_minute": None,
        }
    ]


def test_a_price_edited_after_the_start_leaves_the_invoice_at_start_prices(charge_point, tariff):
    started = start(charge_point)
    tariff.price_per_kwh = Decimal("0.9000")
    tariff.vat_rate = 0
    tariff.name = "CP dearer"
    tariff.save()
    tariff.periods.update(price_per_kwh=Decimal("0.9"))
    stop(charge_point, started)

    invoice = invoice_create(transaction_id=started.pk)
    # 10 kWh at 10:00-11:00 UTC (day rate) x 0.30 = 3.00; 19 % VAT = 0.57
    assert (invoice.net_total, invoice.vat_total, invoice.total) == (
        Decimal("3.00"),
        Decimal("0.57"),
        Decimal("3.57"),
    )
    assert invoice.tariff_snapshot == started.tariff_snapshot
    assert invoice.tariff == tariff  # still exists: the invoice links it


@pytest.mark.parametrize("scope", ["higher priority", "more specific"])
def test_a_tariff_added_after_the_start_is_not_used(charge_point, tariff, scope):
    started = start(charge_point)
    if scope == "higher priority":
        newcomer = Tariff.objects.create(
            name="CP urgent", charge_point=charge_point, price_per_kwh=Decimal("4.00"), priority=99
        )
    else:
        newcomer = Tariff.objects.create(
            name="Connector", connector=started.connector, price_per_kwh=Decimal("5.00")
        )
    stop(charge_point, started)
    ended = Transaction.objects.get(pk=started.pk)
    assert tariff_in_force(transaction=ended) == newcomer  # what would win without the copy

    invoice = invoice_create(transaction_id=started.pk)
    assert invoice.net_total == Decimal("3.00")
    assert invoice.tariff == tariff


def test_a_retransmitted_start_keeps_its_first_snapshot(charge_point, tariff):
    first = start(charge_point)
    tariff.price_per_kwh = Decimal("0.9000")
    tariff.save()
    again = start(charge_point)
    assert again.pk == first.pk
    stored = Transaction.objects.get(pk=first.pk).tariff_snapshot
    assert stored["price_per_kwh"] == "0.3000"
    assert again.tariff_snapshot == first.tariff_snapshot


def test_a_retransmitted_start_of_a_session_without_copy_gets_one(charge_point, tariff):
    """A session recorded before prices were fixed gets them from its next start copy."""
    started, _ = transaction_start(
        charge_point_pk=charge_point.pk,
        connector_id=1,
        id_tag="TAG-1",
        meter_start=1000,
        timestamp=T0,
    )
    assert started.tariff_snapshot is None
    again = start(charge_point)
    assert again.pk == started.pk
    assert Transaction.objects.get(pk=started.pk).tariff_snapshot["id"] == tariff.pk


def test_a_session_without_copy_is_priced_by_the_tariff_in_force_at_its_start(charge_point, tariff):
    started, _ = transaction_start(
        charge_point_pk=charge_point.pk,
        connector_id=1,
        id_tag="TAG-1",
        meter_start=1000,
        timestamp=T0,
    )
    stop(charge_point, started)
    tariff.price_per_kwh = Decimal("0.5000")
    tariff.save()
    invoice = invoice_create(transaction_id=started.pk)
    assert invoice.net_total == Decimal("5.00")
    assert invoice.tariff == tariff
    assert invoice.tariff_snapshot["price_per_kwh"] == "0.5000"


def test_a_deleted_tariff_still_prices_the_invoice_which_then_links_none(charge_point, tariff):
    started = start(charge_point)
    tariff.delete()
    stop(charge_point, started)
    invoice = invoice_create(transaction_id=started.pk)
    assert invoice.net_total == Decimal("3.00")
    assert invoice.tariff is None
    assert invoice.tariff_snapshot["name"] == "CP"


def test_no_applicable_tariff_means_no_copy_and_a_billing_failure(charge_point):
    Tariff.objects.all().delete()
    started = start(charge_point)
    assert started.tariff_snapshot is None
    assert Transaction.objects.get(pk=started.pk).tariff_snapshot is None
    stop(charge_point, started)
    assert invoice_create(transaction_id=started.pk) is None
    assert BillingFailure.objects.get(transaction_id=started.pk).error == (
        "No tariff applies to this session."
    )


def test_a_refused_start_fixes_no_prices(charge_point, tariff):
    started = start(charge_point, id_tag="UNKNOWN")
    assert started.status == "refused"
    assert Transaction.objects.get(pk=started.pk).tariff_snapshot is None


@pytest.fixture
def just_registered(station):
    """A charge point registered now: the tests' 2024 dates are before it."""
    IdTag.objects.create(id_tag="TAG-1")
    return chargepoint_create(charge_point_id="CP-NEW", station_id=station.pk)


def test_a_start_before_the_registration_is_priced_at_now(just_registered):
    now = timezone.now()
    Tariff.objects.create(
        name="Then",
        charge_point=just_registered,
        price_per_kwh=Decimal("0.10"),
        valid_until=T0 + HOUR,
    )
    current = Tariff.objects.create(
        name="Now",
        charge_point=just_registered,
        price_per_kwh=Decimal("0.40"),
        valid_from=now - HOUR,
    )
    started = start(just_registered, at=T0)
    assert started.tariff_snapshot["id"] == current.pk


def test_a_start_in_the_future_is_priced_at_now(just_registered, settings):
    IdTag.objects.create(id_tag="TAG-2")
    now = timezone.now()
    skew = timedelta(seconds=settings.PLAUSIBILITY_CLOCK_SKEW_SECONDS)
    current = Tariff.objects.create(
        name="Now", charge_point=just_registered, valid_until=now + timedelta(days=1)
    )
    Tariff.objects.create(
        name="Later", charge_point=just_registered, valid_from=now + timedelta(days=1)
    )
    started = start(just_registered, at=now + timedelta(days=2))
    assert started.tariff_snapshot["id"] == current.pk

    # Within the allowed clock skew, the charger's start time is believed.
    soon = Tariff.objects.create(
        name="Soon", charge_point=just_registered, valid_from=now + skew / 2, priority=1
    )
    believed = start(just_registered, at=now + skew * 0.9, connector_id=2, id_tag="TAG-2")
    assert believed.tariff_snapshot["id"] == soon.pk


def test_pricing_at_start_costs_the_tariff_query_and_its_periods(charge_point, tariff, station):
    """The hot path: what fixing prices adds to a StartTransaction, in queries.

    The session is inserted with its prices: no UPDATE after. A tariff
    without time-of-day periods costs one query, one with periods two.
    """
    IdTag.objects.create(id_tag="TAG-2")
    IdTag.objects.create(id_tag="TAG-3")
    twin = registered_long_ago(chargepoint_create(charge_point_id="CP-2", station_id=station.pk))
    flat = Tariff.objects.create(name="CP-2", charge_point=twin, price_per_kwh=Decimal("0.30"))
    IdTag.objects.create(id_tag="TAG-WARM")
    # Once before counting: the first start of a process reads what it caches.
    transaction_start(
        charge_point_pk=twin.pk, connector_id=3, id_tag="TAG-WARM", meter_start=0, timestamp=T0
    )
    with CaptureQueriesContext(connection) as plain:
        transaction_start(
            charge_point_pk=twin.pk, connector_id=1, id_tag="TAG-2", meter_start=0, timestamp=T0
        )
    with CaptureQueriesContext(connection) as with_periods:
        start(charge_point)
    with CaptureQueriesContext(connection) as without_periods:
        flat_start = start(twin, id_tag="TAG-3", connector_id=2)
    assert flat_start.tariff_snapshot["id"] == flat.pk
    assert flat_start.tariff_snapshot["periods"] == []
    for captured, added in ((with_periods, 2), (without_periods, 1)):
        sqls = [query["sql"] for query in captured.captured_queries]
        assert len(sqls) - len(plain.captured_queries) == added, sqls
        # The tariffs: the charge point's station and registration time read in the same query.
        assert len([sql for sql in sqls if sql.startswith('SELECT "billing_tariff".')]) == 1
        assert len([sql for sql in sqls if sql.startswith('SELECT "billing_tariffperiod".')]) == (
            added - 1
        )
        assert not [sql for sql in sqls if sql.startswith('UPDATE "stations_transaction"')]
    assert Transaction.objects.get(pk=flat_start.pk).tariff_snapshot == flat_start.tariff_snapshot


def test_charge_point_without_station_picks_the_default(station):
    IdTag.objects.create(id_tag="TAG-1")
    lone = registered_long_ago(chargepoint_create(charge_point_id="CP-LONE"))
    Tariff.objects.create(name="Elsewhere", station=station, price_per_kwh=Decimal("9"))
    started = start(lone)
    assert started.tariff_snapshot["id"] == Tariff.objects.get(is_default=True).pk
