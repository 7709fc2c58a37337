"""OCPP 2.0.1 DataTransfer from a charging station: the 1.6 service, its quotas and answers."""

from __future__ import annotations

import json

from channels.db import database_sync_to_async
from ocpp.v201.enums import Action

from monitoring.logging import message_id_var
from stations import services

from ...handlers import Session
from ...quotas import count_quota_hit
from ..registry import handles


def _data_text(data) -> str | None:
    """2.0.1 `data` may be any JSON value; the record and vendor handlers take text."""
    if data is None or isinstance(data, str):
        return data
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


@handles(Action.data_transfer)
async def data_transfer(session: Session, payload: dict) -> dict:
    """Answered in every case (Accepted, Rejected, UnknownMessageId, UnknownVendorId).

    The vendor handlers, size and rate limits are those of 1.6: over a limit
    the answer is Rejected (or UnknownVendorId), counted as a quota hit.
    """
    status, data = await database_sync_to_async(services.datatransfer_receive)(
        charge_point_pk=session.charge_point.pk,
        vendor_id=payload["vendorId"],
        message_id=payload.get("messageId"),
        data=_data_text(payload.get("data")),
        # The consumer binds the CALL's uniqueId: it links record and journal.
        unique_id=message_id_var.get() or "",
        on_limit=count_quota_hit,
    )
    return {"status": status, "data": data} if data is not None else {"status": status}
