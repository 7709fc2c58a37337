"""Display messages (SetDisplayMessage, NotifyDisplayMessages, ClearDisplayMessage) and
customer information (CustomerInformation, NotifyCustomerInformation) of a station."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from ..models import CustomerInformation, DisplayMessage

ACCEPTED = "Accepted"
# ClearDisplayMessage: the message is gone either way.
CLEARED_STATUSES = ("Accepted", "Unknown")


@dataclass(frozen=True)
class MessageInfo:
    """A display message in neutral terms (MessageInfoType)."""

    message_id: int
    priority: str
    format: str
    content: str
    language: str = ""
    state: str = ""
    start_at: datetime | None = None
    end_at: datetime | None = None
    transaction_id: str = ""
    display: dict | None = None


def _fields(info: MessageInfo) -> dict:
    fields = asdict(info)
    fields.pop("message_id")
    return fields


def display_message_set(*, charge_point_pk: int, info: MessageInfo, status: str) -> DisplayMessage:
    """Record the answer to SetDisplayMessage; the message is replaced only when accepted."""
    defaults = {"set_status": status}
    if status == ACCEPTED:
        defaults.update(_fields(info))
        message, _ = DisplayMessage.objects.update_or_create(
            charge_point_id=charge_point_pk, message_id=info.message_id, defaults=defaults
        )
        return message
    message = DisplayMessage.objects.filter(
        charge_point_id=charge_point_pk, message_id=info.message_id
    ).first()
    if message is None:  # refused and never shown: kept to show the operator why
        return DisplayMessage.objects.create(
            charge_point_id=charge_point_pk, message_id=info.message_id, **defaults, **_fields(info)
        )
    message.set_status = status
    message.save(update_fields=["set_status", "updated_at"])
    return message


@transaction.atomic
def display_messages_report(*, charge_point_pk: int, messages: Iterable[MessageInfo]) -> int:
    """Store the messages the station listed (NotifyDisplayMessages) as it shows them."""
    now = timezone.now()
    count = 0
    for info in messages:
        DisplayMessage.objects.update_or_create(
            charge_point_id=charge_point_pk,
            message_id=info.message_id,
            defaults={**_fields(info), "reported_at": now},
        )
        count += 1
    return count


def display_message_cleared(*, charge_point_pk: int, message_id: int, status: str) -> bool:
    """Forget a message the station cleared (or did not know)."""
    if status not in CLEARED_STATUSES:
        return False
    DisplayMessage.objects.filter(charge_point_id=charge_point_pk, message_id=message_id).delete()
    return True


@transaction.atomic
def customer_information_requested(
    *,
    charge_point_pk: int,
    request_id: int,
    report: bool,
    clear: bool,
    customer: str,
    status: str,
) -> CustomerInformation:
    """Record a CustomerInformation request and its answer (parts that overtook it are kept)."""
    record, _ = CustomerInformation.objects.select_for_update().get_or_create(
        charge_point_id=charge_point_pk, request_id=request_id
    )
    record.report, record.clear, record.customer, record.status = report, clear, customer, status
    record.save()
    return record


@transaction.atomic
def customer_information_part_record(
    *,
    charge_point_pk: int,
    request_id: int,
    seq_no: int,
    data: str,
    to_be_continued: bool,
    generated_at: datetime,
) -> CustomerInformation:
    """Store one part of NotifyCustomerInformation; the part without `to_be_continued` ends it."""
    record, _ = CustomerInformation.objects.select_for_update().get_or_create(
        charge_point_id=charge_point_pk, request_id=request_id
    )
    record.parts = {**record.parts, str(seq_no): data}
    record.generated_at = generated_at
    if not to_be_continued:
        record.complete = True
    record.save()
    return record
