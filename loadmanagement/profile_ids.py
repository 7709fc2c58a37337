"""The chargingProfileIds load management installs, so that it can clear exactly those.

From LOADMGMT_PROFILE_ID_BASE: the TxDefaultProfile of a charger is the
base, each connector's TxProfile the base plus its connector (EVSE) id, and
the charger's maximum profile the base less one (below every other, so it
never collides with a connector's).
"""

from django.conf import settings


def fallback_profile_id() -> int:
    return settings.LOADMGMT_PROFILE_ID_BASE


def tx_profile_id(connector_id: int) -> int:
    return settings.LOADMGMT_PROFILE_ID_BASE + connector_id


def max_profile_id() -> int:
    return settings.LOADMGMT_PROFILE_ID_BASE - 1
