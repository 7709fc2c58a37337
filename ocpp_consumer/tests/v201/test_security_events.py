"""OCPP 2.0.1 SecurityEventNotification: accepted and kept as a security event."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stations.models import SecurityEvent, SecurityEventOrigin

from .station import station_201

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_security_event_is_recorded_and_answered_empty(charge_point_socket):
    socket = await station_201(charge_point_socket)
    payload = {
        "type": "TamperDetectionActivated",
        "timestamp": "2026-12-01T10:00:00Z",
        "techInfo": "lid opened",
    }
    frame = await socket.call("SecurityEventNotification", payload, "s1")
    assert frame == [3, "s1", {}]
    event = await SecurityEvent.objects.select_related("charge_point").aget()
    assert (event.charge_point.charge_point_id, event.origin, event.event_type) == (
        "CP201",
        SecurityEventOrigin.CHARGE_POINT,
        "TamperDetectionActivated",
    )
    assert (event.tech_info, event.timestamp) == (
        "lid opened",
        datetime(2026, 12, 1, 10, tzinfo=UTC),
    )
    assert event.critical  # the service's list of critical types applies to 2.0.1 too


async def test_a_security_event_without_its_timestamp_is_refused(charge_point_socket):
    socket = await station_201(charge_point_socket)
    frame = await socket.call("SecurityEventNotification", {"type": "X"}, "s2")
    assert frame[:3] == [4, "s2", "OccurrenceConstraintViolation"]
    assert not await SecurityEvent.objects.aexists()
