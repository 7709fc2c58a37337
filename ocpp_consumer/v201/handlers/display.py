"""OCPP 2.0.1 NotifyDisplayMessages: the messages a station shows (after GetDisplayMessages)."""

from __future__ import annotations

from channels.db import database_sync_to_async
from ocpp.v201.enums import Action

from devicemodel.services import display_messages_report

from ...handlers import Session
from ..display_answers import message_info
from ..registry import handles


@handles(Action.notify_display_messages)
async def notify_display_messages(session: Session, payload: dict) -> dict:
    await database_sync_to_async(display_messages_report)(
        charge_point_pk=session.charge_point.pk,
        messages=[message_info(info) for info in payload.get("messageInfo", ())],
    )
    return {}
