from __future__ import annotations

from datetime import datetime

from django.db.models import Q

from stations.models import Transaction

from .models import Tariff


def tariff_in_force(*, transaction: Transaction, at: datetime | None = None) -> Tariff | None:
    """The tariff of a session: charge point's, else station's, else the default.

    It is the one valid when the session started; among tariffs of the same
    scope the highest priority wins.
    """
    at = at or transaction.start_timestamp
    valid = Tariff.objects.filter(
        Q(valid_from__isnull=True) | Q(valid_from__lte=at),
        Q(valid_until__isnull=True) | Q(valid_until__gt=at),
    ).order_by("-priority", "-id")
    charge_point = transaction.charge_point
    scopes = [Q(charge_point_id=charge_point.pk)]
    if charge_point.station_id:
        scopes.append(Q(station_id=charge_point.station_id, charge_point__isnull=True))
    scopes.append(Q(is_default=True, station__isnull=True, charge_point__isnull=True))
    for scope in scopes:
        tariff = valid.filter(scope).first()
        if tariff is not None:
            return tariff
    return None
