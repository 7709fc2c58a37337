"""OCPP 2.0.1 as the simulated charge points speak it.

Each simulated connector is an EVSE with one connector (evseId n,
connectorId 1), the unit that runs one session and has one status. A
session, as a charger with TxStartPoint "authorized and cable plugged in"
tells it: Authorize (not for a remote start) -> StatusNotification Occupied
-> TransactionEvent Started (transactionId a uuid4, chargingState
EVConnected, the register as Transaction.Begin) -> Updated
ChargingStateChanged (Charging) -> Updated MeterValuePeriodic every
--meter-interval (register in Wh, power in W) -> Ended (stoppedReason, the
register as Transaction.End) -> StatusNotification Available. seqNo counts
the events of a transaction from 0. Started and Ended are delivered through a
dropped connection (the CSMS knows a retransmission by its transactionId);
periodic events that fall due offline are skipped, as in 1.6. A Started the
CSMS answers with an idTokenInfo that is not Accepted ends at once
(Deauthorized). The answers to the CSMS's commands are in ocpp201_answers.py.
"""

from __future__ import annotations

import uuid

from ocpp.v201.enums import (
    Action,
    AuthorizationStatusEnumType,
    BootReasonEnumType,
    ChargingStateEnumType,
    ConnectorStatusEnumType,
    ReadingContextEnumType,
    ReasonEnumType,
    TransactionEventEnumType,
    TriggerReasonEnumType,
)

from .. import sessions
from ..connection import SUBPROTOCOL_201
from ..protocol import Answer, CallFailed, ocpp_now
from ..state import ChargePoint, Connector, Dialect
from .ocpp16_messages import FIRMWARE, MODEL, VENDOR
from .ocpp201_answers import answer_call
from .ocpp201_messages import CONNECTOR_ID, id_token, meter_value, token_status, transaction_event

OCCUPIED = ConnectorStatusEnumType.occupied
# The trigger of an Ended event, by the stoppedReason the stop was asked with.
STOP_TRIGGERS = {
    ReasonEnumType.local: TriggerReasonEnumType.stop_authorized,
    ReasonEnumType.remote: TriggerReasonEnumType.remote_stop,
    ReasonEnumType.immediate_reset: TriggerReasonEnumType.reset_command,
    ReasonEnumType.de_authorized: TriggerReasonEnumType.deauthorized,
}


class Ocpp201(Dialect):
    version = "2.0.1"
    subprotocol = SUBPROTOCOL_201

    def boot_payload(self, cp: ChargePoint, *, triggered: bool = False) -> dict:
        if triggered:
            reason = BootReasonEnumType.triggered
        elif cp.reset_boot:
            reason = BootReasonEnumType.remote_reset
        else:
            reason = BootReasonEnumType.power_up
        return {
            "reason": reason,
            "chargingStation": {
                "model": MODEL,
                "vendorName": VENDOR,
                "serialNumber": cp.charge_point_id[-25:],
                "firmwareVersion": FIRMWARE,
            },
        }

    def status_payload(self, connector_id: int, status: str) -> dict | None:
        if connector_id == 0:
            return None  # 2.0.1 reports EVSEs' connectors only, not the station
        return {
            "timestamp": ocpp_now(),
            "connectorStatus": status,
            "evseId": connector_id,
            "connectorId": CONNECTOR_ID,
        }

    async def session(
        self, cp: ChargePoint, connector: Connector, *, id_tag: str, remote: dict | None
    ) -> None:
        token = remote["idToken"] if remote is not None else id_token(id_tag)
        # A remote start needs no Authorize (AuthorizeRemoteStart is false).
        if remote is None:
            try:
                answer = await cp.call(Action.authorize, {"idToken": token})
            except CallFailed:
                cp.stats.session("failed")
                return
            if token_status(answer) != AuthorizationStatusEnumType.accepted:
                cp.stats.session_refused("Authorize", token_status(answer))
                return
        if connector.stop.is_set():  # the run ends or the charger resets: no new transaction
            return
        await cp.send_status(connector.connector_id, OCCUPIED)  # the cable is plugged in
        connector.transaction_id = str(uuid.uuid4())
        connector.seq_no = 0
        extra = {"idToken": token}
        if remote is not None:
            trigger = TriggerReasonEnumType.remote_start
        else:
            trigger = TriggerReasonEnumType.authorized
        started = transaction_event(
            connector,
            TransactionEventEnumType.started,
            trigger,
            ChargingStateEnumType.ev_connected,
            meter=meter_value(connector, ReadingContextEnumType.transaction_begin, power=False),
            **extra,
        )
        if remote is not None:
            started["transactionInfo"]["remoteStartId"] = remote["remoteStartId"]
        try:
            answer = await cp.call(Action.transaction_event, started, deliver=True)
        except CallFailed:
            cp.stats.session("failed")
            await cp.send_status(connector.connector_id, sessions.idle_status(cp, connector))
            return
        # Without an idTokenInfo the CSMS has nothing against the token (it was authorized).
        accepted = token_status(answer) in (None, AuthorizationStatusEnumType.accepted)
        if accepted:
            cp.stats.session("started")
            cp.stats.session("remote_started", remote is not None)
            charging = transaction_event(
                connector,
                TransactionEventEnumType.updated,
                TriggerReasonEnumType.charging_state_changed,
                ChargingStateEnumType.charging,
            )
            try:
                await cp.call(Action.transaction_event, charging)
            except CallFailed:
                pass  # counted; the session goes on
            await sessions.charge(cp, connector)
            reason = connector.stop_reason or ReasonEnumType.local
        else:
            cp.stats.session_refused("TransactionEvent", token_status(answer))
            reason = ReasonEnumType.de_authorized  # the CSMS refused the token: stop at once
        await self._end(cp, connector, token=token, reason=reason, count=accepted)

    async def _end(
        self, cp: ChargePoint, connector: Connector, *, token: dict, reason: str, count: bool
    ) -> None:
        sessions.end_charging(connector)
        trigger = STOP_TRIGGERS.get(reason, TriggerReasonEnumType.abnormal_condition)
        extra = {"idToken": token} if trigger == TriggerReasonEnumType.stop_authorized else {}
        ended = transaction_event(
            connector,
            TransactionEventEnumType.ended,
            trigger,
            ChargingStateEnumType.ev_connected,
            meter=meter_value(connector, ReadingContextEnumType.transaction_end, power=False),
            **extra,
        )
        ended["transactionInfo"]["stoppedReason"] = reason
        try:
            await cp.call(Action.transaction_event, ended, deliver=True)
        except CallFailed:
            cp.stats.session("stop_failed")
        else:
            if count:
                cp.stats.session("completed")
                cp.stats.session("remote_stopped", reason == ReasonEnumType.remote)
        # The driver unplugs.
        await cp.send_status(connector.connector_id, sessions.idle_status(cp, connector))

    async def send_periodic_meter_values(self, cp: ChargePoint, connector: Connector) -> None:
        payload = transaction_event(
            connector,
            TransactionEventEnumType.updated,
            TriggerReasonEnumType.meter_value_periodic,
            ChargingStateEnumType.charging,
            meter=meter_value(connector, ReadingContextEnumType.sample_periodic),
        )
        try:
            await cp.call(Action.transaction_event, payload)
        except CallFailed:
            pass

    def answer(self, cp: ChargePoint, action: str, payload: dict) -> Answer:
        return answer_call(cp, action, payload)


OCPP201 = Ocpp201()
