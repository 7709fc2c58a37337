"""The answers to network profile and reset commands, kept for operators."""

from __future__ import annotations

from ..models import NetworkProfile, ResetRecord

ACCEPTED = "Accepted"


def network_profile_answered(
    *, charge_point_pk: int, configuration_slot: int, connection_data: dict, status: str
) -> NetworkProfile:
    """Record the answer; the slot's profile changes only when the charger accepted it.

    `connection_data` must come with its passwords masked: it is shown in the console.
    """
    profile, _ = NetworkProfile.objects.get_or_create(
        charge_point_id=charge_point_pk,
        configuration_slot=configuration_slot,
        defaults={"last_status": status},
    )
    profile.last_status = status
    profile.last_requested = connection_data
    if status == ACCEPTED:
        profile.connection_data = connection_data
    profile.save()
    return profile


def reset_answered(
    *, charge_point_pk: int, reset_type: str, evse_id: int | None, status: str
) -> ResetRecord:
    return ResetRecord.objects.create(
        charge_point_id=charge_point_pk, reset_type=reset_type, evse_id=evse_id, status=status
    )
