"""OCPP 2.0.1 NotifyReport: a part of a report the CSMS asked for (GetBaseReport, GetReport).

Each part updates the device model at once; the parts are assembled by
requestId and the last one (no `tbc`) marks the report complete.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from ocpp.v201.enums import Action

from devicemodel.services import report_part_record
from stations.timestamps import parse_ocpp_datetime

from ...handlers import Session
from ..device_model import reported_variable
from ..registry import handles


@handles(Action.notify_report)
async def notify_report(session: Session, payload: dict) -> dict:
    await database_sync_to_async(report_part_record)(
        charge_point_pk=session.charge_point.pk,
        request_id=payload["requestId"],
        seq_no=payload["seqNo"],
        generated_at=parse_ocpp_datetime(payload["generatedAt"]),
        to_be_continued=payload.get("tbc", False),
        variables=[reported_variable(data) for data in payload.get("reportData", ())],
    )
    return {}
