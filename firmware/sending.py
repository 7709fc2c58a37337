"""Build and send the file commands (UpdateFirmware, GetDiagnostics, GetLog) in either version.

The adapter between the files domain and the one command path
(ocpp_consumer.commands): the URL a charge point needs is filled in here,
the payload is the charge point's OCPP version's.
"""

from __future__ import annotations

import secrets

from django.utils import timezone

from ocpp_consumer import commands
from stations.models import ChargePoint

from . import services
from .choices import UploadKind
from .models import FirmwareImage

V201 = "2.0.1"


def _now_iso() -> str:
    return timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")


def update_firmware_call(
    *, charge_point: ChargePoint, image: FirmwareImage, request_id: int, request_base: str = ""
) -> tuple[str, dict]:
    """UpdateFirmware with a signed link to the image, as the charge point's version spells it."""
    location = services.firmware_link_url(image=image, request_base=request_base)
    if charge_point.ocpp_version != V201:
        return "UpdateFirmware", {"location": location, "retrieveDate": _now_iso()}
    firmware = {"location": location, "retrieveDateTime": _now_iso()}
    if image.signing_certificate:
        firmware["signingCertificate"] = image.signing_certificate
    if image.signature:
        firmware["signature"] = image.signature
    return "UpdateFirmware", {"requestId": request_id, "firmware": firmware}


def upload_request_call(*, charge_point: ChargePoint, request_base: str = "") -> tuple[str, dict]:
    """GetDiagnostics (1.6) or GetLog (2.0.1) to a fresh upload slot of the charge point."""
    v201 = charge_point.ocpp_version == V201
    slot, token = services.upload_slot_create(
        charge_point_pk=charge_point.pk, kind=UploadKind.LOG if v201 else UploadKind.DIAGNOSTICS
    )
    url = services.upload_url(token=token, request_base=request_base)
    if not v201:
        return "GetDiagnostics", {"location": url}
    slot.request_id = slot.pk
    slot.save(update_fields=["request_id"])
    return "GetLog", {
        "logType": "DiagnosticsLog",
        "requestId": slot.pk,
        "log": {"remoteLocation": url},
    }


def adhoc_request_id() -> int:
    """A 2.0.1 requestId for an UpdateFirmware outside campaigns (positive int32)."""
    return secrets.randbelow(2**31 - 1) + 1


def campaign_send_wave(*, campaign_pk: int, request_base: str = "") -> int:
    """Send UpdateFirmware to the next wave of a campaign; return how many were accepted."""
    accepted = 0
    for target in services.campaign_wave(campaign_pk=campaign_pk):
        action, payload = update_firmware_call(
            charge_point=target.charge_point,
            image=target.campaign.image,
            request_id=target.pk,
            request_base=request_base,
        )
        try:
            command = commands.command_send_sync(
                charge_point_id=target.charge_point.charge_point_id,
                action=action,
                payload=payload,
                source="system",
            )
        except commands.CommandError as exc:
            services.campaign_target_sent(target_pk=target.pk, accepted=False, detail=str(exc))
            continue
        status = (command.response or {}).get("status", "")
        # 1.6 UpdateFirmware answers an empty object: delivered means accepted.
        ok = command.status == "answered" and status in ("", "Accepted", "AcceptedCanceled")
        services.campaign_target_sent(
            target_pk=target.pk, accepted=ok, detail=status or command.status
        )
        accepted += ok
    return accepted
