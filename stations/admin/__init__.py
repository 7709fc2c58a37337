"""The operator console for sites, charge points and what they report.

What a charge point reports (boot data, status, sessions, meter values) is
shown read-only: the charge point is the source of truth, not the operator.
"""

from . import charge_points, protocol, smart_charging, transactions  # noqa: F401 - registers the admins
from .base import METER_VALUE_INLINE_LIMIT
from .charge_points import ChargePointAdmin

__all__ = ["METER_VALUE_INLINE_LIMIT", "ChargePointAdmin"]
