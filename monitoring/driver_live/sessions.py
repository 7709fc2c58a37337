"""What the live channel says about sessions: the reads, and the messages they make.

Synchronous (they read the database); the consumer, the hub and the push
worker call them from threads. A session belongs to a driver as the REST
API decides (`stations.selectors.transaction_owned_q`): its id tag record is
one of the driver's tags, or its id tag value is one of theirs, ignoring
case. Messages are plain JSON-ready dicts, with the API's field names and
formats (ISO 8601 times in UTC with "Z", money as decimal strings).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Upper
from django.urls import reverse
from django.utils import timezone

from billing.models import Invoice
from billing.selectors import transaction_cost_so_far
from drivers.models import IdTag
from ocpp_consumer.commands.handles import START_ACTIONS, remote_start_command_link
from ocpp_consumer.models import Command
from stations.choices import SessionStatus
from stations.models import MeterValue, Transaction
from stations.selectors import transaction_energy_so_far, transaction_list
from stations.services.meter_values import ENERGY_REGISTER, register_wh

POWER = "Power.Active.Import"
# Sessions one snapshot lists at most (the newest first), and id tags one
# read of the running sessions matches at once.
SNAPSHOT_LIMIT = 500
TAGS_PER_QUERY = 1000
# A session's remote start is looked for again this often, among the start
# commands of its charge point sent this recently.
LINK_RETRY_SECONDS = 0.25
RECENT_START_SECONDS = 120


def iso(value: datetime | None) -> str | None:
    """A time as the REST API writes it: ISO 8601 in UTC, "Z" for +00:00."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


# --- who owns what -------------------------------------------------------------


@dataclass
class TagIndex:
    """The id tags of some users: by record and by value (upper case), to their users."""

    by_pk: dict[int, set[int]] = field(default_factory=dict)
    by_value: dict[str, set[int]] = field(default_factory=dict)

    def owners(self, session: Transaction) -> set[int]:
        found = set(self.by_pk.get(session.tag_id, ())) if session.tag_id else set()
        return found | self.by_value.get(session.id_tag.upper(), set())


def tag_index(*, user_ids: Collection[int]) -> TagIndex:
    """The id tags of these users (through their driver profile)."""
    index = TagIndex()
    rows = IdTag.objects.filter(driver__user_id__in=list(user_ids)).values_list(
        "pk", "id_tag", "driver__user_id"
    )
    for pk, value, user_id in rows:
        index.by_pk.setdefault(pk, set()).add(user_id)
        index.by_value.setdefault(value.upper(), set()).add(user_id)
    return index


def transaction_owners(*, transaction_pk: int) -> set[int]:
    """The users a session belongs to (usually one; none for a stranger's tag)."""
    session = Transaction.objects.filter(pk=transaction_pk).values("tag_id", "id_tag").first()
    if session is None:
        return set()
    by_value = IdTag.objects.alias(upper=Upper("id_tag")).filter(
        upper=session["id_tag"].upper(), driver__isnull=False
    )
    owners = set(by_value.values_list("driver__user_id", flat=True))
    if session["tag_id"] is not None:
        owners |= set(
            IdTag.objects.filter(pk=session["tag_id"], driver__isnull=False).values_list(
                "driver__user_id", flat=True
            )
        )
    return owners


# --- running sessions and their figures -----------------------------------------


def _latest(measurand: str, units: tuple[str, ...], *, offset: int = 0):
    return MeterValue.objects.filter(
        transaction=OuterRef("pk"),
        measurand=measurand,
        phase="",
        numeric_value__isnull=False,
        unit__in=units,
    ).order_by("-timestamp", "-id")[offset : offset + 1]


def _figure_annotations() -> dict:
    """Besides transaction_list's latest register: its time, the one before, the latest power."""
    register = _latest(ENERGY_REGISTER, ("Wh", "kWh"))
    previous = _latest(ENERGY_REGISTER, ("Wh", "kWh"), offset=1)
    power = _latest(POWER, ("W", "kW"))
    return {
        "live_register_at": Subquery(register.values("timestamp")),
        "previous_register_value": Subquery(previous.values("numeric_value")),
        "previous_register_unit": Subquery(previous.values("unit")),
        "previous_register_at": Subquery(previous.values("timestamp")),
        "live_power_value": Subquery(power.values("numeric_value")),
        "live_power_unit": Subquery(power.values("unit")),
        "live_power_at": Subquery(power.values("timestamp")),
    }


