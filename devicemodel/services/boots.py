"""A charging station's boot: what it reports, why it started, and its history."""

from __future__ import annotations

from django.db import transaction

from stations.models import ChargePoint
from stations.services import BootInfo, chargepoint_boot, chargepoint_registration_answer

from ..models import BootRecord, VariableAttribute


@transaction.atomic
def station_boot_record(*, charge_point: ChargePoint, info: BootInfo, reason: str) -> ChargePoint:
    """Store the boot (as for any charge point) and keep it in the boot history with its reason.

    A boot applies what waited for a reboot: the attributes set with
    RebootRequired are no longer marked so.
    """
    charge_point = chargepoint_boot(charge_point=charge_point, info=info)
    BootRecord.objects.create(
        charge_point=charge_point,
        reason=reason,
        firmware_version=info.firmware_version,
        registration_status=chargepoint_registration_answer(charge_point=charge_point),
    )
    VariableAttribute.objects.filter(
        variable__charge_point=charge_point, reboot_required=True
    ).update(reboot_required=False)
    return charge_point
