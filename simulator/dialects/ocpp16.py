"""OCPP 1.6J as the simulated charge points speak it.

A session: Authorize (not for a remote start: AuthorizeRemoteTxRequests is
false) -> Preparing -> StartTransaction (meterStart) -> Charging ->
MeterValues every --meter-interval -> StopTransaction (meterStop, reason)
-> Finishing -> Available. A start the CSMS refuses (idTagInfo not
Accepted) is stopped at once with reason DeAuthorized. The answers to the
CSMS's commands are in ocpp16_answers.py.
"""

from __future__ import annotations

import time

from ocpp.v16.enums import (
    Action,
    AuthorizationStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    Reason,
)

from .. import sessions
from ..connection import SUBPROTOCOL
from ..protocol import Answer, CallFailed, ocpp_now
from ..state import ChargePoint, Connector, Dialect
from .ocpp16_answers import answer_call
from .ocpp16_messages import FIRMWARE, MODEL, VENDOR, id_tag_status, meter_values_payload


class Ocpp16(Dialect):
    version = "1.6"
    subprotocol = SUBPROTOCOL

    def boot_payload(self, cp: ChargePoint, *, triggered: bool = False) -> dict:
        return {
            "chargePointVendor": VENDOR,
            "chargePointModel": MODEL,
            "chargePointSerialNumber": cp.charge_point_id[-25:],
            "firmwareVersion": FIRMWARE,
        }

    def status_payload(self, connector_id: int, status: str) -> dict:
        return {
            "connectorId": connector_id,
            "errorCode": ChargePointErrorCode.no_error,
            "status": status,
            "timestamp": ocpp_now(),
        }

    async def session(
        self, cp: ChargePoint, connector: Connector, *, id_tag: str, remote: dict | None
    ) -> None:
        # A remote start needs no Authorize (AuthorizeRemoteTxRequests is false).
        if remote is None:
            try:
                answer = await cp.call(Action.authorize, {"idTag": id_tag})
            except CallFailed:
                cp.stats.session("failed")
                return
            if id_tag_status(answer) != AuthorizationStatus.accepted:
                cp.stats.session_refused("Authorize", id_tag_status(answer))
                return
        if connector.stop.is_set():  # the run ends or the charger resets: no new transaction
            return
        await cp.send_status(connector.connector_id, ChargePointStatus.preparing)
        payload = {
            "connectorId": connector.connector_id,
            "idTag": id_tag,
            "meterStart": connector.meter_wh(time.monotonic()),
            "timestamp": ocpp_now(),
        }
        try:
            answer = await cp.call(Action.start_transaction, payload, deliver=True)
        except CallFailed:
            cp.stats.session("failed")
            await cp.send_status(connector.connector_id, sessions.idle_status(cp, connector))
            return
        transaction_id = answer.get("transactionId")
        if not isinstance(transaction_id, int) or isinstance(transaction_id, bool):
            cp.stats.session("failed")
            await cp.send_status(connector.connector_id, sessions.idle_status(cp, connector))
            return
        connector.transaction_id = transaction_id
        accepted = id_tag_status(answer) == AuthorizationStatus.accepted
        if accepted:
            cp.stats.session("started")
            cp.stats.session("remote_started", remote is not None)
            await cp.send_status(connector.connector_id, ChargePointStatus.charging)
            await sessions.charge(cp, connector)
            reason = connector.stop_reason or Reason.local
        else:
            cp.stats.session_refused("StartTransaction", id_tag_status(answer))
            reason = Reason.de_authorized  # the CSMS refused the tag: stop at once
        await self._stop(cp, connector, id_tag=id_tag, reason=reason, count=accepted)

    async def _stop(
        self, cp: ChargePoint, connector: Connector, *, id_tag: str, reason: str, count: bool
    ) -> None:
        payload = {
            "transactionId": connector.transaction_id,
            "idTag": id_tag,
            "meterStop": sessions.end_charging(connector),
            "timestamp": ocpp_now(),
            "reason": reason,
        }
        try:
            await cp.call(Action.stop_transaction, payload, deliver=True)
        except CallFailed:
            cp.stats.session("stop_failed")
        else:
            if count:
                cp.stats.session("completed")
                cp.stats.session("remote_stopped", reason == Reason.remote)
        await cp.send_status(connector.connector_id, ChargePointStatus.finishing)
        await cp.send_status(connector.connector_id, sessions.idle_status(cp, connector))

    async def send_periodic_meter_values(self, cp: ChargePoint, connector: Connector) -> None:
        try:
            await cp.call(Action.meter_values, meter_values_payload(connector))
        except CallFailed:
            pass

    def answer(self, cp: ChargePoint, action: str, payload: dict) -> Answer:
        return answer_call(cp, action, payload)


OCPP16 = Ocpp16()