def _with_figures(queryset):
    return queryset.annotate(**_figure_annotations())


def running_sessions_of(*, index: TagIndex) -> list[Transaction]:
    """The running sessions of the indexed users' tags, with their latest readings."""
    found: dict[int, Transaction] = {}
    pks, values = sorted(index.by_pk), sorted(index.by_value)
    for start in range(0, max(len(pks), len(values)), TAGS_PER_QUERY):
        chunk_pks = pks[start : start + TAGS_PER_QUERY]
        chunk_values = values[start : start + TAGS_PER_QUERY]
        sessions = _with_figures(
            transaction_list()
            .alias(id_tag_upper=Upper("id_tag"))
            .filter(Q(tag_id__in=chunk_pks) | Q(id_tag_upper__in=chunk_values))
            .filter(status=SessionStatus.RUNNING)
        )
        found.update((session.pk, session) for session in sessions)
    return sorted(found.values(), key=lambda session: (session.start_timestamp, session.pk))


def running_sessions_all(*, limit: int = SNAPSHOT_LIMIT) -> tuple[list[Transaction], bool]:
    """Every running session, the newest first, at most `limit`; and whether more run."""
    sessions = list(
        _with_figures(transaction_list().filter(status=SessionStatus.RUNNING)).order_by(
            "-start_timestamp", "-pk"
        )[: limit + 1]
    )
    return sessions[:limit], len(sessions) > limit


def power_w(session: Transaction) -> int | None:
    """The power now: the latest whole-meter Power.Active.Import reading when it is not
    older than the latest energy reading, else the energy between the last two readings
    over their time; None when neither is known."""
    value, unit, at = session.live_power_value, session.live_power_unit, session.live_power_at
    latest_at = session.live_register_at
    if value is not None and (latest_at is None or at >= latest_at):
        return int((value * (1000 if unit == "kW" else 1)).to_integral_value())
    if session.live_register_value is None or session.previous_register_value is None:
        return None
    latest = register_wh(session.live_register_value, session.live_register_unit)
    previous = register_wh(session.previous_register_value, session.previous_register_unit)
    seconds = (latest_at - session.previous_register_at).total_seconds() if latest_at else 0
    if latest is None or previous is None or seconds <= 0 or latest < previous:
        return None
    return int(((latest - previous) * 3600 / Decimal(seconds)).to_integral_value())


@dataclass(frozen=True)
class Figures:
    """What session.updated tells; `reading` changes exactly when a new reading came in."""

    energy_wh: int | None
    power_w: int | None
    measured_at: datetime | None
    reading: tuple


def figures(session: Transaction) -> Figures:
    return Figures(
        energy_wh=transaction_energy_so_far(transaction=session),
        power_w=power_w(session),
        measured_at=max(
            (at for at in (session.live_register_at, session.live_power_at) if at), default=None
        ),
        reading=(
            session.live_register_value,
            session.live_register_unit,
            session.live_register_at,
            session.live_power_value,
            session.live_power_at,
        ),
    )


@dataclass(frozen=True)
class Cost:
    amount: str | None
    currency: str | None


NO_COST = Cost(None, None)


def cost_so_far(*, transaction_pk: int) -> Cost:
    """What the session costs so far at the prices fixed at its start (None: none fixed)."""
    bill = transaction_cost_so_far(transaction_pk=transaction_pk)
    return NO_COST if bill is None else Cost(money(bill.total), bill.currency)


# --- the messages ------------------------------------------------------------------


def started_message(session: Transaction, *, command_id: int | None) -> dict:
    return {
        "type": "session.started",
        "transaction": session.pk,
        "ocpp_transaction_id": session.ocpp_transaction_id,
        "charge_point": session.charge_point.charge_point_id,
        "connector_id": session.connector.connector_id,
        "id_tag": session.id_tag,
        "start_timestamp": iso(session.start_timestamp),
        "meter_start": session.meter_start,
        "command_id": command_id,
    }


def updated_message(transaction_pk: int, values: Figures, cost: Cost) -> dict:
    return {
        "type": "session.updated",
        "transaction": transaction_pk,
        "energy_wh": values.energy_wh,
        "power_w": values.power_w,
        "cost_so_far": cost.amount,
        "currency": cost.currency,
        "measured_at": iso(values.measured_at),
    }


def snapshot_entry(session: Transaction, values: Figures, cost: Cost, command_id) -> dict:
    """A running session in a snapshot: its start and its latest figures in one object."""
    entry = started_message(session, command_id=command_id)
    entry.update(updated_message(session.pk, values, cost))
    del entry["type"]
    return entry


