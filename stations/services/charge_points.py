from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from events.kinds import EventKind
from events.services import event_record

from ..choices import OcppVersion, RegistrationStatus
from ..models import ChargePoint, Connector, ConnectorStatusLog


class ChargePointUnknown(Exception):
    """The id is not registered and auto-registration is off."""


class ConnectorLimitExceeded(ValueError):
    """A charge point reported more connectors than OCPP_MAX_CONNECTORS_PER_CHARGE_POINT."""


def chargepoint_create(
    *,
    charge_point_id: str,
    password: str | None = None,
    registration_status: str | None = None,
    station_id: int | None = None,
) -> ChargePoint:
    charge_point = ChargePoint(
        charge_point_id=charge_point_id,
        registration_status=registration_status or RegistrationStatus.ACCEPTED,
        station_id=station_id,
    )
    charge_point.set_password(password)
    charge_point.full_clean()
    charge_point.save()
    return charge_point


def chargepoint_connect(
    *,
    charge_point_id: str,
    channel_name: str,
    known: ChargePoint | None = None,
    ocpp_version: str = OcppVersion.V16,
) -> ChargePoint:
    """Find (or, with OCPP_AUTO_REGISTER, create) a charge point and mark it online.

    The caller has already checked the credentials of a known charge point;
    `known` is that charge point, when the caller has just read it.
    """
    charge_point = known or ChargePoint.objects.filter(charge_point_id=charge_point_id).first()
    if charge_point is None:
        if not settings.OCPP_AUTO_REGISTER:
            raise ChargePointUnknown(charge_point_id)
        try:
            with transaction.atomic():
                # A stranger's id: it waits for an operator unless the
                # installation opted in to accepting unknown charge points.
                charge_point = chargepoint_create(
                    charge_point_id=charge_point_id,
                    registration_status=settings.OCPP_DEFAULT_REGISTRATION_STATUS,
                )
        except (IntegrityError, ValidationError):  # two sockets raced to register the id
            try:
                charge_point = ChargePoint.objects.get(charge_point_id=charge_point_id)
            except ChargePoint.DoesNotExist:  # the winner was a look-alike (another case)
                raise ChargePointUnknown(charge_point_id) from None
    now = timezone.now()
    ChargePoint.objects.filter(pk=charge_point.pk).update(
        is_online=True,
        connection_channel=channel_name,
        connected_at=now,
        last_seen=now,
        ocpp_version=ocpp_version,
    )
    charge_point.is_online, charge_point.connection_channel = True, channel_name
    charge_point.connected_at = charge_point.last_seen = now
    charge_point.ocpp_version = ocpp_version
    event_record(kind=EventKind.CHARGE_POINT_CONNECTED, payload={"charge_point": charge_point.pk})
    return charge_point


@transaction.atomic
def chargepoint_disconnect(*, charge_point_id: str, channel_name: str) -> bool:
    """Mark offline (connectors Unavailable), unless a newer socket took over."""
    from .sweeps import connectors_mark_unavailable

    pks = list(
        ChargePoint.objects.filter(
            charge_point_id=charge_point_id, connection_channel=channel_name
        ).values_list("pk", flat=True)
    )
    if not pks:
        return False
    ChargePoint.objects.filter(pk__in=pks, connection_channel=channel_name).update(
        is_online=False, connection_channel=""
    )
    connectors_mark_unavailable(charge_point_pks=pks)
    event_record(kind=EventKind.CHARGE_POINTS_DISCONNECTED, payload={"charge_points": pks})
    return True


@dataclass(frozen=True)
class BootInfo:
    vendor: str
    model: str
    charge_point_serial_number: str = ""
    charge_box_serial_number: str = ""
    firmware_version: str = ""
    iccid: str = ""
    imsi: str = ""
    meter_type: str = ""
    meter_serial_number: str = ""


def chargepoint_boot(*, charge_point: ChargePoint, info: BootInfo) -> ChargePoint:
    """Store what the charge point reports; its registration status answers the boot.

    The charge point is re-read, so that an operator's decision taken while
    it was connected (e.g. approving a Pending one) answers this boot.
    """
    now = timezone.now()
    fields = dict(info.__dict__, last_boot_at=now, last_seen=now)
    ChargePoint.objects.filter(pk=charge_point.pk).update(**fields)
    charge_point.refresh_from_db()
    return charge_point


def chargepoint_heartbeat_interval(*, charge_point: ChargePoint) -> int:
    return charge_point.heartbeat_interval or settings.OCPP_HEARTBEAT_INTERVAL


def chargepoint_registration_answer(*, charge_point: ChargePoint) -> str:
    return charge_point.registration_status or RegistrationStatus.ACCEPTED


def chargepoint_heartbeat(*, charge_point_pk: int, channel_name: str) -> datetime:
    """Record a heartbeat; a charge point the sweep took for dead is online again."""
    now = timezone.now()
    ChargePoint.objects.filter(pk=charge_point_pk).update(
        last_heartbeat=now, last_seen=now, is_online=True, connection_channel=channel_name
    )
    return now


@dataclass(frozen=True)
class Presence:
    """A charge point heard from on `channel_name` at `seen_at` (a Heartbeat: `heartbeat_at`)."""

    charge_point_pk: int
    channel_name: str
    seen_at: datetime
    heartbeat_at: datetime | None = None


