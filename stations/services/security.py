"""Security: events, key rotation and security profile changes (OCPP 1.6 security whitepaper)."""

from __future__ import annotations

import secrets
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from ..models import CRITICAL_EVENT_TYPES, ChargePoint, SecurityEvent, SecurityEventOrigin

AUTHORIZATION_KEY = "AuthorizationKey"
SECURITY_PROFILE = "SecurityProfile"
# Configuration keys whose values are secrets: never stored or journaled as sent.
SECRET_CONFIGURATION_KEYS = frozenset({AUTHORIZATION_KEY})
REDACTED = "********"


def security_event_record(
    *,
    event_type: str,
    origin: str = SecurityEventOrigin.CSMS,
    charge_point_pk: int | None = None,
    claimed_id: str = "",
    tech_info: str = "",
    timestamp: datetime | None = None,
    source_address: str = "",
) -> SecurityEvent:
    return SecurityEvent.objects.create(
        charge_point_id=charge_point_pk,
        claimed_id=claimed_id[:100],
        origin=origin,
        event_type=event_type[:50],
        tech_info=tech_info[:255],
        critical=origin == SecurityEventOrigin.CHARGE_POINT and event_type in CRITICAL_EVENT_TYPES,
        timestamp=timestamp or timezone.now(),
        source_address=source_address[:64],
    )


def authorization_key_generate() -> str:
    """A new AuthorizationKey: 20 random bytes as 40 hex characters."""
    return secrets.token_hex(20)


@transaction.atomic
def security_configuration_changed(*, charge_point_pk: int, key: str, value: str) -> bool:
    """Apply an accepted security-relevant ChangeConfiguration; True if it was one.

    The new AuthorizationKey is required from the next connection on; a
    SecurityProfile is only ever raised, never lowered.
    """
    charge_point = ChargePoint.objects.select_for_update().get(pk=charge_point_pk)
    if key == AUTHORIZATION_KEY:
        charge_point.set_password(value)
        charge_point.save(update_fields=["password", "updated_at"])
        security_event_record(event_type="AuthorizationKeyChanged", charge_point_pk=charge_point_pk)
        return True
    if key == SECURITY_PROFILE and value.isdigit():
        profile = int(value)
        if profile > charge_point.security_profile:
            charge_point.security_profile = profile
            charge_point.save(update_fields=["security_profile", "updated_at"])
            security_event_record(
                event_type="SecurityProfileRaised",
                charge_point_pk=charge_point_pk,
                tech_info=f"now {profile}",
            )
        return True
    return False


def chargepoint_log_status(*, charge_point_pk: int, status: str) -> None:
    ChargePoint.objects.filter(pk=charge_point_pk).update(
        log_status=status, log_status_at=timezone.now()
    )
