"""OCPP 2.0.1 FirmwareStatusNotification: stored on the charge point like 1.6's."""

from __future__ import annotations

import pytest

from stations.models import ChargePoint

from .station import station_201

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("status", ["Downloading", "InstallVerificationFailed", "Installed"])
async def test_the_status_is_stored_with_its_time(charge_point_socket, status):
    socket = await station_201(charge_point_socket)
    frame = await socket.call(
        "FirmwareStatusNotification", {"status": status, "requestId": 8}, "f1"
    )
    assert frame == [3, "f1", {}]
    charge_point = await ChargePoint.objects.aget(charge_point_id="CP201")
    assert charge_point.firmware_status == status
    assert charge_point.firmware_status_at is not None


async def test_a_status_2_0_1_lacks_is_refused_and_not_stored(charge_point_socket):
    socket = await station_201(charge_point_socket)
    frame = await socket.call("FirmwareStatusNotification", {"status": "Exploded"}, "f2")
    assert frame[:3] == [4, "f2", "TypeConstraintViolation"]  # an enum type
    assert (await ChargePoint.objects.aget(charge_point_id="CP201")).firmware_status == ""
