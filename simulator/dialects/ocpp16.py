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
    Location,
    Measurand,
    ReadingContext,
    Reason,
    UnitOfMeasure,
)

from .. import sessions
from ..connection import SUBPROTOCOL
from ..protocol import Answer, CallFailed, ocpp_now
from ..state import ChargePoint, Connector
from . import Dialect

VENDOR = "CSMS-Simulator"
MODEL = "Simulated AC"
FIRMWARE = "sim-1.0"


def _id_tag_status(answer: dict) -> str | None:
    info = answer.get("idTagInfo")
    return info.get("status") if isinstance(info, dict) else None


def meter_values_payload(connector: Connector, *, context: str = ReadingContext.sample_periodic):
    """MeterValues of a connector now: the energy register (Wh) and the power (W)."""
    charging = connector.charging_since is not None
    payload = {
        "connectorId": connector.connector_id,
        "meterValue": [
            {
                "timestamp": ocpp_now(),
                "sampledValue": [
                    _sample(
                        str(connector.meter_wh(time.monotonic())),
                        Measurand.energy_active_import_register,
                        UnitOfMeasure.wh,
                        context,
                    ),
                    _sample(
                        str(round(connector.power_w)) if charging else "0",
                        Measurand.power_active_import,
                        UnitOfMeasure.w,
                        context,
                    ),
                ],
            }
        ],
    }
    if connector.transaction_id is not None:
        payload["transactionId"] = connector.transaction_id
    return payload


def _sample(value: str, measurand: str, unit: str, context: str) -> dict:
    return {
        "value": value,
        "context": context,
        "measurand": measurand,
        "location": Location.outlet,
        "unit": unit,
    }


class Ocpp16(Dialect):
    version = "1.6"
    subprotocol = SUBPROTOCOL
    title = "OCPP 1.6J"

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
            if _id_tag_status(answer) != AuthorizationStatus.accepted:
                cp.stats.session_refused("Authorize", _id_tag_status(answer))
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
        accepted = _id_tag_status(answer) == AuthorizationStatus.accepted
        if accepted:
            cp.stats.session("started")
            cp.stats.session("remote_started", remote is not None)
            await cp.send_status(connector.connector_id, ChargePointStatus.charging)
            await sessions.charge(cp, connector)
            reason = connector.stop_reason or Reason.local
        else:
            cp.stats.session_refused("StartTransaction", _id_tag_status(answer))
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
        # Imported when used: the answers build on this module's payloads.
        from .ocpp16_answers import answer_call

        return answer_call(cp, action, payload)


OCPP16 = Ocpp16()
