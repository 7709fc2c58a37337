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


async def test_every_201_action_is_handled_or_sendable():
    """All of OCPP 2.0.1: what a station sends has a handler, what a CSMS sends is a command."""
    from ocpp.v201.enums import Action

    from ocpp_consumer.commands.actions_201 import CSMS_ACTIONS
    from ocpp_consumer.protocols import OCPP201

    uncovered = {a.value for a in Action} - set(OCPP201.handlers) - CSMS_ACTIONS
    assert uncovered == set()


async def test_an_action_of_no_ocpp_version_is_answered_not_implemented(charge_point_socket):
    socket = await station_201(charge_point_socket)
    frame = await socket.call("FlyToTheMoon", {}, "r1")
    assert_call_error(frame, "r1", "NotImplemented")
    await socket.assert_usable()