def command_of(
    transaction_pk: int, *, charge_point_pk: int | None = None, patience: float = 0.0
) -> int | None:
    """The remote start that led to the session (linked now if it was not yet), or None.

    A 1.6 charger may send its StartTransaction before its answer to the
    RemoteStartTransaction is stored: with `patience`, while a start
    command of that charge point is still unlinked, ask again for up to
    that many seconds (the push worker waits; nobody else does).
    """
    deadline = time.monotonic() + patience
    while True:
        found = remote_start_command_link(transaction_id=transaction_pk)
        if found is None:  # linked by another process meanwhile: the link says None then
            found = (
                Command.objects.filter(transaction_id=transaction_pk)
                .order_by("created_at")
                .values_list("pk", flat=True)
                .first()
            )
        if found is not None or charge_point_pk is None or time.monotonic() >= deadline:
            return found
        if not _start_pending(charge_point_pk=charge_point_pk):
            return None
        time.sleep(LINK_RETRY_SECONDS)


def _start_pending(*, charge_point_pk: int) -> bool:
    """A remote start of this charge point, sent moments ago, still without its session."""
    return Command.objects.filter(
        charge_point_id=charge_point_pk,
        action__in=START_ACTIONS,
        transaction__isnull=True,
        created_at__gte=timezone.now() - timedelta(seconds=RECENT_START_SECONDS),
    ).exists()


def invoice_pdf_path(invoice_pk: int) -> str:
    return reverse("invoice-pdf", kwargs={"pk": invoice_pk})


def invoice_message(invoice: Invoice) -> dict:
    """invoice.issued; `pdf_url` is a path here, made absolute by the consumer."""
    return {
        "type": "invoice.issued",
        "invoice": invoice.pk,
        "transaction": invoice.transaction_id,
        "number": invoice.number,
        "total": money(invoice.total),
        "currency": invoice.currency,
        "pdf_url": invoice_pdf_path(invoice.pk),
    }


def invoice_of(session: Transaction) -> Invoice | None:
    try:
        return session.invoice
    except Invoice.DoesNotExist:
        return None


def awaits_invoice(session: Transaction) -> bool:
    """Whether billing will issue an invoice for this ended session without an operator."""
    billable = session.status == SessionStatus.ENDED and not session.is_disputed
    billable = billable and session.dispute_resolution != "voided"
    return billable and ((session.energy_wh or 0) > 0 or settings.BILLING_INVOICE_ZERO_ENERGY)


def stopped_message(session: Transaction, *, invoice: Invoice | None) -> dict:
    """session.stopped: the final figures; the cost is the invoice's, else priced now."""
    if invoice is not None:
        cost = Cost(money(invoice.total), invoice.currency)
    else:
        cost = cost_so_far(transaction_pk=session.pk)
    return {
        "type": "session.stopped",
        "transaction": session.pk,
        "charge_point": session.charge_point.charge_point_id,
        "connector_id": session.connector.connector_id,
        "stop_timestamp": iso(session.stop_timestamp),
        "energy_wh": session.energy_wh,
        "stop_reason": session.stop_reason,
        "status": session.status,
        "disputed": session.is_disputed,
        "cost": cost.amount,
        "currency": cost.currency,
        "invoice": invoice.pk if invoice is not None else None,
    }


def ended_sessions(*, transaction_pks: Iterable[int]) -> list[Transaction]:
    """Sessions by pk with what session.stopped needs (their invoice included)."""
    return list(
        Transaction.objects.select_related("charge_point", "connector", "invoice").filter(
            pk__in=list(transaction_pks)
        )
    )


def session_ended(session: Transaction) -> bool:
    """Over for the driver: ended, or ended by a new start (a refused one never ran)."""
    return session.status in (SessionStatus.ENDED, SessionStatus.SUPERSEDED)


def invoices_of(*, transaction_pks: Iterable[int]) -> list[Invoice]:
    return list(Invoice.objects.filter(transaction_id__in=list(transaction_pks)))


def invoice_get(*, invoice_pk: int) -> Invoice | None:
    return Invoice.objects.filter(pk=invoice_pk).first()


def session_get(*, transaction_pk: int) -> Transaction | None:
    return (
        Transaction.objects.select_related("charge_point", "connector", "invoice")
        .filter(pk=transaction_pk)
        .first()
    )
