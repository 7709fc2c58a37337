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


def metervalues_record_many(writes: list[dict]) -> list[int]:
    """Store the MeterValues of many charge points with one lookup and one INSERT.

    Each item holds the keyword arguments of `metervalues_record`; the result
    is the number of sampled values of each.
    """
    wanted = {w["transaction_id"] for w in writes if w["transaction_id"] is not None}
    owners = dict(
        Transaction.objects.filter(pk__in=wanted).values_list("pk", "charge_point_id")
        if wanted
        else ()
    )
    rows: list[MeterValue] = []
    counts = []
    for write in writes:
        charge_point_pk, transaction_id = write["charge_point_pk"], write["transaction_id"]
        built = meter_values_build(
            charge_point_pk=charge_point_pk,
            connector_pk=connector_pk(
                charge_point_pk=charge_point_pk, connector_id=write["connector_id"]
            ),
            # An unknown transactionId, or another charge point's, is kept unlinked.
            transaction_pk=transaction_id
            if owners.get(transaction_id) == charge_point_pk
            else None,
            meter_values=write["meter_values"],
        )
        rows.extend(built)
        counts.append(len(built))
    # A retransmission repeats samples already stored: they are skipped.
    MeterValue.objects.bulk_create(rows, ignore_conflicts=True)
    return counts


@transaction.atomic
def metervalues_record(
    *,
    charge_point_pk: int,
    connector_id: int,
    transaction_id: int | None,
    meter_values: list[dict],
) -> int:
    """Store every sampled value; an unknown transactionId is kept unlinked."""
    return metervalues_record_many(
        [
            dict(
                charge_point_pk=charge_point_pk,
                connector_id=connector_id,
                transaction_id=transaction_id,
                meter_values=meter_values,
            )
        ]
    )[0]


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
