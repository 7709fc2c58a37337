"""OCPP 2.0.1 LogStatusNotification (stored like the 1.6 security extension's) and NotifyEvent."""

from __future__ import annotations

import pytest

from ocpp_consumer.journal import journal
from ocpp_consumer.models import JournalEntry
from stations.models import ChargePoint

from .station import station_201

pytestmark = pytest.mark.django_db(transaction=True)


async def test_log_status_is_stored_with_its_time(charge_point_socket):
    socket = await station_201(charge_point_socket)
    frame = await socket.call("LogStatusNotification", {"status": "Uploaded", "requestId": 7}, "l1")
    assert frame == [3, "l1", {}]
    charge_point = await ChargePoint.objects.aget(charge_point_id="CP201")
    assert (charge_point.log_status, charge_point.log_status_at is not None) == ("Uploaded", True)


async def test_notify_event_is_acknowledged_and_journaled(charge_point_socket):
    socket = await station_201(charge_point_socket)
    payload = {
        "generatedAt": "2026-12-01T10:00:00Z",
        "seqNo": 0,
        "eventData": [
            {
                "eventId": 1,
                "timestamp": "2026-12-01T10:00:00Z",
                "trigger": "Alerting",
                "actualValue": "Faulted",
                "eventNotificationType": "HardWiredNotification",
                "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
                "variable": {"name": "AvailabilityState"},
            }
        ],
    }
    frame = await socket.call("NotifyEvent", payload, "e1")
    assert frame == [3, "e1", {}]
    await journal.flush()
    entry = await JournalEntry.objects.aget(unique_id="e1", direction="in")
    assert (entry.action, entry.payload) == ("NotifyEvent", payload)
