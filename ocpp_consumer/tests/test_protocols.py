"""One endpoint, two versions: the handshake picks OCPP 2.0.1 or 1.6 per socket."""

from __future__ import annotations

import pytest

from ocpp_consumer.protocols import OCPP16, OCPP201, protocol_negotiate
from stations.models import ChargePoint

from .conftest import assert_call_error, assert_call_result

pytestmark = pytest.mark.django_db(transaction=True)

BOOT_201 = {
    "reason": "PowerUp",
    "chargingStation": {"vendorName": "ACME", "model": "Wall 201", "serialNumber": "S-1"},
}


@pytest.mark.parametrize(
    ("offered", "preferred", "chosen"),
    [
        (["ocpp2.0.1", "ocpp1.6"], "", OCPP201),
        (["ocpp1.6", "ocpp2.0.1"], "", OCPP201),
        (["ocpp1.6", "ocpp2.0.1"], "1.6", OCPP16),
        (["ocpp1.6"], "2.0.1", OCPP16),
        (["ocpp2.0.1"], "1.6", OCPP201),
        (["ocpp2.0"], "", None),
    ],
)
def test_the_preferred_version_else_the_newest_offered(offered, preferred, chosen):
    assert protocol_negotiate(offered=offered, preferred=preferred) is chosen


async def test_a_201_charger_boots_and_is_recorded_as_201(handshake):
    connected, socket = await handshake("/ocpp/CP201", subprotocols=["ocpp2.0.1", "ocpp1.6"])
    assert connected
    assert socket.handshake_result[1] == "ocpp2.0.1"
    answer = assert_call_result(await socket.call("BootNotification", BOOT_201, "b1"), "b1")
    assert answer["status"] == "Accepted"
    assert answer["interval"] > 0
    assert_call_result(await socket.call("Heartbeat", {}, "h1"), "h1")
    charge_point = await ChargePoint.objects.aget(charge_point_id="CP201")
    assert (charge_point.ocpp_version, charge_point.vendor, charge_point.model) == (
        "2.0.1",
        "ACME",
        "Wall 201",
    )


async def test_201_errors_carry_the_201_spellings(handshake):
    _, socket = await handshake("/ocpp/CP201", subprotocols=["ocpp2.0.1"])
    assert_call_result(await socket.call("BootNotification", BOOT_201, "b1"), "b1")
    # A 1.6 payload is no 2.0.1 BootNotification: a required field is missing.
    frame = await socket.call("BootNotification", {"chargePointVendor": "A"}, "b2")
    assert_call_error(frame, "b2", "OccurrenceConstraintViolation")
    frame = await socket.call("Heartbeat", [], "h1")
    assert_call_error(frame, "h1", "FormatViolation")
    frame = await socket.call("StartTransaction", {}, "s1")  # a 1.6 action
    assert_call_error(frame, "s1", "NotImplemented")


async def test_a_charger_kept_on_16_speaks_16_though_it_offers_201(handshake):
    await ChargePoint.objects.acreate(charge_point_id="CP-KEPT", ocpp_version_preferred="1.6")
    connected, socket = await handshake("/ocpp/CP-KEPT", subprotocols=["ocpp2.0.1", "ocpp1.6"])
    assert connected and socket.handshake_result[1] == "ocpp1.6"
    assert (await socket.boot())["status"] == "Accepted"


async def test_a_handshake_offering_no_supported_version_is_refused(handshake):
    connected, _ = await handshake("/ocpp/CP-OLD", subprotocols=["ocpp1.5"])
    assert not connected
