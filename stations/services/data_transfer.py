"""DataTransfer from charge points, and the registry of vendor handlers.

A vendor extension registers a handler for its vendorId:

    @data_transfer_handler("com.example")
    def handle(*, charge_point_pk, message_id, data):
        return "Accepted", "reply data or None"

Without a handler for the vendorId the answer is UnknownVendorId; a handler
that does not know the messageId returns "UnknownMessageId".
"""

from __future__ import annotations

from collections.abc import Callable

from ..models import DataTransferRecord

DataTransferHandler = Callable[..., tuple[str, str | None]]

_handlers: dict[str, DataTransferHandler] = {}


def data_transfer_handler(vendor_id: str) -> Callable[[DataTransferHandler], DataTransferHandler]:
    def register(handler: DataTransferHandler) -> DataTransferHandler:
        _handlers[vendor_id] = handler
        return handler

    return register


def data_transfer_unregister(vendor_id: str) -> None:
    _handlers.pop(vendor_id, None)


def datatransfer_receive(
    *, charge_point_pk: int, vendor_id: str, message_id: str | None, data: str | None
) -> tuple[str, str | None]:
    """Store the message and answer it with its vendor's handler."""
    handler = _handlers.get(vendor_id)
    if handler is None:
        status, reply = "UnknownVendorId", None
    else:
        status, reply = handler(charge_point_pk=charge_point_pk, message_id=message_id, data=data)
    DataTransferRecord.objects.create(
        charge_point_id=charge_point_pk,
        vendor_id=vendor_id,
        message_id=message_id or "",
        data=data or "",
        response_status=status,
        response_data=reply or "",
    )
    return status, reply
