"""Reads of the stations app."""

from __future__ import annotations

from .models import ChargePoint


def chargepoint_get(*, charge_point_id: str) -> ChargePoint | None:
    return ChargePoint.objects.filter(charge_point_id=charge_point_id).first()
