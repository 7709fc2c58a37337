"""Sessions: ended ones with their meter values and invoices, and the ones running now.

The plan of the ended sessions is drawn from its own seeded stream and drawn
again for each table (sessions, meter values, invoices, invoice lines), so
that a million sessions never sit in memory at once and each table still
agrees with the others.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from billing.models import Invoice, InvoiceLine, InvoiceSequence
from billing.pricing import Component
from stations.choices import DisputeResolution, EnergySource, SessionStatus, StopReason
from stations.models import MeterValue, Transaction

from .history_sql import Drawn, history_copy
from .meter_sql import meter_values_insert
from .meter_sql import next_pk as meter_sql_next_pk
from .spec import SpecError
from .tables import Table

QUIET_HOURS = 6  # ended sessions stop before now minus this; running ones start after
ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
STOP_REASONS = (
    (StopReason.LOCAL, 45),
    (StopReason.EV_DISCONNECTED, 30),
    (StopReason.REMOTE, 15),
    (StopReason.OTHER, 5),
    (StopReason.POWER_LOSS, 3),
    (StopReason.DE_AUTHORIZED, 2),
)
CENT = Decimal("0.01")
MILLI = Decimal("0.001")


@dataclass(frozen=True)
class Planned:
    pk: int
    connector: object  # network.ConnectorInfo
    tag_index: int
    start: float
    stop: float
    charging_s: float
    energy_wh: int
    meter_start: int
    power_w: int
    status: str
    refused: bool
    disputed: str  # "", "waiting", "accepted", "corrected", "voided"
    stop_reason: str
    tariff_pk: int
    ocpp_transaction_id: str

    @property
    def billable(self) -> bool:
        return (
            not self.refused
            and self.disputed in ("", "accepted", "corrected")
            and self.energy_wh > 0
        )


def _plan(spec, network, first_pk: int, now: float) -> Iterator[Planned]:
    rng = random.Random(f"{spec.seed}-sessions")
    connectors = network.connectors
    count = len(connectors)
    if not count or not spec.sessions:
        return
    end = now - QUIET_HOURS * 3600
    begin = end - spec.session_days * 86400
    slots = math.ceil(spec.sessions / count)
    slot = (end - begin) / slots
    reasons = [reason for reason, _ in STOP_REASONS]
    weights = [weight for _, weight in STOP_REASONS]
    for index in range(spec.sessions):
        connector = connectors[index % count]
        seq = index // count
        fast = connector.power_w >= 50_000
        longest = min(slot * 0.85, (1.0 if fast else 10.0) * 3600)
        shortest = min(slot * 0.5, (0.25 if fast else 0.5) * 3600)
        duration = rng.uniform(shortest, longest)
        start = begin + seq * slot + rng.uniform(0, slot - duration)
        car_w = connector.power_w if fast else min(connector.power_w, rng.choice((7_400, 11_000)))
        power_w = int(car_w * rng.uniform(0.4, 0.95))
        charging_s = duration * rng.uniform(0.55, 1.0)
        energy_wh = min(int(power_w * charging_s / 3600), 90_000)
        roll = rng.random()
        refused = roll < 0.015
        disputed = ""
        status = SessionStatus.ENDED
        if refused:
            status, energy_wh, charging_s = SessionStatus.REFUSED, 0, 0.0
        elif roll < 0.020:
            status, disputed = SessionStatus.SUPERSEDED, "waiting"
        elif roll < 0.023:
            disputed = "waiting"
        elif roll < 0.025:
            disputed = "accepted"
        elif roll < 0.026:
            disputed = "corrected"
        elif roll < 0.027:
            disputed = "voided"
        reason = rng.choices(reasons, weights)[0]
        station_tariff = network.station_tariffs.get(connector.station_index)
        tariff = station_tariff or network.default_tariff
        yield Planned(
            pk=first_pk + index,
            connector=connector,
            tag_index=rng.randrange(len(network.tag_pks)),
            start=start,
            stop=start + duration,
            charging_s=charging_s,
            energy_wh=energy_wh,
            meter_start=(seq * 31_000 + connector.number * 7) % 900_000_000,
            power_w=power_w,
            status=status,
            refused=refused,
            disputed=disputed,
            stop_reason="" if status == SessionStatus.SUPERSEDED else reason,
            tariff_pk=tariff.pk,
            ocpp_transaction_id=f"{rng.getrandbits(64):016x}"
            if connector.version == "2.0.1"
            else "",
        )


TRANSACTION_FIELDS = (
    "id",
    "charge_point",
    "connector",
    "id_tag",
    "tag",
    "status",
    "start_auth_status",
    "ocpp_transaction_id",
    "meter_start",
    "start_timestamp",
    "meter_stop",
    "stop_timestamp",
    "stop_reason",
    "energy_wh",
    "energy_source",
    "meter_segments",
    "tariff_snapshot",
    "disputed_at",
    "dispute_reason",
    "dispute_resolution",
    "dispute_resolved_at",
    "dispute_note",
    "energy_wh_reported",
    "created_at",
    "updated_at",
)
METER_FIELDS = (
    "id",
    "charge_point",
    "connector",
    "transaction",
    "timestamp",
    "value",
    "numeric_value",
    "measurand",
    "phase",
    "unit",
    "context",
    "location",
    "format",
    "received_at",
)
DISPUTE_REASON = {
    SessionStatus.SUPERSEDED: "Superseded: a new session started on the connector.",
    SessionStatus.ENDED: "Energy above what the connector's power allows in the session's time.",
}


def sessions_build(*, spec, loader, network, now: float, out) -> dict:
    stamp = loader.timestamp
    first = loader.next_id(Transaction)
    # Drawn in Python; with --distinct-sessions the database copies them up to spec.sessions.
    drawn = replace(spec, sessions=spec.distinct_sessions or spec.sessions)
    copying = drawn.sessions < spec.sessions
    if copying and not loader.postgresql:
        raise SpecError("--distinct-sessions needs PostgreSQL (the database makes the copies)")
    sessions = Table(Transaction, TRANSACTION_FIELDS, now=stamp(now))
    written = loader.load(
        Transaction,
        sessions.columns,
        (
            _session_row(sessions, planned, network, stamp)
            for planned in _plan(drawn, network, first, now)
        ),
        label="ended sessions",
    )
    first_invoice, first_line = loader.next_id(Invoice), loader.next_id(InvoiceLine)
    invoices, lines, numbers = _invoices(drawn, loader, network, first, now)
    if copying:
        added = history_copy(
            drawn=Drawn(first, written, first_invoice, invoices, first_line, lines),
            total=spec.sessions,
            shift_days=spec.session_days,
            numbers=numbers,
            out=out,
        )
        written += added["sessions"]
        invoices += added["invoices"]
        lines += added["invoice_lines"]
        for model in (Transaction, Invoice, InvoiceLine):
            loader.reset_sequence(model)
    for year, last in numbers.items():
        InvoiceSequence.objects.update_or_create(year=year, defaults={"last_number": last})
    running_first = first + spec.sessions
    running = list(_running_plan(spec, network, running_first, now))
    loader.load(
        Transaction,
        sessions.columns,
        (_running_row(sessions, item, network, stamp) for item in running),
        label="running sessions",
    )
    meter = Table(MeterValue, METER_FIELDS, now=stamp(now))
    first_meter = loader.next_id(MeterValue)
    meter_values = 0
    in_database = bool(
        (spec.meter_values_sql or copying)
        and loader.postgresql
        and spec.meter_values
        and spec.sessions
    )
    if in_database:  # built by PostgreSQL from the sessions just loaded (meter_sql.py)
        block = dict(first_tx=first, last_tx=first + spec.sessions - 1, readings=spec.meter_values)
        meter_values = meter_values_insert(
            **block, first_pk=first_meter, fast_keys=loader.fast_keys, out=out
        )
        first_meter = meter_sql_next_pk(**block, first_pk=first_meter)
    rows = _meter_rows(
        meter, drawn, network, first, now, running, stamp, first_meter, ended=not in_database
    )
    meter_values += loader.load(MeterValue, meter.columns, rows)
    return {
        "sessions": written,
        "running": len(running),
        "meter_values": meter_values,
        "invoices": invoices,
        "invoice_lines": lines,
    }


def _session_row(table: Table, p: Planned, network, stamp) -> tuple:
    connector = p.connector
    tag_value = network.tag_values[p.tag_index]
    stop = stamp(p.stop)
    meter_stop = p.meter_start + p.energy_wh
    disputed_at = stamp(p.stop + 2) if p.disputed else None
    resolution = {
        "accepted": DisputeResolution.ACCEPTED,
        "corrected": DisputeResolution.CORRECTED,
        "voided": DisputeResolution.VOIDED,
    }.get(p.disputed, "")
    resolved_at = stamp(p.stop + 86400) if resolution else None
    reason = DISPUTE_REASON.get(p.status, "") if p.disputed else ""
    return table.row(
        p.pk,
        connector.charge_point_pk,
        connector.pk,
        tag_value,
        network.tag_pks[p.tag_index],
        p.status,
        "Invalid" if p.refused else "Accepted",
        p.ocpp_transaction_id,
        p.meter_start,
        stamp(p.start),
        meter_stop,
        stop,
        p.stop_reason,
        p.energy_wh,
        EnergySource.METER_STOP if p.refused else EnergySource.METER_VALUES,
        json.dumps([{"from_wh": p.meter_start, "to_wh": meter_stop}]),
        None if p.refused else network.snapshots[p.tariff_pk],
        disputed_at,
        reason,
        resolution,
        resolved_at,
        "Checked against the charger's log." if resolution else "",
        p.energy_wh + 1500 if p.disputed == "corrected" else None,
        stamp(p.start),
        stop,
    )


@dataclass(frozen=True)
class Running:
    pk: int
    connector: object
    tag_index: int
    start: float
    meter_start: int
    power_w: int
    tariff_pk: int


def _running_plan(spec, network, first_pk: int, now: float) -> Iterator[Running]:
    rng = random.Random(f"{spec.seed}-running")
    pk = first_pk
    for connector in network.connectors:
        if not connector.running_status:
            continue
        tariff = network.station_tariffs.get(connector.station_index) or network.default_tariff
        yield Running(
            pk=pk,
            connector=connector,
            tag_index=rng.randrange(len(network.tag_pks)),
            start=now - rng.uniform(300, (QUIET_HOURS - 2) * 3600),
            meter_start=rng.randrange(1_000_000, 90_000_000),
            power_w=int(min(connector.power_w, 11_000) * rng.uniform(0.4, 0.95)),
            tariff_pk=tariff.pk,
        )
        pk += 1


def _running_row(table: Table, r: Running, network, stamp) -> tuple:
    connector = r.connector
    start = stamp(r.start)
    return table.row(
        r.pk,
        connector.charge_point_pk,
        connector.pk,
        network.tag_values[r.tag_index],
        network.tag_pks[r.tag_index],
        SessionStatus.RUNNING,
        "Accepted",
        f"{r.pk:016x}" if connector.version == "2.0.1" else "",
        r.meter_start,
        start,
        None,
        None,
        "",
        None,
        "",
        "[]",
        network.snapshots[r.tariff_pk],
        None,
        "",
        "",
        None,
        "",
        None,
        start,
        start,
    )


def _meter_rows(
    table, spec, network, first, now, running, stamp, first_pk, ended=True
) -> Iterator[tuple]:
    pk = first_pk
    readings = spec.meter_values
    if readings and ended:
        for p in _plan(spec, network, first, now):
            if p.refused:
                continue
            span = p.stop - p.start
            for i in range(readings):
                at = p.start + span * i / (readings - 1)
                fraction = min(1.0, (at - p.start) / p.charging_s) if p.charging_s else 1.0
                context = (
                    "Transaction.Begin"
                    if i == 0
                    else "Transaction.End"
                    if i == readings - 1
                    else "Sample.Periodic"
                )
                register = p.meter_start + int(p.energy_wh * fraction)
                power = p.power_w if 0 < i < readings - 1 and fraction < 1.0 else 0
                for row in _reading(table, pk, p, at, register, power, context, stamp):
                    yield row
                pk += 2
    for r in running:
        # A reading every 15 minutes since the start, as the chargers are configured.
        elapsed = now - r.start
        for i in range(min(int(elapsed // 900) + 1, 48)):
            at = r.start + i * 900
            register = r.meter_start + int(r.power_w * i * 900 / 3600)
            context = "Transaction.Begin" if i == 0 else "Sample.Periodic"
            for row in _reading(table, pk, r, at, register, r.power_w if i else 0, context, stamp):
                yield row
            pk += 2


def _reading(table, pk, session, at, register, power, context, stamp):
    connector = session.connector
    when, received = stamp(at), stamp(at + 1.5)
    yield table.row(
        pk,
        connector.charge_point_pk,
        connector.pk,
        session.pk,
        when,
        str(register),
        register,
        ENERGY,
        "",
        "Wh",
        context,
        "Outlet",
        "Raw",
        received,
    )
    yield table.row(
        pk + 1,
        connector.charge_point_pk,
        connector.pk,
        session.pk,
        when,
        str(power),
        power,
        POWER,
        "",
        "W",
        context,
        "Outlet",
        "Raw",
        received,
    )


# --- Invoices ----------------------------------------------------------------------


@dataclass(frozen=True)
class Terms:
    currency: str
    per_kwh: Decimal
    per_minute: Decimal
    fee: Decimal
    vat: Decimal


def _terms(network) -> dict[int, Terms]:
    terms = {}
    for pk, text in network.snapshots.items():
        snapshot = json.loads(text)
        terms[pk] = Terms(
            currency=snapshot["currency"],
            per_kwh=Decimal(snapshot["price_per_kwh"]),
            per_minute=Decimal(snapshot["price_per_minute"]),
            fee=Decimal(snapshot["session_fee"]),
            vat=Decimal(snapshot["vat_rate"]),
        )
    return terms


def _bill(p: Planned, terms: Terms) -> list[tuple[str, str, Decimal, str, Decimal, Decimal]]:
    """(component, description, quantity, unit, unit price, amount) of each invoice line."""
    kwh = (Decimal(p.energy_wh) / 1000).quantize(MILLI)
    lines = [(Component.ENERGY, "Energy", kwh, "kWh", terms.per_kwh, _money(kwh * terms.per_kwh))]
    if terms.per_minute:
        minutes = (Decimal(int(p.charging_s)) / 60).quantize(CENT)
        lines.append(
            (
                Component.TIME,
                "Charging time",
                minutes,
                "min",
                terms.per_minute,
                _money(minutes * terms.per_minute),
            )
        )
    if terms.fee:
        lines.append(
            (Component.SESSION_FEE, "Session fee", Decimal(1), "session", terms.fee, terms.fee)
        )
    return lines


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _invoices(spec, loader, network, first, now) -> tuple[int, int, dict[int, int]]:
    """Invoices and lines of the billable drawn sessions; returns how many of each and the
    last invoice number given per year."""
    stamp = loader.timestamp
    terms = _terms(network)
    invoice_table = Table(
        Invoice,
        (
            "id",
            "number",
            "transaction",
            "tariff",
            "tariff_snapshot",
            "currency",
            "energy_wh",
            "net_total",
            "vat_total",
            "total",
            "issued_at",
            "updated_at",  # last changed when issued: what a sync by updated_since reads
        ),
        now=stamp(now),
    )
    line_table = Table(
        InvoiceLine,
        ("id", "invoice", "component", "description", "quantity", "unit", "unit_price", "amount"),
        now=stamp(now),
    )
    first_invoice, first_line = loader.next_id(Invoice), loader.next_id(InvoiceLine)
    numbers: dict[int, int] = {}

    def invoice_rows():
        pk = first_invoice
        for p in _plan(spec, network, first, now):
            if not p.billable:
                continue
            issued = p.stop + 5 + (86400 if p.disputed else 0)
            year = datetime.fromtimestamp(issued, UTC).year
            numbers[year] = numbers.get(year, 0) + 1
            t = terms[p.tariff_pk]
            net = sum(line[5] for line in _bill(p, t))
            vat = _money(net * t.vat / 100)
            yield invoice_table.row(
                pk,
                f"{year}-{numbers[year]:06d}",
                p.pk,
                p.tariff_pk,
                network.snapshots[p.tariff_pk],
                t.currency,
                p.energy_wh,
                net,
                vat,
                net + vat,
                stamp(issued),
                stamp(issued),
            )
            pk += 1

    def line_rows():
        invoice, pk = first_invoice, first_line
        for p in _plan(spec, network, first, now):
            if not p.billable:
                continue
            for component, description, quantity, unit, price, amount in _bill(
                p, terms[p.tariff_pk]
            ):
                yield line_table.row(
                    pk, invoice, component, description, quantity, unit, price, amount
                )
                pk += 1
            invoice += 1

    invoices = loader.load(Invoice, invoice_table.columns, invoice_rows())
    lines = loader.load(InvoiceLine, line_table.columns, line_rows())
    return invoices, lines, numbers
