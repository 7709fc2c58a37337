"""Build the MeterSample values that services take, for tests that call them directly."""

from datetime import UTC, datetime

from stations.services.meter_values import ENERGY_REGISTER, MeterSample

AT = datetime(2024, 5, 1, 10, 30, tzinfo=UTC)


def meter_sample(value: str, timestamp: datetime = AT, **fields) -> MeterSample:
    """A periodic energy register reading in Wh at the outlet unless fields say otherwise."""
    given = dict(
        measurand=ENERGY_REGISTER,
        unit="Wh",
        context="Sample.Periodic",
        location="Outlet",
        value_format="Raw",
    )
    given.update(fields)
    return MeterSample(timestamp=timestamp, value=value, **given)
