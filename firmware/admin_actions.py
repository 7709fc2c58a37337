"""File commands for the charge point console: update firmware, fetch diagnostics or logs.

Mixed into the charge point admin's actions (stations.admin.charge_points);
sent through the one command path like every other console command.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from ocpp_consumer.admin import report_outcome, send_each

from . import services
from .sending import adhoc_request_id, update_firmware_call, upload_request_call


def _request_base(request) -> str:
    return request.build_absolute_uri("/")


@admin.action(description=_("Update firmware (newest fitting image)"), permissions=["change"])
def update_firmware_latest(modeladmin, request, queryset):
    """Send each charge point the newest image fitting its vendor and model, by signed link."""
    jobs = []
    for charge_point in queryset:
        image = services.firmware_image_for(vendor=charge_point.vendor, model=charge_point.model)
        if image is None:
            messages.warning(request, f"{charge_point.charge_point_id}: {_('no fitting image')}")
            continue
        action, payload = update_firmware_call(
            charge_point=charge_point,
            image=image,
            request_id=adhoc_request_id(),
            request_base=_request_base(request),
        )
        jobs.append((charge_point.charge_point_id, action, payload))
    for charge_point_id, outcome in async_to_sync(send_each)(jobs, request.user.pk):
        report_outcome(request, charge_point_id, outcome)


@admin.action(description=_("Get diagnostics / log (upload here)"), permissions=["change"])
def request_diagnostics_upload(modeladmin, request, queryset):
    """GetDiagnostics (1.6) or GetLog (2.0.1) to a fresh upload URL (files: Uploaded files)."""
    jobs = [
        (
            cp.charge_point_id,
            *upload_request_call(charge_point=cp, request_base=_request_base(request)),
        )
        for cp in queryset
    ]
    for charge_point_id, outcome in async_to_sync(send_each)(jobs, request.user.pk):
        report_outcome(request, charge_point_id, outcome)


CHARGE_POINT_FILE_ACTIONS = [update_firmware_latest, request_diagnostics_upload]