def chargepoints_presence_record(presences: list[Presence]) -> None:
    """Last seen (and heartbeat) of many charge points in one statement.

    The same columns as chargepoint_touch / chargepoint_heartbeat; rows in
    primary key order, so that two processes writing at once lock them in
    the same order.
    """
    if not presences:
        return
    table = ChargePoint._meta.db_table
    ordered = sorted(presences, key=lambda presence: presence.charge_point_pk)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            row = "(%s::bigint, %s::timestamptz, %s::timestamptz, %s::text)"
            values = ", ".join([row] * len(ordered))
            cursor.execute(
                f"UPDATE {table} AS cp SET last_seen = v.seen, is_online = TRUE, "
                "connection_channel = v.channel, "
                "last_heartbeat = COALESCE(v.heartbeat, cp.last_heartbeat) "
                f"FROM (VALUES {values}) AS v(id, seen, heartbeat, channel) WHERE cp.id = v.id",
                [
                    value
                    for p in ordered
                    for value in (p.charge_point_pk, p.seen_at, p.heartbeat_at, p.channel_name)
                ],
            )
            return
        adapt = connection.ops.adapt_datetimefield_value
        cursor.executemany(
            f"UPDATE {table} SET last_seen = %s, is_online = %s, connection_channel = %s, "
            "last_heartbeat = COALESCE(%s, last_heartbeat) WHERE id = %s",
            [
                (adapt(p.seen_at), True, p.channel_name, adapt(p.heartbeat_at), p.charge_point_pk)
                for p in ordered
            ],
        )


def chargepoint_touch(*, charge_point_pk: int, channel_name: str) -> None:
    """Record that the charge point said something (any message counts)."""
    ChargePoint.objects.filter(pk=charge_point_pk).update(
        last_seen=timezone.now(), is_online=True, connection_channel=channel_name
    )


# (charge point pk, connector id) -> (connector pk, valid until), for rows
# seen committed. MeterValues and StartTransaction need only the pk; this saves
# them a query. Entries expire, so a connector an operator deleted heals soon.
_CONNECTOR_PKS: dict[tuple[int, int], tuple[int, float]] = {}
_CONNECTOR_PKS_MAX = 100_000
_CONNECTOR_PK_TTL = 60.0


def connector_pk(*, charge_point_pk: int, connector_id: int) -> int:
    """The pk of a connector, creating the connector on first use.

    Only pks found by a query are remembered, never ones created here: a
    creation inside a transaction that rolls back must not be remembered.
    """
    key = (charge_point_pk, connector_id)
    now = time.monotonic()
    cached = _CONNECTOR_PKS.get(key)
    if cached is not None and cached[1] > now:
        return cached[0]
    found = (
        Connector.objects.filter(charge_point_id=charge_point_pk, connector_id=connector_id)
        .values_list("pk", flat=True)
        .first()
    )
    if found is None:
        return connector_get_or_create(
            charge_point_pk=charge_point_pk, connector_id=connector_id
        ).pk
    # Found inside a transaction, it may be a connector that transaction
    # created: remember it only once that is committed.
    transaction.on_commit(lambda: _connector_pk_remember(key, found, now))
    return found


def _connector_pk_remember(key: tuple[int, int], pk: int, now: float) -> None:
    if len(_CONNECTOR_PKS) >= _CONNECTOR_PKS_MAX:
        _CONNECTOR_PKS.clear()
    _CONNECTOR_PKS[key] = (pk, now + _CONNECTOR_PK_TTL)


def connector_pk_cache_clear() -> None:
    _CONNECTOR_PKS.clear()


def connector_get_or_create(*, charge_point_pk: int, connector_id: int) -> Connector:
    connector = Connector.objects.filter(
        charge_point_id=charge_point_pk, connector_id=connector_id
    ).first()
    if connector is not None:
        return connector
    # Every connectorId a charge point names becomes a row: a stranger's
    # firmware must not be able to create millions of them.
    limit = settings.OCPP_MAX_CONNECTORS_PER_CHARGE_POINT
    if Connector.objects.filter(charge_point_id=charge_point_pk).count() >= limit:
        raise ConnectorLimitExceeded(
            f"connectorId {connector_id}: this charge point already has {limit} connectors"
        )
    try:
        with transaction.atomic():
            return Connector.objects.create(
                charge_point_id=charge_point_pk, connector_id=connector_id
            )
    except IntegrityError:
        return Connector.objects.get(charge_point_id=charge_point_pk, connector_id=connector_id)


@transaction.atomic
def connector_status_update(
    *,
    charge_point_pk: int,
    connector_id: int,
    status: str,
    error_code: str,
    info: str = "",
    vendor_id: str = "",
    vendor_error_code: str = "",
    timestamp: datetime | None = None,
) -> Connector:
    """Log a StatusNotification; the newest one (by charger time) is the current status."""
    connector = connector_get_or_create(charge_point_pk=charge_point_pk, connector_id=connector_id)
    report = dict(
        status=status,
        error_code=error_code,
        info=info,
        vendor_id=vendor_id,
        vendor_error_code=vendor_error_code,
    )
    ConnectorStatusLog.objects.create(connector=connector, timestamp=timestamp, **report)
    is_stale = (
        timestamp is not None
        and connector.status_timestamp is not None
        and timestamp < connector.status_timestamp
    )
    if not is_stale:
        for name, value in report.items():
            setattr(connector, name, value)
        connector.status_timestamp = timestamp or timezone.now()
        connector.save(update_fields=[*report, "status_timestamp", "updated_at"])
    event_record(
        kind=EventKind.CONNECTOR_STATUS_CHANGED,
        payload={
            "charge_point": charge_point_pk,
            "connector": connector.pk,
            "status": connector.status,
        },
    )
    return connector


def chargepoint_firmware_status(*, charge_point_pk: int, status: str) -> None:
    ChargePoint.objects.filter(pk=charge_point_pk).update(
        firmware_status=status, firmware_status_at=timezone.now()
    )


def chargepoint_diagnostics_status(*, charge_point_pk: int, status: str) -> None:
    ChargePoint.objects.filter(pk=charge_point_pk).update(
        diagnostics_status=status, diagnostics_status_at=timezone.now()
    )
