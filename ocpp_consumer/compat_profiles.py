"""Which relaxations apply to the next CALL of a charge point.

Operators create and change compatibility profiles while chargers stay
connected, so they are not read once per connection. Each worker process
keeps one snapshot of every profile (a small table) and of which charge
points name one, and reloads it at most every RULES_TTL_SECONDS: a change
applies within that time, without a reconnect, for two queries per process
and interval however many sockets it serves. (A per-socket cache would cost
a query on most messages: a charger's heartbeats are minutes apart.)

A BootNotification is read with the vendor and model it reports itself, so
that a profile made for a vendor rescues a charger whose very first boot
breaks the schema.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async

from stations.selectors import CompatibilityRules, compatibility_rules_load

from .compat import STRICT, Relaxations

logger = logging.getLogger(__name__)

# How long a change to the profiles may take to apply (tests shorten it).
RULES_TTL_SECONDS = 5.0

BOOT_VENDOR = "chargePointVendor"
BOOT_MODEL = "chargePointModel"


@dataclass
class _Snapshot:
    rules: CompatibilityRules
    loaded_at: float
    # Built once per profile, not per message.
    by_profile: dict[int, Relaxations] = field(default_factory=dict)

    def relaxations_for(self, *, charge_point_pk: int, vendor: str, model: str) -> Relaxations:
        profile = self.rules.profile_for(
            charge_point_pk=charge_point_pk, vendor=vendor, model=model
        )
        if profile is None:
            return STRICT
        relax = self.by_profile.get(profile.pk)
        if relax is None:
            relax = self.by_profile[profile.pk] = Relaxations.from_profile(profile)
        return relax


_snapshot: _Snapshot | None = None


async def relaxations_for(*, charge_point_pk: int, vendor: str, model: str) -> Relaxations:
    """The relaxations for a charge point reporting this vendor and model."""
    snapshot = await _current_snapshot()
    return snapshot.relaxations_for(charge_point_pk=charge_point_pk, vendor=vendor, model=model)


def boot_vendor_and_model(payload: dict) -> tuple[str, str]:
    """Vendor and model of a BootNotification payload (1.6 or 2.0.1), not validated yet."""
    station = payload.get("chargingStation")
    if isinstance(station, dict):  # OCPP 2.0.1
        return _reported_text(station.get("vendorName")), _reported_text(station.get("model"))
    return _reported_text(payload.get(BOOT_VENDOR)), _reported_text(payload.get(BOOT_MODEL))


def _reported_text(value: Any) -> str:
    # A number is matched as its text, as numbers_as_strings would read it.
    if isinstance(value, str):
        return value
    if type(value) in (int, float):
        return str(value)
    return ""


async def _current_snapshot() -> _Snapshot:
    global _snapshot
    snapshot, now = _snapshot, time.monotonic()
    if snapshot is not None and now - snapshot.loaded_at < RULES_TTL_SECONDS:
        return snapshot
    if snapshot is not None:
        # Others keep this one while it reloads; after a failure, retried later.
        snapshot.loaded_at = now
    try:
        rules = await database_sync_to_async(compatibility_rules_load)()
    except Exception:
        if snapshot is None:
            raise
        logger.warning("could not reload compatibility profiles: kept", exc_info=True)
        return snapshot
    _snapshot = _Snapshot(rules=rules, loaded_at=now)
    return _snapshot


def relaxations_cache_clear() -> None:
    """Forget the snapshot: the next CALL reads the profiles again."""
    global _snapshot
    _snapshot = None
