"""OCPP 2.0.1 TransactionEvent: the same sessions, energy rules and invoices as 1.6.

The event is read into the domain's neutral SessionEvent and written
through the group commit (as 1.6 StartTransaction/StopTransaction are): it
is committed, together with the session's prices fixed at its start, before
it is answered. The answer carries idTokenInfo when the event named an id
token, and totalCost (the cost so far, the final cost at the end) when the
session has prices fixed.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from ocpp.v201.enums import Action

from billing.selectors import transaction_cost_so_far
from billing.services import transaction_start_priced
from stations.choices import StopReason
from stations.models import TransactionEventType
from stations.services.transaction_events import (
    SessionEvent,
    transaction_event_record,
    transaction_remote_start_link,
)
from stations.timestamps import parse_ocpp_datetime

from ... import errors
from ...commands.actions_201 import applies_answer
from ...group_commit import committer
from ...handlers import Session
from ...remote_authorization import idtag_refresh_before_deciding
from ..id_tokens import id_token_info, id_token_usable
from ..meter_samples import meter_samples_from_ocpp201
from ..registry import handles

# 2.0.1 stoppedReason -> the StopReason a 1.6 charger would have given (the
# charger's own word is kept in the session's event log).
STOP_REASONS = {
    "DeAuthorized": StopReason.DE_AUTHORIZED,
    "EmergencyStop": StopReason.EMERGENCY_STOP,
    "EnergyLimitReached": StopReason.OTHER,
    "EVDisconnected": StopReason.EV_DISCONNECTED,
    "GroundFault": StopReason.OTHER,
    "ImmediateReset": StopReason.HARD_RESET,
    "Local": StopReason.LOCAL,
    "LocalOutOfCredit": StopReason.LOCAL,
    "MasterPass": StopReason.LOCAL,
    "Other": StopReason.OTHER,
    "OvercurrentFault": StopReason.OTHER,
    "PowerLoss": StopReason.POWER_LOSS,
    "PowerQuality": StopReason.OTHER,
    "Reboot": StopReason.REBOOT,
    "Remote": StopReason.REMOTE,
    "SOCLimitReached": StopReason.OTHER,
    "StoppedByEV": StopReason.OTHER,
    "TimeLimitReached": StopReason.OTHER,
    "Timeout": StopReason.OTHER,
}
# stoppedReason "MAY only be omitted when Reason is Local".
DEFAULT_STOPPED_REASON = "Local"


def stop_reason_from_ocpp201(stopped_reason: str | None) -> StopReason:
    return STOP_REASONS.get(stopped_reason or DEFAULT_STOPPED_REASON, StopReason.OTHER)


def session_event_from_ocpp201(payload: dict) -> SessionEvent:
    """The TransactionEvent in the domain's terms; refuse numbers no session can have."""
    info = payload["transactionInfo"]
    id_token = payload.get("idToken")
    evse = payload.get("evse")
    if payload["seqNo"] < 0:
        raise errors.PropertyConstraintViolationError("seqNo: must not be negative")
    if evse is not None and evse["id"] < 0:
        raise errors.PropertyConstraintViolationError("evse.id: must not be negative")
    ended = payload["eventType"] == TransactionEventType.ENDED
    return SessionEvent(
        charger_transaction_id=info["transactionId"],
        seq_no=payload["seqNo"],
        event_type=payload["eventType"],
        timestamp=parse_ocpp_datetime(payload["timestamp"]),
        trigger_reason=payload["triggerReason"],
        connector_id=None if evse is None else evse["id"],
        offline=payload.get("offline", False),
        id_tag=None if id_token is None else id_token["idToken"],
        id_tag_type="" if id_token is None else id_token["type"],
        id_tag_usable=id_token is None or id_token_usable(id_token),
        charging_state=info.get("chargingState", ""),
        stop_reason=stop_reason_from_ocpp201(info.get("stoppedReason")) if ended else "",
        stopped_reason_reported=info.get("stoppedReason", ""),
        remote_start_id=info.get("remoteStartId"),
        reservation_id=payload.get("reservationId"),
        samples=meter_samples_from_ocpp201(payload.get("meterValue")),
    )


@handles(Action.transaction_event)
async def transaction_event(session: Session, payload: dict) -> dict:
    id_token = payload.get("idToken")
    if id_token is not None and payload["eventType"] != "Ended" and id_token_usable(id_token):
        await idtag_refresh_before_deciding(
            charge_point_pk=session.charge_point.pk, id_tag=id_token["idToken"]
        )
    outcome = await committer.write(
        transaction_event_record,
        charge_point_pk=session.charge_point.pk,
        event=session_event_from_ocpp201(payload),
        start=transaction_start_priced,
    )
    answer = {}
    if id_token is not None and outcome.authorization is not None:
        answer["idTokenInfo"] = id_token_info(outcome.authorization, id_token=id_token)
    # The running (Updated) or final (Ended) cost of a priced session, read after the commit.
    if payload["eventType"] != "Started" and outcome.transaction.tariff_snapshot is not None:
        bill = await database_sync_to_async(transaction_cost_so_far)(
            transaction_pk=outcome.transaction.pk, at=parse_ocpp_datetime(payload["timestamp"])
        )
        if bill is not None:
            answer["totalCost"] = float(bill.total)
    return answer


@applies_answer("RequestStartTransaction")
def remote_start_answered(*, charge_point_pk: int, request: dict, response: dict) -> None:
    """A transaction already running (the cable was plugged in first) is the one it started."""
    if response.get("status") == "Accepted" and response.get("transactionId"):
        transaction_remote_start_link(
            charge_point_pk=charge_point_pk,
            charger_transaction_id=response["transactionId"],
            remote_start_id=request["remoteStartId"],
        )
