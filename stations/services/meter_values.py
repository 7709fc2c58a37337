from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.db import transaction

from ..models import MeterValue, Transaction
from .charge_points import connector_pk

ENERGY_REGISTER = "Energy.Active.Import.Register"

_NUMERIC_LIMIT = Decimal("1e17")
_SIX_PLACES = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class MeterSample:
    """One measured quantity at one instant, as a MeterValue row stores it.

    Protocol adapters fill in their protocol's defaults before building one,
    so every field is the exact string to store.
    """

    timestamp: datetime
    value: str
    measurand: str
    unit: str
    context: str
    location: str
    value_format: str
    phase: str = ""

    def as_json(self) -> dict:
        """Give the sample as plain JSON, for records that keep it aside instead of as a row."""
        return {
            "timestamp": self.timestamp.isoformat(),
            "value": self.value,
            "measurand": self.measurand,
            "unit": self.unit,
            "context": self.context,
            "location": self.location,
            "format": self.value_format,
            "phase": self.phase,
        }


def _numeric(value: str, value_format: str) -> Decimal | None:
    if value_format != "Raw":
        return None
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        return None
    if not number.is_finite() or abs(number) >= _NUMERIC_LIMIT:
        return None
    return number.quantize(_SIX_PLACES)


def meter_values_build(
    *,
    charge_point_pk: int,
    connector_pk: int,
    transaction_pk: int | None,
    samples: Sequence[MeterSample],
) -> list[MeterValue]:
    """Turn samples into unsaved rows, with the number read from a raw value."""
    return [
        MeterValue(
            charge_point_id=charge_point_pk,
            connector_id=connector_pk,
            transaction_id=transaction_pk,
            timestamp=sample.timestamp,
            value=sample.value,
            numeric_value=_numeric(sample.value, sample.value_format),
            measurand=sample.measurand,
            unit=sample.unit,
            context=sample.context,
            location=sample.location,
            format=sample.value_format,
            phase=sample.phase,
        )
        for sample in samples
    ]


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
            # An unknown transaction id, or another charge point's, is kept unlinked.
            transaction_pk=transaction_id
            if owners.get(transaction_id) == charge_point_pk
            else None,
            samples=write["samples"],
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
    samples: Sequence[MeterSample],
) -> int:
    """Store every sample; with an unknown transaction id they are kept unlinked."""
    return metervalues_record_many(
        [
            dict(
                charge_point_pk=charge_point_pk,
                connector_id=connector_id,
                transaction_id=transaction_id,
                samples=samples,
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
    return register_wh(meter_value.numeric_value, meter_value.unit)


def register_wh(value: Decimal, unit: str) -> Decimal | None:
    """A register reading in Wh: kWh normalised, other units not energy."""
    if unit == "kWh":
        return value * 1000
    if unit == "Wh":
        return value
    return None
