from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db import transaction

from ..models import MeterValue, Transaction
from ..timestamps import parse_ocpp_datetime
from .charge_points import connector_pk

ENERGY_REGISTER = "Energy.Active.Import.Register"

# OCPP 1.6 SampledValue defaults (section 7.43 of the specification).
SAMPLED_VALUE_DEFAULTS = {
    "measurand": ENERGY_REGISTER,
    "unit": "Wh",
    "context": "Sample.Periodic",
    "location": "Outlet",
    "format": "Raw",
}

_NUMERIC_LIMIT = Decimal("1e17")
_SIX_PLACES = Decimal("0.000001")


def _numeric(value: str, value_format: str) -> Decimal | None:
    if value_format != "Raw":
        return None
    try:
        number = Decimal(value.strip())
    except (InvalidOperation, AttributeError):
        return None
    if not number.is_finite() or abs(number) >= _NUMERIC_LIMIT:
        return None
    return number.quantize(_SIX_PLACES)


def meter_values_build(
    *,
    charge_point_pk: int,
    connector_pk: int,
    transaction_pk: int | None,
    meter_values: list[dict],
) -> list[MeterValue]:
    """Turn OCPP MeterValue objects into unsaved rows, OCPP defaults applied."""
    rows = []
    for meter_value in meter_values:
        timestamp = parse_ocpp_datetime(meter_value["timestamp"])
        for sampled in meter_value["sampledValue"]:
            fields = {
                name: sampled.get(name) or default
                for name, default in SAMPLED_VALUE_DEFAULTS.items()
            }
            rows.append(
                MeterValue(
                    charge_point_id=charge_point_pk,
                    connector_id=connector_pk,
                    transaction_id=transaction_pk,
                    timestamp=timestamp,
                    value=str(sampled["value"]),
                    numeric_value=_numeric(str(sampled["value"]), fields["format"]),
                    phase=sampled.get("phase") or "",
                    **fields,
                )
            )
    return rows


@transaction.atomic
def metervalues_record(
    *,
    charge_point_pk: int,
    connector_id: int,
    transaction_id: int | None,
    meter_values: list[dict],
) -> int:
    """Store every sampled value; an unknown transactionId is kept unlinked."""
    connector_key = connector_pk(charge_point_pk=charge_point_pk, connector_id=connector_id)
    transaction_pk = None
    if transaction_id is not None:
        transaction_pk = (
            Transaction.objects.filter(pk=transaction_id, charge_point_id=charge_point_pk)
            .values_list("pk", flat=True)
            .first()
        )
    rows = meter_values_build(
        charge_point_pk=charge_point_pk,
        connector_pk=connector_key,
        transaction_pk=transaction_pk,
        meter_values=meter_values,
    )
    # A retransmission repeats samples already stored: they are skipped.
    MeterValue.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def energy_register_wh(meter_value: MeterValue) -> Decimal | None:
    """A whole-meter Energy.Active.Import.Register reading in Wh (kWh normalised).

    Per-phase registers are not the session's energy: they are skipped.
    """
    if (
        meter_value.measurand != ENERGY_REGISTER
        or meter_value.numeric_value is None
        or meter_value.phase
    ):
        return None
    if meter_value.unit == "kWh":
        return meter_value.numeric_value * 1000
    if meter_value.unit == "Wh":
        return meter_value.numeric_value
    return None
