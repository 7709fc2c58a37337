"""Handlers for the CALLs a charge point sends: read the payload, call one
service, shape the CALLRESULT payload. No business rules here."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone
from ocpp.v16.enums import Action

from billing.services import transaction_start_priced
from monitoring.logging import message_id_var
from ocpp_consumer import commands
from ocpp_consumer.group_commit import committer
from ocpp_consumer.id_tag_info import id_tag_info
from ocpp_consumer.meter_samples import meter_samples_from_ocpp
from ocpp_consumer.presence import heartbeat_record
from ocpp_consumer.quotas import count_quota_hit
from ocpp_consumer.remote_authorization import idtag_refresh_before_deciding
from ocpp_consumer.storable import storable_text
from stations import services
from stations.models import ChargePoint
from stations.services import certificates, registration
from stations.timestamps import format_ocpp_datetime, parse_ocpp_datetime

logger = logging.getLogger(__name__)


@dataclass
class Session:
    """What a handler knows about the connection it serves."""

    charge_point: ChargePoint
    channel_name: str = ""
    ocpp_version: str = "1.6"
    heartbeat_written: datetime | None = None
    # Work to start once the current CALL has been answered (e.g. a command
    # that follows from it): coroutine functions taking no arguments.
    after_answer: list = field(default_factory=list)


Handler = Callable[[Session, dict], Awaitable[dict]]
HANDLERS: dict[str, Handler] = {}


def handles(action: Action) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[action.value] = handler
        return handler

    return register


@handles(Action.boot_notification)
async def boot_notification(session: Session, payload: dict) -> dict:
    info = services.BootInfo(
        vendor=payload["chargePointVendor"],
        model=payload["chargePointModel"],
        charge_point_serial_number=payload.get("chargePointSerialNumber", ""),
        charge_box_serial_number=payload.get("chargeBoxSerialNumber", ""),
        firmware_version=payload.get("firmwareVersion", ""),
        iccid=payload.get("iccid", ""),
        imsi=payload.get("imsi", ""),
        meter_type=payload.get("meterType", ""),
        meter_serial_number=payload.get("meterSerialNumber", ""),
    )
    charge_point = await database_sync_to_async(services.chargepoint_boot)(
        charge_point=session.charge_point, info=info
    )
    session.charge_point = charge_point
    return {
        "status": services.chargepoint_registration_answer(charge_point=charge_point),
        "currentTime": format_ocpp_datetime(timezone.now()),
        "interval": services.chargepoint_heartbeat_interval(charge_point=charge_point),
    }


@handles(Action.heartbeat)
async def heartbeat(session: Session, payload: dict) -> dict:
    """Answer at once; record the heartbeat only when the last record is old.

    A heartbeat's write was four fifths of its cost; last_heartbeat stays
    within OCPP_HEARTBEAT_WRITE_INTERVAL (and half an interval) of the truth,
    well inside the sweep's timeout of several intervals.
    """
    now = timezone.now()
    interval = services.chargepoint_heartbeat_interval(charge_point=session.charge_point)
    every = min(settings.OCPP_HEARTBEAT_WRITE_INTERVAL, interval / 2)
    if (
        session.heartbeat_written is None
        or (now - session.heartbeat_written).total_seconds() >= every
    ):
        now = await heartbeat_record(
            charge_point_pk=session.charge_point.pk, channel_name=session.channel_name
        )
        session.heartbeat_written = now
    return {"currentTime": format_ocpp_datetime(now)}


@handles(Action.authorize)
async def authorize(session: Session, payload: dict) -> dict:
    await idtag_refresh_before_deciding(
        charge_point_pk=session.charge_point.pk, id_tag=payload["idTag"]
    )
    # Read from the database, not the session: an operator's decision counts at once.
    authorization = await database_sync_to_async(registration.idtag_authorize_at)(
        charge_point_pk=session.charge_point.pk, id_tag=payload["idTag"]
    )
    return {"idTagInfo": id_tag_info(authorization)}


@handles(Action.start_transaction)
async def start_transaction(session: Session, payload: dict) -> dict:
    await idtag_refresh_before_deciding(
        charge_point_pk=session.charge_point.pk, id_tag=payload["idTag"]
    )
    started, authorization = await committer.write(
        transaction_start_priced,
        charge_point_pk=session.charge_point.pk,
        connector_id=payload["connectorId"],
        id_tag=payload["idTag"],
        meter_start=payload["meterStart"],
        timestamp=parse_ocpp_datetime(payload["timestamp"]),
        reservation_id=payload.get("reservationId"),
    )
    return {"transactionId": started.pk, "idTagInfo": id_tag_info(authorization)}


@handles(Action.stop_transaction)
async def stop_transaction(session: Session, payload: dict) -> dict:
    _, authorization = await committer.write(
        services.transaction_stop,
        charge_point_pk=session.charge_point.pk,
        transaction_id=payload["transactionId"],
        meter_stop=payload["meterStop"],
        timestamp=parse_ocpp_datetime(payload["timestamp"]),
        reason=payload.get("reason"),
        id_tag=payload.get("idTag"),
        samples=meter_samples_from_ocpp(payload.get("transactionData")),
    )
    return {"idTagInfo": id_tag_info(authorization)} if authorization else {}


@handles(Action.meter_values)
async def meter_values(session: Session, payload: dict) -> dict:
    await committer.write_grouped(
        services.metervalues_record_many,
        charge_point_pk=session.charge_point.pk,
        connector_id=payload["connectorId"],
        transaction_id=payload.get("transactionId"),
        samples=meter_samples_from_ocpp(payload["meterValue"]),
    )
    return {}


@handles(Action.status_notification)
async def status_notification(session: Session, payload: dict) -> dict:
    timestamp = payload.get("timestamp")
    await committer.write(
        services.connector_status_update,
        charge_point_pk=session.charge_point.pk,
        connector_id=payload["connectorId"],
        status=payload["status"],
        error_code=payload["errorCode"],
        info=payload.get("info", ""),
        vendor_id=payload.get("vendorId", ""),
        vendor_error_code=payload.get("vendorErrorCode", ""),
        timestamp=parse_ocpp_datetime(timestamp) if timestamp else None,
    )
    return {}


@handles(Action.data_transfer)
async def data_transfer(session: Session, payload: dict) -> dict:
    """Answered in every case; over a limit (quotas) as Rejected, and counted."""
    status, data = await database_sync_to_async(services.datatransfer_receive)(
        charge_point_pk=session.charge_point.pk,
        vendor_id=payload["vendorId"],
        message_id=payload.get("messageId"),
        data=payload.get("data"),
        # The consumer binds the CALL's uniqueId: it links record and journal
        # (as the journal stores it: a NUL, legal in JSON, cannot be stored).
        unique_id=storable_text(message_id_var.get() or ""),
        on_limit=count_quota_hit,
    )
    return {"status": status, "data": data} if data is not None else {"status": status}


@handles(Action.firmware_status_notification)
async def firmware_status_notification(session: Session, payload: dict) -> dict:
    await database_sync_to_async(services.chargepoint_firmware_status)(
        charge_point_pk=session.charge_point.pk, status=payload["status"]
    )
    return {}


@handles(Action.diagnostics_status_notification)
async def diagnostics_status_notification(session: Session, payload: dict) -> dict:
    await database_sync_to_async(services.chargepoint_diagnostics_status)(
        charge_point_pk=session.charge_point.pk, status=payload["status"]
    )
    return {}


@handles(Action.security_event_notification)
async def security_event_notification(session: Session, payload: dict) -> dict:
    await database_sync_to_async(services.security_event_record)(
        event_type=payload["type"],
        origin="charge_point",
        charge_point_pk=session.charge_point.pk,
        tech_info=payload.get("techInfo", ""),
        timestamp=parse_ocpp_datetime(payload["timestamp"]),
    )
    return {}


@handles(Action.log_status_notification)
async def log_status_notification(session: Session, payload: dict) -> dict:
    await database_sync_to_async(services.chargepoint_log_status)(
        charge_point_pk=session.charge_point.pk, status=payload["status"]
    )
    return {}


@handles(Action.signed_firmware_status_notification)
async def signed_firmware_status_notification(session: Session, payload: dict) -> dict:
    await database_sync_to_async(services.chargepoint_firmware_status)(
        charge_point_pk=session.charge_point.pk, status=payload["status"]
    )
    return {}


@handles(Action.sign_certificate)
async def sign_certificate(session: Session, payload: dict) -> dict:
    """Accept a good CSR at once; the signed chain follows as CertificateSigned."""
    charge_point_id = session.charge_point.charge_point_id
    try:
        certificates.certificate_request_check(
            csr_pem=payload["csr"], charge_point_id=charge_point_id
        )
    except certificates.CertificateRequestRefused as exc:
        logger.warning("SignCertificate from %s rejected: %s", charge_point_id, exc)
        return {"status": "Rejected"}

    async def send_signed_certificate():
        chain = await sync_to_async(certificates.certificate_sign, thread_sensitive=False)(
            csr_pem=payload["csr"], charge_point_id=charge_point_id
        )
        await commands.command_send(
            charge_point_id=charge_point_id,
            action="CertificateSigned",
            payload={"certificateChain": chain},
            source="system",
        )

    session.after_answer.append(send_signed_certificate)
    return {"status": "Accepted"}
