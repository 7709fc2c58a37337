from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import IntegrityError, transaction

from drivers.choices import AuthorizationStatus
from drivers.selectors import Authorization, idtag_authorize
from events.kinds import EventKind
from events.services import event_record

from ..choices import EnergySource, StopReason
from ..models import MeterValue, OrphanStopTransaction, Transaction
from .charge_points import connector_pk
from .meter_values import MeterSample, energy_register_wh, meter_values_build

CONCURRENT_TX = "ConcurrentTx"


def transaction_start(
    *,
    charge_point_pk: int,
    connector_id: int,
    id_tag: str,
    meter_start: int,
    timestamp: datetime,
    reservation_id: int | None = None,
) -> tuple[Transaction, Authorization]:
    """Record a started session; a retransmitted start returns the same transaction.

    The charger has already started (perhaps offline), so the session is
    always recorded; the returned authorization tells it whether to go on.
    """
    connector_key = connector_pk(charge_point_pk=charge_point_pk, connector_id=connector_id)
    identity = dict(
        connector_id=connector_key,
        id_tag=id_tag,
        start_timestamp=timestamp,
        meter_start=meter_start,
    )
    existing = Transaction.objects.filter(**identity).first()
    if existing is not None:
        return existing, _authorization_as_answered(existing)

    authorization = idtag_authorize(id_tag=id_tag)
    if authorization.status == AuthorizationStatus.ACCEPTED and _has_other_open_transaction(
        id_tag=id_tag, connector_pk=connector_key
    ):
        authorization = Authorization(
            status=CONCURRENT_TX,
            expiry_date=authorization.expiry_date,
            parent_id_tag=authorization.parent_id_tag,
            tag=authorization.tag,
        )
    try:
        with transaction.atomic():
            started = Transaction.objects.create(
                charge_point_id=charge_point_pk,
                tag=authorization.tag,
                start_auth_status=authorization.status,
                reservation_id=reservation_id,
                **identity,
            )
    except IntegrityError:  # the same start raced in on another socket
        return Transaction.objects.get(**identity), authorization
    event_record(
        kind=EventKind.SESSION_STARTED,
        payload={"charge_point": charge_point_pk, "transaction": started.pk},
    )
    if reservation_id is not None:
        from .reservations import reservation_use

        reservation_use(
            charge_point_pk=charge_point_pk,
            reservation_id=reservation_id,
            transaction=started,
            authorization=authorization,
        )
    return started, authorization


def _has_other_open_transaction(*, id_tag: str, connector_pk: int) -> bool:
    # An open session on the same connector is a stop the charger lost, not a
    # concurrent one: the connector cannot run two sessions.
    return (
        Transaction.objects.filter(id_tag__iexact=id_tag, stop_timestamp__isnull=True)
        .exclude(connector_id=connector_pk)
        .exists()
    )


def _authorization_as_answered(started: Transaction) -> Authorization:
    current = idtag_authorize(id_tag=started.id_tag)
    return Authorization(
        status=started.start_auth_status or current.status,
        expiry_date=current.expiry_date,
        parent_id_tag=current.parent_id_tag,
        tag=current.tag,
    )


@transaction.atomic
def transaction_stop(
    *,
    charge_point_pk: int,
    transaction_id: int,
    meter_stop: int,
    timestamp: datetime,
    reason: str | None = None,
    id_tag: str | None = None,
    samples: Sequence[MeterSample] = (),
) -> tuple[Transaction | None, Authorization | None]:
    """Close a session and compute its energy; an unknown id is kept as an orphan.

    The samples the charger sent with the stop count towards the energy. A
    repeated stop of a closed session changes nothing.
    """
    authorization = idtag_authorize(id_tag=id_tag) if id_tag else None
    stopped = (
        Transaction.objects.select_for_update()
        .select_related("connector")
        .filter(pk=transaction_id, charge_point_id=charge_point_pk)
        .first()
    )
    if stopped is None:
        OrphanStopTransaction.objects.create(
            charge_point_id=charge_point_pk,
            transaction_id=transaction_id,
            id_tag=id_tag or "",
            meter_stop=meter_stop,
            timestamp=timestamp,
            reason=reason or StopReason.LOCAL,
            # Kept for the operator who reconciles the stop by hand.
            transaction_data=[sample.as_json() for sample in samples],
        )
        return None, authorization
    if not stopped.is_open:
        return stopped, authorization

    if samples:
        MeterValue.objects.bulk_create(
            meter_values_build(
                charge_point_pk=charge_point_pk,
                connector_pk=stopped.connector_id,
                transaction_pk=stopped.pk,
                samples=samples,
            ),
            ignore_conflicts=True,
        )
    stopped.meter_stop = meter_stop
    stopped.stop_timestamp = timestamp
    stopped.stop_reason = reason or StopReason.LOCAL
    stopped.stop_id_tag = id_tag or ""
    stopped.energy_wh, stopped.energy_source = transaction_energy(transaction=stopped)
    stopped.save()
    event_record(
        kind=EventKind.SESSION_ENDED,
        payload={
            "charge_point": charge_point_pk,
            "transaction": stopped.pk,
            "energy_wh": stopped.energy_wh,
        },
    )
    return stopped, authorization


def transaction_energy(*, transaction: Transaction) -> tuple[int, str]:
    """Energy in Wh: meterStop - meterStart, or the register readings when that is wrong.

    Chargers send meterStop 0 or a reading below meterStart after a meter
    swap or a firmware bug; the Energy.Active.Import.Register samples of the
    session then give the better figure, and the choice is recorded.
    """
    by_meter_stop = (
        transaction.meter_stop - transaction.meter_start
        if transaction.meter_stop is not None
        else None
    )
    if by_meter_stop is not None and by_meter_stop > 0:
        return by_meter_stop, EnergySource.METER_STOP
    readings = [
        wh
        for wh in map(energy_register_wh, transaction.meter_values.order_by("timestamp", "id"))
        if wh is not None
    ]
    if readings and max(readings) > transaction.meter_start:
        return int(max(readings) - transaction.meter_start), EnergySource.METER_VALUES
    if by_meter_stop == 0:
        return 0, EnergySource.METER_STOP
    return 0, EnergySource.NONE
