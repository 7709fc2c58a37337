from __future__ import annotations

import logging
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction

from stations.models import Transaction

from .models import Invoice, InvoiceLine, InvoiceSequence, Tariff
from .money import round_money
from .selectors import tariff_in_force

logger = logging.getLogger(__name__)


def invoice_number_next(*, year: int) -> str:
    """Take the next gap-free number of the year; call inside a transaction."""
    try:
        with transaction.atomic():
            InvoiceSequence.objects.create(year=year)
    except IntegrityError:
        pass
    sequence = InvoiceSequence.objects.select_for_update().get(year=year)
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    return f"{year}-{sequence.last_number:06d}"


def tariff_snapshot(tariff: Tariff) -> dict:
    return {
        "id": tariff.pk,
        "name": tariff.name,
        "currency": tariff.currency,
        "price_per_kwh": str(tariff.price_per_kwh),
        "vat_rate": str(tariff.vat_rate),
    }


@transaction.atomic
def invoice_create(*, transaction_id: int) -> Invoice | None:
    """Bill a finished transaction once; a second call returns the same invoice.

    Returns None for a session that is still open, has no applicable
    tariff, or (unless BILLING_INVOICE_ZERO_ENERGY) delivered no energy.
    """
    session = (
        Transaction.objects.select_for_update()
        .select_related("charge_point")
        .filter(pk=transaction_id)
        .first()
    )
    if session is None or session.is_open:
        return None
    existing = Invoice.objects.filter(transaction=session).first()
    if existing is not None:
        return existing
    energy_wh = session.energy_wh or 0
    if energy_wh <= 0 and not settings.BILLING_INVOICE_ZERO_ENERGY:
        logger.info("transaction %s delivered no energy: no invoice", session.pk)
        return None
    tariff = tariff_in_force(transaction=session)
    if tariff is None:
        logger.warning("transaction %s: no tariff applies, not invoiced", session.pk)
        return None

    energy_kwh = Decimal(energy_wh) / 1000
    net = round_money(energy_kwh * tariff.price_per_kwh, tariff.currency)
    vat = round_money(net * tariff.vat_rate / 100, tariff.currency)
    invoice = Invoice.objects.create(
        number=invoice_number_next(year=session.stop_timestamp.year),
        transaction=session,
        tariff=tariff,
        tariff_snapshot=tariff_snapshot(tariff),
        currency=tariff.currency,
        energy_wh=energy_wh,
        net_total=net,
        vat_total=vat,
        total=net + vat,
    )
    InvoiceLine.objects.create(
        invoice=invoice,
        component="energy",
        description=f"Energy {energy_kwh.normalize():f} kWh",
        quantity=energy_kwh,
        unit="kWh",
        unit_price=tariff.price_per_kwh,
        amount=net,
    )
    return invoice
