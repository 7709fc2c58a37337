"""Compatibility profiles: each relaxation refused when strict, accepted when named."""

import pytest

from drivers.models import IdTag
from stations.models import ChargePoint, CompatibilityProfile, Transaction

from .conftest import assert_call_error, assert_call_result

pytestmark = pytest.mark.django_db(transaction=True)

START = {"connectorId": 1, "idTag": "TAG-1", "meterStart": 0, "timestamp": "2026-11-26T10:00:00Z"}

# relaxation, CALL action, payload, the strict CALLERROR code
CASES = [
    ("numbers_as_strings", "Authorize", {"idTag": 12345}, "TypeConstraintViolation"),
    ("truncate_long_strings", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M", "firmwareVersion": "x" * 60}, "TypeConstraintViolation"),
    ("ignore_unknown_fields", "Heartbeat", {"uptime": 77}, "OccurenceConstraintViolation"),
    ("meter_in_kwh", "StartTransaction", dict(START, meterStart=12.5), "TypeConstraintViolation"),
]  # fmt: skip


async def attach_profile(charge_point_id: str, **flags) -> None:
    profile = await CompatibilityProfile.objects.acreate(name="quirky", **flags)
    await ChargePoint.objects.filter(charge_point_id=charge_point_id).aupdate(
        compatibility_profile=profile
    )


@pytest.mark.parametrize(("flag", "action", "payload", "code"), CASES, ids=[c[0] for c in CASES])
async def test_strict_by_default(charge_point_socket, flag, action, payload, code):
    cp = await charge_point_socket()
    assert_call_error(await cp.call(action, payload, unique_id="u1"), "u1", code)


@pytest.mark.parametrize(("flag", "action", "payload", "code"), CASES, ids=[c[0] for c in CASES])
async def test_relaxation_accepts(handshake, flag, action, payload, code):
    await ChargePoint.objects.acreate(charge_point_id="CP1")
    await attach_profile("CP1", **{flag: True})
    connected, cp = await handshake("/ocpp/CP1")
    assert connected
    await cp.boot()
    assert_call_result(await cp.call(action, payload, unique_id="u1"), "u1")


async def test_truncated_firmware_version_is_stored_cut(handshake):
    await ChargePoint.objects.acreate(charge_point_id="CP1")
    await attach_profile("CP1", truncate_long_strings=True)
    _, cp = await handshake("/ocpp/CP1")
    payload = {"chargePointVendor": "V", "chargePointModel": "M", "firmwareVersion": "9" * 60}
    assert_call_result(await cp.call("BootNotification", payload, unique_id="b"), "b")
    charge_point = await ChargePoint.objects.aget(charge_point_id="CP1")
    assert charge_point.firmware_version == "9" * 50


async def test_required_strings_are_never_truncated(handshake):
    await ChargePoint.objects.acreate(charge_point_id="CP1")
    await attach_profile("CP1", truncate_long_strings=True)
    _, cp = await handshake("/ocpp/CP1")
    await cp.boot()
    frame = await cp.call("Authorize", {"idTag": "T" * 21}, unique_id="a")
    assert_call_error(frame, "a", "TypeConstraintViolation")


async def test_kwh_meter_readings_are_stored_in_wh(handshake):
    await ChargePoint.objects.acreate(charge_point_id="CP1")
    await attach_profile("CP1", meter_in_kwh=True)
    _, cp = await handshake("/ocpp/CP1")
    await cp.boot()
    started = assert_call_result(
        await cp.call("StartTransaction", dict(START, meterStart=12.5), unique_id="s"), "s"
    )
    stop = {
        "transactionId": started["transactionId"],
        "meterStop": 20,
        "timestamp": "2026-11-26T11:00:00Z",
    }
    assert_call_result(await cp.call("StopTransaction", stop, unique_id="t"), "t")
    session = await Transaction.objects.aget(pk=started["transactionId"])
    assert (session.meter_start, session.meter_stop, session.energy_wh) == (12_500, 20_000, 7_500)


async def test_id_tag_suffix_is_stripped(handshake):
    await IdTag.objects.acreate(id_tag="CARD-1")
    await ChargePoint.objects.acreate(charge_point_id="CP1")
    await attach_profile("CP1", id_tag_suffix="#R1")
    _, cp = await handshake("/ocpp/CP1")
    await cp.boot()
    answer = assert_call_result(
        await cp.call("Authorize", {"idTag": "CARD-1#R1"}, unique_id="a"), "a"
    )
    assert answer == {"idTagInfo": {"status": "Accepted"}}


async def test_profile_applies_by_vendor_and_model_after_boot(charge_point_socket):
    await CompatibilityProfile.objects.acreate(
        name="acme-all", vendor="acme", ignore_unknown_fields=True
    )
    await CompatibilityProfile.objects.acreate(
        name="other", vendor="Other", numbers_as_strings=True
    )
    cp = await charge_point_socket()  # boots as vendor "ACME", model "Wallbox 22"
    assert_call_result(await cp.call("Heartbeat", {"uptime": 1}, unique_id="h"), "h")
    assert_call_error(
        await cp.call("Authorize", {"idTag": 5}, unique_id="a"), "a", "TypeConstraintViolation"
    )


async def test_model_specific_profile_beats_the_vendor_wide_one(charge_point_socket):
    await CompatibilityProfile.objects.acreate(name="a-vendor", vendor="ACME")
    await CompatibilityProfile.objects.acreate(
        name="b-model", vendor="ACME", model="wallbox 22", numbers_as_strings=True
    )
    cp = await charge_point_socket()
    assert_call_result(await cp.call("Authorize", {"idTag": 5}, unique_id="a"), "a")
