"""OCPP 2.0.1 NotifyMonitoringReport: a part of the report GetMonitoringReport asked for.

Each part updates the monitors at once; the parts are assembled by
requestId and the last one (no `tbc`) marks the report complete.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from ocpp.v201.enums import Action

from devicemodel.services import monitoring_report_part_record
from stations.timestamps import parse_ocpp_datetime

from ...handlers import Session
from ..monitoring_answers import monitor_specs
from ..registry import handles


@handles(Action.notify_monitoring_report)
async def notify_monitoring_report(session: Session, payload: dict) -> dict:
    await database_sync_to_async(monitoring_report_part_record)(
        charge_point_pk=session.charge_point.pk,
        request_id=payload["requestId"],
        seq_no=payload["seqNo"],
        generated_at=parse_ocpp_datetime(payload["generatedAt"]),
        to_be_continued=payload.get("tbc", False),
        monitors=[spec for data in payload.get("monitor", ()) for spec in monitor_specs(data)],
    )
    return {}
