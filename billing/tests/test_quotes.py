"""A quote prices a session that has not started as its start and its invoice would."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from billing.models import TagGroup, Tariff, TariffPeriod
from billing.quotes import quote_location, quote_tags, tariff_quote
from billing.services import invoice_create, transaction_start_priced
from drivers.models import IdTag
from stations.choices import SessionStatus
from stations.models import Station, Transaction

pytestmark = pytest.mark.django_db

# 20:00 in Amsterdam (CEST) on the Saturday before clocks go back (03:00 CEST
# -> 02:00 CET on Sunday 25 October 2026, 01:00 UTC).
BEFORE_DST_END = datetime(2026, 10, 24, 18, 0, tzinfo=UTC)


@pytest.fixture
def amsterdam(station):
    Station.objects.filter(pk=station.pk).update(time_zone="Europe/Amsterdam")
    return station


@pytest.fixture
def night_tariff(charge_point, amsterdam):
    Tariff.objects.all().delete()  # the default a migration installs
    tariff = Tariff.objects.create(
        name="Night saver",
        station=amsterdam,
        price_per_kwh=Decimal("0.3900"),
        price_per_minute=Decimal("0.0200"),
        session_fee=Decimal("0.50"),
        min_price=Decimal("1.00"),
        max_price=Decimal("40.00"),
        idle_price_per_minute=Decimal("0.1000"),
        idle_grace_minutes=30,
        vat_rate=Decimal("21.00"),
    )
    TariffPeriod.objects.create(
        tariff=tariff, start_time=time(22), end_time=time(6), price_per_kwh=Decimal("0.2000")
    )
    return tariff


def location(charge_point):
    charge_point.connectors.get_or_create(connector_id=1)
    return quote_location(charge_point_id="CP-1", connector_id=1, public_only=True)


def test_the_windows_cut_at_the_periods_and_the_night_is_longer_when_clocks_go_back(
    charge_point, night_tariff
):
    quote = tariff_quote(location=location(charge_point), tags=(), at=BEFORE_DST_END)
    windows = [(w.start, w.end, w.period, w.price_per_kwh) for w in quote.windows]
    assert windows == [
        # 20:00-22:00 CEST at the tariff's price
        (BEFORE_DST_END, datetime(2026, 10, 24, 20, tzinfo=UTC), None, Decimal("0.3900")),
        # 22:00 CEST - 06:00 CET: nine hours, the repeated hour included, in one window
        (
            datetime(2026, 10, 24, 20, tzinfo=UTC),
            datetime(2026, 10, 25, 5, tzinfo=UTC),
            "22:00-06:00",
            Decimal("0.2000"),
        ),
        (
            datetime(2026, 10, 25, 5, tzinfo=UTC),
            BEFORE_DST_END + timedelta(hours=24),
            None,
            Decimal("0.3900"),
        ),
    ]
    assert quote.time_zone == "Europe/Amsterdam"
    assert all(w.price_per_minute == Decimal("0.0200") for w in quote.windows)


def test_the_night_is_shorter_when_clocks_go_forward(charge_point, night_tariff):
    # 29 March 2026: 02:00 CET -> 03:00 CEST (01:00 UTC); 20:00 CET the day before.
    at = datetime(2026, 3, 28, 19, 0, tzinfo=UTC)
    quote = tariff_quote(location=location(charge_point), tags=(), at=at)
    night = [w for w in quote.windows if w.period == "22:00-06:00"]
    assert [(w.start, w.end) for w in night] == [
        (datetime(2026, 3, 28, 21, tzinfo=UTC), datetime(2026, 3, 29, 4, tzinfo=UTC))
    ]


def test_a_tariff_without_periods_has_one_window_of_a_day(charge_point, station):
    Tariff.objects.all().delete()
    Tariff.objects.create(name="Flat", is_default=True, price_per_kwh=Decimal("0.3000"))
    quote = tariff_quote(location=location(charge_point), tags=(), at=BEFORE_DST_END)
    assert [(w.start, w.end, w.period) for w in quote.windows] == [
        (BEFORE_DST_END, BEFORE_DST_END + timedelta(hours=24), None)
    ]
    assert [c.component for c in quote.components] == ["energy"]
    # Nothing asked: no energy over no time, which no invoice charges.
    assert (quote.estimate.energy_wh, quote.estimate.minutes) == (0, 0)
    assert quote.estimate.bill.total == 0


def test_the_components_are_those_the_terms_charge(charge_point, night_tariff):
    quote = tariff_quote(location=location(charge_point), tags=(), at=BEFORE_DST_END)
    assert [(c.component, c.price, c.unit) for c in quote.components] == [
        ("energy", Decimal("0.3900"), "kWh"),
        ("time", Decimal("0.0200"), "min"),
        ("idle", Decimal("0.1000"), "min"),
        ("session_fee", Decimal("0.50"), "session"),
        ("minimum", Decimal("1.00"), "session"),
        ("maximum", Decimal("40.00"), "session"),
    ]
    idle = quote.components[2]
    assert (idle.grace_minutes, idle.power_threshold_w) == (30, 100)
    assert quote.terms.vat_rate == Decimal("21.00")


@pytest.mark.parametrize(
    ("energy_wh", "minutes"),
    [(22_000, 240), (3_000, 10), (100, 5), (200_000, 600)],
    ids=["into the night", "short", "below the minimum", "across the DST change, capped"],
)
def test_the_estimate_is_the_invoice_of_such_a_session(
    charge_point, night_tariff, energy_wh, minutes
):
    """Start it (prices fixed as at any start), end it, invoice it: the same money."""
    at = BEFORE_DST_END + timedelta(hours=1, minutes=30)  # 21:30 CEST
    tag = IdTag.objects.get(id_tag="TAG-1")
    quote = tariff_quote(
        location=location(charge_point), tags=(tag,), at=at, energy_wh=energy_wh, minutes=minutes
    )
    started, _ = transaction_start_priced(
        charge_point_pk=charge_point.pk,
        connector_id=1,
        id_tag="TAG-1",
        meter_start=5000,
        timestamp=at,
    )
    assert started.tariff_snapshot["id"] == quote.tariff_id == night_tariff.pk
    Transaction.objects.filter(pk=started.pk).update(
        status=SessionStatus.ENDED,
        stop_timestamp=at + timedelta(minutes=minutes),
        meter_stop=5000 + energy_wh,
        energy_wh=energy_wh,
        stop_reason="Local",
    )
    invoice = invoice_create(transaction_id=started.pk)
    bill = quote.estimate.bill
    assert bill.total > 0
    assert (bill.net, bill.vat, bill.total) == (invoice.net_total, invoice.vat_total, invoice.total)
    assert [(line.component, line.quantity, line.amount) for line in bill.lines] == [
        (line.component, line.quantity, line.amount) for line in invoice.lines.order_by("id")
    ]


def test_a_driver_with_several_tags_is_quoted_the_tag_of_their_group(charge_point, station):
    Tariff.objects.all().delete()
    Tariff.objects.create(name="Public", is_default=True, price_per_kwh=Decimal("0.40"))
    fleet = TagGroup.objects.create(name="Fleet")
    fleet_tariff = Tariff.objects.create(
        name="Fleet", tag_group=fleet, price_per_kwh=Decimal("0.20")
    )
    private, company = (
        IdTag.objects.create(id_tag="A-PRIVATE"),
        IdTag.objects.create(id_tag="B-COMPANY"),
    )
    fleet.id_tags.add(company)
    quote = tariff_quote(
        location=location(charge_point), tags=(private, company), at=BEFORE_DST_END
    )
    assert (quote.tariff_id, quote.id_tag) == (fleet_tariff.pk, "B-COMPANY")
    public = tariff_quote(location=location(charge_point), tags=(private,), at=BEFORE_DST_END)
    assert (public.tariff_name, public.id_tag) == ("Public", "A-PRIVATE")


def test_a_driver_s_usable_tags_are_quoted_for(charge_point):
    from api_support.testing import make_driver

    user = make_driver("dora", "D-OK", "D-BLOCKED", "D-EXPIRED")
    IdTag.objects.filter(id_tag="D-BLOCKED").update(status="Blocked")
    IdTag.objects.filter(id_tag="D-EXPIRED").update(expiry_date=BEFORE_DST_END - timedelta(days=1))
    tags = quote_tags(id_tag=None, driver_user_id=user.pk, at=BEFORE_DST_END)
    assert [tag.id_tag for tag in tags] == ["D-OK"]
    # Named, any own tag (ignoring case); another's is refused.
    assert [
        t.id_tag for t in quote_tags(id_tag="d-blocked", driver_user_id=user.pk, at=BEFORE_DST_END)
    ] == ["D-BLOCKED"]
    with pytest.raises(ValueError):
        quote_tags(id_tag="TAG-1", driver_user_id=user.pk, at=BEFORE_DST_END)


def test_no_tariff_is_a_quote_without_prices(charge_point):
    Tariff.objects.all().delete()
    quote = tariff_quote(
        location=location(charge_point), tags=(), at=BEFORE_DST_END, energy_wh=1000
    )
    assert (quote.tariff_id, quote.terms, quote.windows, quote.estimate) == (None, None, (), None)
