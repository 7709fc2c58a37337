"""The charging periods of a CDR: a new period wherever the price of the session changes.

OCPI prices a CDR from its tariff's elements, each period by the element in
force at its `start_date_time` (time-of-day restrictions). A session that
charged from 21:00 to 01:00 under a tariff with a night price from 23:00
is therefore two charging periods, split where billing splits the invoice
(billing.pricing.price_slices: period boundaries in the station's time
zone, clock changes, the end of charging), with the energy of each from the
same energy curve; then one parking period for the time after charging.
The energy of the periods adds up to the session's exactly (the last
charging period takes what rounding and the trickle while parked leave).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from billing.energy import Point, energy_between
from billing.pricing import Terms, price_slices, zone_get

from .formats import number, ocpi_datetime

HOUR = Decimal(3600)
KWH_PLACES = Decimal("0.001")


def cdr_charging_periods(
    *,
    terms: Terms,
    time_zone: str,
    curve: tuple[Point, ...],
    start: datetime,
    charged_until: datetime,
    stop: datetime,
    total_wh: int,
    tariff_id: str,
) -> list[dict]:
    """OCPI ChargingPeriods: one per stretch of one price while charging, then parking."""
    stretches: list[list] = []  # [start, seconds, wh, price period]
    for slice_start, slice_end, period in price_slices(
        terms, zone_get(time_zone), start, stop, charged_until
    ):
        if slice_start >= charged_until:
            break  # parked from here on
        seconds = Decimal((slice_end - slice_start).total_seconds())
        wh = energy_between(curve, slice_start, slice_end)
        if stretches and stretches[-1][3] == period:
            stretches[-1][1] += seconds
            stretches[-1][2] += wh
        else:
            stretches.append([slice_start, seconds, wh, period])
    if not stretches:  # no time charging (a clock error): all of it at the start
        stretches.append([start, Decimal(0), Decimal(total_wh), None])
    total_kwh = (Decimal(total_wh) / 1000).quantize(KWH_PLACES)
    periods = []
    counted = Decimal(0)
    for index, (begins, seconds, wh, _period) in enumerate(stretches):
        last = index == len(stretches) - 1
        kwh = total_kwh - counted if last else (wh / 1000).quantize(KWH_PLACES)
        counted += kwh
        periods.append(
            {
                "start_date_time": ocpi_datetime(begins),
                "dimensions": [
                    {"type": "ENERGY", "volume": number(max(kwh, Decimal(0)))},
                    {"type": "TIME", "volume": _hours(seconds / HOUR)},
                ],
                "tariff_id": tariff_id,
            }
        )
    if stop > charged_until:
        parked = Decimal((stop - charged_until).total_seconds()) / HOUR
        periods.append(
            {
                "start_date_time": ocpi_datetime(charged_until),
                "dimensions": [{"type": "PARKING_TIME", "volume": _hours(parked)}],
                "tariff_id": tariff_id,
            }
        )
    return periods


def _hours(value: Decimal) -> float:
    return number(round(max(value, Decimal(0)), 6))
