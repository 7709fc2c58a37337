"""What the billing tests share: charge points old enough for their sessions."""

from datetime import UTC, datetime

from stations.models import ChargePoint

# Before every session of these tests: a session that starts before its
# charge point was registered is disputed (a charger clock gone wrong).
REGISTERED_AT = datetime(2020, 1, 1, tzinfo=UTC)


def registered_long_ago(charge_point: ChargePoint) -> ChargePoint:
    """Backdate the charge point's registration before the tests' fixed dates."""
    ChargePoint.objects.filter(pk=charge_point.pk).update(created_at=REGISTERED_AT)
    charge_point.created_at = REGISTERED_AT
    return charge_point
