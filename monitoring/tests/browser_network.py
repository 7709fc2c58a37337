"""Data of the browser tests: a network that looks like an operator's, from small to 10,000.

Rows are written with the ORM (bulk_create where there are many) in the
test process; the live charge points are StationThreads (browser.py) that
talk OCPP to the Daphne under test.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from billing.models import Invoice, Tariff
from billing.services import invoice_create, station_energy_rollup, tariff_snapshot
from drivers.models import IdTag
from monitoring.models import Node, NodeKind
from stations.choices import SessionStatus
from stations.models import ChargePoint, Connector, Station, Transaction

# Net prices; the invoice adds VAT.
PRICE_PER_KWH = Decimal("7.50")
SESSION_FEE = Decimal("10.00")
VAT_RATE = Decimal("7.00")


def tariff_default() -> Tariff:
    """The operator's standard prices, the default in place of the installation's (free) one."""
    Tariff.objects.filter(is_default=True).update(is_default=False)
    return Tariff.objects.create(
        name="Standard AC",
        currency="THB",
        price_per_kwh=PRICE_PER_KWH,
        session_fee=SESSION_FEE,
        vat_rate=VAT_RATE,
        is_default=True,
    )


def worker_alive() -> None:
    """A Celery worker's heartbeat row, as a production install has one (no "no worker" alarm).

    The browser tests run Daphne only; invoices are issued by the test
    itself through billing.services.invoice_create.
    """
    now = timezone.now()
    Node.objects.create(
        node_id="celery@worker-1",
        kind=NodeKind.CELERY,
        hostname="worker-1",
        pid=4242,
        started_at=now - timedelta(hours=6),
        last_seen=now,
    )


def stations() -> tuple[Station, Station]:
    return (
        Station.objects.create(
            name="Bangkok Central", city="Bangkok", country="TH", time_zone="Asia/Bangkok"
        ),
        Station.objects.create(
            name="Chiang Mai Airport", city="Chiang Mai", country="TH", time_zone="Asia/Bangkok"
        ),
    )


# charge point, station index, online, connector statuses (1, 2, ...)
QUIET_CHARGE_POINTS = (
    ("BKK-CENTRAL-03", 0, True, ["Available", "Available"]),
    ("BKK-CENTRAL-04", 0, True, ["Preparing", "Available"]),
    ("BKK-CENTRAL-05", 0, True, ["Finishing", "Available"]),
    ("CNX-AIRPORT-01", 1, True, ["Available", "Available"]),
    ("CNX-AIRPORT-02", 1, False, ["Unavailable", "Unavailable"]),
    ("CNX-AIRPORT-03", 1, False, ["Faulted", "Available"]),
)


def quiet_charge_points(sites) -> None:
    """Charge points that only show on the dashboard (none of them is clicked)."""
    now = timezone.now()
    for charge_point_id, site, online, statuses in QUIET_CHARGE_POINTS:
        cp = ChargePoint.objects.create(
            charge_point_id=charge_point_id,
            station=sites[site],
            is_online=online,
            vendor="ACME",
            model="Wallbox 22",
            last_heartbeat=now - timedelta(minutes=2 if online else 95),
            last_seen=now - timedelta(minutes=1 if online else 95),
        )
        Connector.objects.bulk_create(
            Connector(
                charge_point=cp,
                connector_id=number,
                status=status,
                error_code="GroundFailure" if status == "Faulted" else "NoError",
                info="RCD tripped" if status == "Faulted" else "",
                status_timestamp=now - timedelta(minutes=40 + number),
            )
            for number, status in enumerate(statuses, start=1)
        )


def registered(charge_point_id: str, site: Station) -> ChargePoint:
    """A charge point registered at a station before it first connects (registered_long_ago)."""
    return ChargePoint.objects.create(
        charge_point_id=charge_point_id, station=site, vendor="ACME", model="Wallbox 22"
    )


def registered_long_ago(days: int = 120) -> None:
    """Every charge point registered `days` ago: sessions that started an hour ago are plausible.

    (A session that starts before its charge point was registered is
    disputed: stations.services.plausibility.)
    """
    ChargePoint.objects.update(created_at=timezone.now() - timedelta(days=days))


def id_tags(*tags: tuple[str, str]) -> None:
    """Accepted id tags: (id tag, note)."""
    IdTag.objects.bulk_create(IdTag(id_tag=tag, note=note) for tag, note in tags)


def ended_session(
    cp: ChargePoint, *, connector_id: int, id_tag: str, start: datetime, minutes: int, wh: int
) -> Transaction:
    """A finished session as the charge point reported it, with the prices fixed at its start."""
    connector, _created = Connector.objects.get_or_create(
        charge_point=cp, connector_id=connector_id
    )
    meter_start = 1_000_000
    return Transaction.objects.create(
        charge_point=cp,
        connector=connector,
        id_tag=id_tag,
        status=SessionStatus.ENDED,
        meter_start=meter_start,
        meter_stop=meter_start + wh,
        energy_wh=wh,
        start_timestamp=start,
        stop_timestamp=start + timedelta(minutes=minutes),
        tariff_snapshot=tariff_snapshot(Tariff.objects.get(is_default=True)),
    )


def invoice_sessions(sessions) -> list[Invoice]:
    """Each finished session invoiced by the billing service (as the invoicing subscriber does)."""
    invoices = []
    for session in sessions:
        with transaction.atomic():
            invoice = invoice_create(transaction_id=session.pk)
        assert invoice is not None, f"session {session.pk} was not invoiced"
        invoices.append(invoice)
    return invoices


def month_history(sites, *, now: datetime | None = None) -> list[Invoice]:
    """Sessions and invoices on the days of this month before today (operator's time zone).

    A few sessions a day at both stations, invoiced when they ended (the
    invoice's issue date moved to the session's end), and the hourly energy
    roll-up recomputed: what the revenue report draws.
    """
    now = timezone.localtime(now)
    first = now.date().replace(day=1)
    day_count = (now.date() - first).days
    if day_count == 0:
        return []
    cps = [
        ChargePoint.objects.filter(station=site).order_by("charge_point_id").first()
        for site in sites
    ]
    invoices = []
    for offset in range(day_count):
        day = first + timedelta(days=offset)
        # Busier on some days than on others: 2 to 5 sessions, of 3 to 33 kWh.
        for index in range(2 + (offset * 7 + 3) % 4):
            cp = cps[(offset + index) % len(cps)]
            start = timezone.make_aware(datetime.combine(day, time(7 + 3 * index, 5 * offset)))
            wh = 3_000 + (offset * 9_173 + index * 5_881) % 30_000
            session = ended_session(
                cp,
                connector_id=1 + index % 2,
                id_tag=f"FLEET-{offset * 5 + index + 1:04d}",
                start=start,
                minutes=max(20, wh // 180),  # about 11 kW
                wh=wh,
            )
            (invoice,) = invoice_sessions([session])
            Invoice.objects.filter(pk=invoice.pk).update(
                issued_at=session.stop_timestamp + timedelta(minutes=1)
            )
            invoices.append(invoice)
    station_energy_rollup(now=now, hours=24 * (day_count + 1))
    return invoices


def grid_of(count: int, *, faulted: tuple[int, ...], prefix: str = "GRID") -> list[str]:
    """`count` charge points with two connectors each, written in bulk; returns their ids.

    Those at the indexes in `faulted` report connector 1 Faulted (offline:
    they went silent with the fault); the others are Available, one in
    three online. Ids are zero-padded so that they sort as numbers.
    """
    now = timezone.now()
    site = Station.objects.create(name="Nationwide", country="TH", time_zone="Asia/Bangkok")
    ids = [f"{prefix}-{number:05d}" for number in range(count)]
    ChargePoint.objects.bulk_create(
        (
            ChargePoint(
                charge_point_id=charge_point_id,
                station=site,
                is_online=index % 3 == 0 and index not in faulted,
                vendor="ACME",
                model="Wallbox 22",
                last_heartbeat=now - timedelta(minutes=index % 5),
            )
            for index, charge_point_id in enumerate(ids)
        ),
        batch_size=2_000,
    )
    pks = dict(ChargePoint.objects.filter(station=site).values_list("charge_point_id", "pk"))
    faulted_ids = {ids[index] for index in faulted}
    Connector.objects.bulk_create(
        (
            Connector(
                charge_point_id=pks[charge_point_id],
                connector_id=number,
                status="Faulted" if number == 1 and charge_point_id in faulted_ids else "Available",
                error_code="GroundFailure"
                if number == 1 and charge_point_id in faulted_ids
                else "NoError",
                status_timestamp=now - timedelta(hours=2),
            )
            for charge_point_id in ids
            for number in (1, 2)
        ),
        batch_size=4_000,
    )
    return ids
