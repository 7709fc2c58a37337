"""Every CALL of the OCPP 2.0.1 Core profile a station sends has a handler; others are NotSupported."""

from __future__ import annotations

import pytest

from ocpp_consumer.protocols import OCPP201

from ..conftest import assert_call_error
from .station import station_201

pytestmark = pytest.mark.django_db(transaction=True)

# The station-to-CSMS messages of the Core certification profile (provisioning,
# authorization, transactions, availability, meter values, reports, firmware,
# diagnostics, security events, data transfer).
CORE_FROM_STATION = {
    "Authorize",
    "BootNotification",
    "DataTransfer",
    "FirmwareStatusNotification",
    "Heartbeat",
    "LogStatusNotification",
    "MeterValues",
    "NotifyEvent",
    "NotifyReport",
    "SecurityEventNotification",
    "StatusNotification",
    "TransactionEvent",
}


def test_every_core_message_from_a_station_has_a_handler():
    assert CORE_FROM_STATION <= set(OCPP201.handlers)


async def test_a_message_outside_core_is_answered_not_supported(charge_point_socket):
    socket = await station_201(charge_point_socket)
    frame = await socket.call(
        "ReservationStatusUpdate", {"reservationId": 1, "reservationUpdateStatus": "Expired"}, "r1"
    )
    assert_call_error(frame, "r1", "NotSupported")
    await socket.assert_usable()
