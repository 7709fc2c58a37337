"""OCPP 2.0.1 NotifyCustomerInformation: the data CustomerInformation asked for, in parts."""

from __future__ import annotations

from channels.db import database_sync_to_async
from ocpp.v201.enums import Action

from devicemodel.services import customer_information_part_record
from stations.timestamps import parse_ocpp_datetime

from ...handlers import Session
from ..registry import handles


@handles(Action.notify_customer_information)
async def notify_customer_information(session: Session, payload: dict) -> dict:
    await database_sync_to_async(customer_information_part_record)(
        charge_point_pk=session.charge_point.pk,
        request_id=payload["requestId"],
        seq_no=payload["seqNo"],
        data=payload["data"],
        to_be_continued=payload.get("tbc", False),
        generated_at=parse_ocpp_datetime(payload["generatedAt"]),
    )
    return {}
