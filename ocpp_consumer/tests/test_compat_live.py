"""Compatibility profiles chosen per message: from the BootNotification's own
vendor and model, and changed by operators while chargers stay connected."""

import asyncio

import pytest

from ocpp_consumer import compat_profiles
from stations.models import ChargePoint, CompatibilityProfile

from .conftest import assert_call_error, assert_call_result

pytestmark = pytest.mark.django_db(transaction=True)

NUMERIC_SERIAL_BOOT = {
    "chargePointVendor": "ACME",
    "chargePointModel": "Wallbox 22",
    "chargePointSerialNumber": 40917,
}
# Long enough for the sockets' own database work, short enough for a test.
SHORT_TTL = 0.3


@pytest.fixture
def short_ttl(monkeypatch):
    monkeypatch.setattr(compat_profiles, "RULES_TTL_SECONDS", SHORT_TTL)


async def wait_past_ttl() -> None:
    await asyncio.sleep(SHORT_TTL * 1.5)


async def boot(cp, payload, unique_id="b") -> list:
    return await cp.call("BootNotification", payload, unique_id=unique_id)


async def test_a_first_boot_breaking_the_schema_is_refused_without_a_profile(
    charge_point_socket,
):
    cp = await charge_point_socket(boot=False)
    assert_call_error(await boot(cp, NUMERIC_SERIAL_BOOT), "b", "TypeConstraintViolation")
    charge_point = await ChargePoint.objects.aget(charge_point_id="CP1")
    assert (charge_point.vendor, charge_point.last_boot_at) == ("", None)


async def test_a_vendor_profile_rescues_the_first_boot_of_its_chargers(charge_point_socket):
    await CompatibilityProfile.objects.acreate(name="acme", vendor="acme", numbers_as_strings=True)
    cp = await charge_point_socket(boot=False)
    assert assert_call_result(await boot(cp, NUMERIC_SERIAL_BOOT), "b")["status"] == "Accepted"
    charge_point = await ChargePoint.objects.aget(charge_point_id="CP1")
    assert (charge_point.vendor, charge_point.charge_point_serial_number) == ("ACME", "40917")
    # Later messages go on with the same profile.
    assert_call_result(await cp.call("Authorize", {"idTag": 5}, unique_id="a"), "a")


async def test_the_boot_is_read_with_the_vendor_it_reports_not_the_one_stored(
    charge_point_socket,
):
    await ChargePoint.objects.acreate(
        charge_point_id="CP1", vendor="Previous Vendor", model="Wallbox 22"
    )
    await CompatibilityProfile.objects.acreate(
        name="acme-22", vendor="ACME", model="WALLBOX 22", numbers_as_strings=True
    )
    cp = await charge_point_socket(boot=False)
    assert_call_result(await boot(cp, NUMERIC_SERIAL_BOOT), "b")


async def test_a_vendor_sent_as_a_number_is_matched_as_its_text(charge_point_socket):
    await CompatibilityProfile.objects.acreate(
        name="numeric", vendor="4711", numbers_as_strings=True
    )
    cp = await charge_point_socket(boot=False)
    payload = {"chargePointVendor": 4711, "chargePointModel": "M"}
    assert_call_result(await boot(cp, payload), "b")
    assert (await ChargePoint.objects.aget(charge_point_id="CP1")).vendor == "4711"


async def test_the_profile_set_on_the_charge_point_wins_over_the_vendors(charge_point_socket):
    await CompatibilityProfile.objects.acreate(name="acme", vendor="ACME", numbers_as_strings=True)
    own = await CompatibilityProfile.objects.acreate(name="own", ignore_unknown_fields=True)
    await ChargePoint.objects.acreate(charge_point_id="CP1", compatibility_profile=own)
    cp = await charge_point_socket(boot=False)
    assert_call_error(await boot(cp, NUMERIC_SERIAL_BOOT), "b", "TypeConstraintViolation")


async def test_a_profile_created_while_connected_applies_within_the_ttl(
    short_ttl, charge_point_socket
):
    cp = await charge_point_socket(boot=False)
    assert_call_error(await boot(cp, NUMERIC_SERIAL_BOOT, "b1"), "b1", "TypeConstraintViolation")
    await CompatibilityProfile.objects.acreate(name="acme", vendor="ACME", numbers_as_strings=True)
    await wait_past_ttl()
    assert_call_result(await boot(cp, NUMERIC_SERIAL_BOOT, "b2"), "b2")


async def test_profile_changes_apply_to_a_connected_charger_within_the_ttl(
    short_ttl, charge_point_socket
):
    profile = await CompatibilityProfile.objects.acreate(name="acme", vendor="ACME")
    cp = await charge_point_socket()
    numeric_tag = {"idTag": 5}
    assert_call_error(
        await cp.call("Authorize", numeric_tag, "a1"), "a1", "TypeConstraintViolation"
    )

    await CompatibilityProfile.objects.filter(pk=profile.pk).aupdate(numbers_as_strings=True)
    await wait_past_ttl()
    assert_call_result(await cp.call("Authorize", numeric_tag, "a2"), "a2")

    # An operator sets another profile on the charge point itself: it wins.
    strict = await CompatibilityProfile.objects.acreate(name="strict")
    await ChargePoint.objects.filter(charge_point_id="CP1").aupdate(compatibility_profile=strict)
    await wait_past_ttl()
    assert_call_error(
        await cp.call("Authorize", numeric_tag, "a3"), "a3", "TypeConstraintViolation"
    )


async def test_profiles_are_read_once_per_ttl_not_per_message(monkeypatch, charge_point_socket):
    loads = []

    def counting_load():
        loads.append(1)
        return load()

    load = compat_profiles.compatibility_rules_load
    monkeypatch.setattr(compat_profiles, "compatibility_rules_load", counting_load)
    monkeypatch.setattr(compat_profiles, "RULES_TTL_SECONDS", 60.0)
    first = await charge_point_socket("CP1")
    second = await charge_point_socket("CP2")
    for _ in range(5):
        await first.assert_usable()
        await second.assert_usable()
    assert len(loads) == 1


async def test_a_failed_reload_keeps_the_rules_it_had(monkeypatch, short_ttl):
    await CompatibilityProfile.objects.acreate(name="acme", vendor="ACME", meter_in_kwh=True)
    relax = await compat_profiles.relaxations_for(charge_point_pk=1, vendor="ACME", model="")
    assert relax.meter_in_kwh

    def database_down():
        raise ConnectionError("database down")

    monkeypatch.setattr(compat_profiles, "compatibility_rules_load", database_down)
    await wait_past_ttl()
    kept = await compat_profiles.relaxations_for(charge_point_pk=1, vendor="ACME", model="")
    assert kept is relax
