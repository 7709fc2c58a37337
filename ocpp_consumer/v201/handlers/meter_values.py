"""OCPP 2.0.1 MeterValues: readings outside a transaction, stored against the EVSE."""

from __future__ import annotations

from ocpp.v201.enums import Action

from stations import services

from ... import errors
from ...group_commit import committer
from ...handlers import Session
from ..meter_samples import meter_samples_from_ocpp201
from ..registry import handles


@handles(Action.meter_values)
async def meter_values(session: Session, payload: dict) -> dict:
    """Store every sample like a 1.6 MeterValues without transactionId (evseId 0: the main meter).

    A 2.0.1 session's readings come in its TransactionEvents instead.
    """
    if payload["evseId"] < 0:
        raise errors.PropertyConstraintViolationError("evseId: must not be negative")
    await committer.write_grouped(
        services.metervalues_record_many,
        charge_point_pk=session.charge_point.pk,
        connector_id=payload["evseId"],
        transaction_id=None,
        samples=meter_samples_from_ocpp201(payload["meterValue"]),
    )
    return {}
