"""OCPP 1.6 MeterValue objects read as the stations domain's MeterSample values."""

from __future__ import annotations

from stations.services.meter_values import ENERGY_REGISTER, MeterSample
from stations.timestamps import parse_ocpp_datetime

# What a SampledValue means when it leaves a field out (OCPP 1.6, 7.43):
# a charger that sends only "value" reports the energy register in Wh.
SAMPLED_VALUE_DEFAULTS = {
    "measurand": ENERGY_REGISTER,
    "unit": "Wh",
    "context": "Sample.Periodic",
    "location": "Outlet",
    "format": "Raw",
}


def meter_samples_from_ocpp(meter_values: list[dict] | None) -> list[MeterSample]:
    """Flatten MeterValue objects into samples, each field defaulted as 1.6 defines it.

    The value is kept as its decimal string even when a charger sent a number.
    """
    samples = []
    for meter_value in meter_values or ():
        timestamp = parse_ocpp_datetime(meter_value["timestamp"])
        for sampled in meter_value["sampledValue"]:
            fields = {
                name: sampled.get(name) or default
                for name, default in SAMPLED_VALUE_DEFAULTS.items()
            }
            samples.append(
                MeterSample(
                    timestamp=timestamp,
                    value=str(sampled["value"]),
                    measurand=fields["measurand"],
                    unit=fields["unit"],
                    context=fields["context"],
                    location=fields["location"],
                    value_format=fields["format"],
                    phase=sampled.get("phase") or "",
                )
            )
    return samples
