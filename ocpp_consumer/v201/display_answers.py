"""OCPP 2.0.1 display messages <-> the device model's, and what the answers change.

SetDisplayMessage and ClearDisplayMessage answers are recorded (registered
in actions_201); `message_info` reads a MessageInfoType of either direction.
"""

from __future__ import annotations

from devicemodel import services
from stations.timestamps import parse_ocpp_datetime

from ..commands.actions_201 import applies_answer


def _moment(value: str | None):
    return None if value is None else parse_ocpp_datetime(value)


def message_info(info: dict) -> services.MessageInfo:
    content = info["message"]
    return services.MessageInfo(
        message_id=info["id"],
        priority=info["priority"],
        state=info.get("state", ""),
        start_at=_moment(info.get("startDateTime")),
        end_at=_moment(info.get("endDateTime")),
        transaction_id=info.get("transactionId", ""),
        format=content["format"],
        language=content.get("language", ""),
        content=content["content"],
        display=info.get("display"),
    )


@applies_answer("SetDisplayMessage")
def display_message_set(*, charge_point_pk: int, request: dict, response: dict) -> None:
    services.display_message_set(
        charge_point_pk=charge_point_pk,
        info=message_info(request["message"]),
        status=response["status"],
    )


@applies_answer("ClearDisplayMessage")
def display_message_cleared(*, charge_point_pk: int, request: dict, response: dict) -> None:
    services.display_message_cleared(
        charge_point_pk=charge_point_pk, message_id=request["id"], status=response["status"]
    )
