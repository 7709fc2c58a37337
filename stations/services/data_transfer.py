"""DataTransfer from charge points, and the registry of vendor handlers.

A vendor extension registers a handler for its vendorId:

    @data_transfer_handler("com.example")
    def handle(*, charge_point_pk, message_id, data):
        return "Accepted", "reply data or None"

Without a handler for the vendorId the answer is UnknownVendorId; a handler
that does not know the messageId returns "UnknownMessageId".

DataTransfer is free-form: what a charge point sends is stored as it came.
So that no charge point can grow the database at will, its data is stored
once (here; the journal keeps a reference) and within limits:
- data over OCPP_DATA_TRANSFER_MAX_BYTES is refused: answered Rejected (or
  UnknownVendorId) without its handler, recorded with its size and hash only;
- past OCPP_DATA_TRANSFER_RATE_LIMIT records of a charge point within an
  hour, its messages are answered Rejected (or UnknownVendorId) and not
  recorded; the first refusal of an hour is a security event;
- records are deleted after OCPP_DATA_TRANSFER_RETENTION_DAYS (datatransfer_purge).
The charge point is answered in every case: a refusal never closes it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from ..models import DataTransferRecord, SecurityEvent
from .security import security_event_record

logger = logging.getLogger(__name__)

DataTransferHandler = Callable[..., tuple[str, str | None]]
# Told which limit refused a message ("data_transfer_too_large" or
# "data_transfer_rate"): the caller counts it (a metric) without the domain
# knowing about metrics.
LimitListener = Callable[[str], None]

RATE_WINDOW = timedelta(hours=1)
RATE_EVENT_TYPE = "DataTransferRateExceeded"
PURGE_BATCH = 5000

_handlers: dict[str, DataTransferHandler] = {}


def data_transfer_handler(vendor_id: str) -> Callable[[DataTransferHandler], DataTransferHandler]:
    def register(handler: DataTransferHandler) -> DataTransferHandler:
        _handlers[vendor_id] = handler
        return handler

    return register


def data_transfer_unregister(vendor_id: str) -> None:
    _handlers.pop(vendor_id, None)


def datatransfer_receive(
    *,
    charge_point_pk: int,
    vendor_id: str,
    message_id: str | None,
    data: str | None,
    unique_id: str = "",
    on_limit: LimitListener | None = None,
) -> tuple[str, str | None]:
    """Store the message and answer it with its vendor's handler, within the limits."""
    handler = _handlers.get(vendor_id)
    # Refused messages are answered truthfully about the vendor, else Rejected.
    refused_status = "UnknownVendorId" if handler is None else "Rejected"
    now = timezone.now()
    if _over_rate(charge_point_pk=charge_point_pk, now=now):
        _rate_exceeded(charge_point_pk=charge_point_pk, now=now)
        if on_limit is not None:
            on_limit("data_transfer_rate")
        return refused_status, None

    encoded = (data or "").encode("utf-8", "surrogatepass")
    omitted = len(encoded) > settings.OCPP_DATA_TRANSFER_MAX_BYTES
    if omitted:
        logger.warning(
            "DataTransfer of %d bytes from charge point pk %s refused (limit %d)",
            len(encoded),
            charge_point_pk,
            settings.OCPP_DATA_TRANSFER_MAX_BYTES,
        )
        if on_limit is not None:
            on_limit("data_transfer_too_large")
        status, reply = refused_status, None
    elif handler is None:
        status, reply = "UnknownVendorId", None
    else:
        status, reply = handler(charge_point_pk=charge_point_pk, message_id=message_id, data=data)
    DataTransferRecord.objects.create(
        charge_point_id=charge_point_pk,
        unique_id=str(unique_id)[:100],
        vendor_id=vendor_id,
        message_id=message_id or "",
        data="" if omitted else data or "",
        data_bytes=len(encoded),
        data_sha256=hashlib.sha256(encoded).hexdigest() if encoded else "",
        data_omitted=omitted,
        response_status=status,
        response_data=reply or "",
    )
    return status, reply


def _over_rate(*, charge_point_pk: int, now: datetime) -> bool:
    """Whether the charge point has its hour's worth of records (a bounded count)."""
    limit = settings.OCPP_DATA_TRANSFER_RATE_LIMIT
    recent = DataTransferRecord.objects.filter(
        charge_point_id=charge_point_pk, received_at__gte=now - RATE_WINDOW
    )
    return recent[:limit].count() >= limit


def _rate_exceeded(*, charge_point_pk: int, now: datetime) -> None:
    """Warn, and record a security event once per window: a flood looks abusive."""
    already = SecurityEvent.objects.filter(
        charge_point_id=charge_point_pk,
        event_type=RATE_EVENT_TYPE,
        timestamp__gte=now - RATE_WINDOW,
    ).exists()
    if already:
        return
    limit = settings.OCPP_DATA_TRANSFER_RATE_LIMIT
    logger.warning(
        "charge point pk %s sent more than %d DataTransfer messages within an hour: "
        "refusing them unstored",
        charge_point_pk,
        limit,
    )
    security_event_record(
        event_type=RATE_EVENT_TYPE,
        charge_point_pk=charge_point_pk,
        tech_info=f"more than {limit} DataTransfer messages within an hour; refused unstored",
        timestamp=now,
    )


def datatransfer_purge(
    *, now: datetime | None = None, retention_days: int | None = None, batch: int = PURGE_BATCH
) -> int:
    """Delete DataTransfer records older than the retention period; return how many.

    In batches, like the journal's pruning, so that no long lock is held.
    """
    now = now or timezone.now()
    days = settings.OCPP_DATA_TRANSFER_RETENTION_DAYS if retention_days is None else retention_days
    cutoff = now - timedelta(days=days)
    deleted = 0
    while True:
        pks = list(
            DataTransferRecord.objects.filter(received_at__lt=cutoff).values_list("pk", flat=True)[
                :batch
            ]
        )
        if not pks:
            return deleted
        deleted += DataTransferRecord.objects.filter(pk__in=pks).delete()[0]
