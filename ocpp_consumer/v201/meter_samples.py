"""OCPP 2.0.1 MeterValue objects read as the stations domain's MeterSample values."""

from __future__ import annotations

from decimal import Decimal

from stations.services.meter_values import ENERGY_REGISTER, MeterSample
from stations.timestamps import parse_ocpp_datetime

# What a SampledValue means when it leaves a field out (OCPP 2.0.1, 2.44 and
# 2.54): the energy register, periodic, at the outlet, in Wh, multiplier 0.
# 2.0.1 has no value format: the value is a number, stored as a raw value.
SAMPLED_VALUE_DEFAULTS = {
    "measurand": ENERGY_REGISTER,
    "context": "Sample.Periodic",
    "location": "Outlet",
}
DEFAULT_UNIT = "Wh"
# A 2.0.1 unit may have 20 characters; the stored column (as in 1.6) has 16.
# A longer one is no unit the domain computes with: it is kept shortened.
UNIT_MAX_LENGTH = 16
RAW = "Raw"


# Real meters use -3..6; beyond this a reading is kept as sent, never as a number.
MULTIPLIER_LIMIT = 18


def sampled_value_text(value: float | int, multiplier: int) -> str:
    """The value times 10^multiplier, as a plain decimal string (no exponent).

    Read from the number's shortest repr, so 0.1 stays 0.1 and a kWh reading
    of 12.345 with multiplier 3 is "12345". A multiplier past the limit
    gives "value*10^multiplier", text that is stored but not computed with.
    """
    if abs(multiplier) > MULTIPLIER_LIMIT:
        return f"{value!r}*10^{multiplier}"
    scaled = Decimal(repr(value)).scaleb(multiplier)
    return format(scaled.normalize(), "f")


def meter_samples_from_ocpp201(meter_values: list[dict] | None) -> list[MeterSample]:
    """Flatten MeterValue objects into samples, with 2.0.1's defaults and multipliers applied."""
    samples = []
    for meter_value in meter_values or ():
        timestamp = parse_ocpp_datetime(meter_value["timestamp"])
        for sampled in meter_value["sampledValue"]:
            unit_of_measure = sampled.get("unitOfMeasure") or {}
            fields = {
                name: sampled.get(name) or default
                for name, default in SAMPLED_VALUE_DEFAULTS.items()
            }
            samples.append(
                MeterSample(
                    timestamp=timestamp,
                    value=sampled_value_text(
                        sampled["value"], unit_of_measure.get("multiplier", 0)
                    ),
                    measurand=fields["measurand"],
                    unit=(unit_of_measure.get("unit") or DEFAULT_UNIT)[:UNIT_MAX_LENGTH],
                    context=fields["context"],
                    location=fields["location"],
                    value_format=RAW,
                    phase=sampled.get("phase") or "",
                )
            )
    return samples
