"""Periodic work of the files app: campaign waves and upload retention."""

from __future__ import annotations

from celery import shared_task

from . import services
from .choices import IN_FLIGHT, CampaignStatus
from .models import Campaign
from .sending import campaign_send_wave


@shared_task(ignore_result=True)
def advance_campaigns() -> int:
    """Follow every live campaign and send its next wave (beat: every minute).

    Idempotent: a target leaves `pending` when sent, so a second run in the
    same minute finds no free place or nothing to send.
    """
    sent = 0
    live = Campaign.objects.filter(status__in=[CampaignStatus.RUNNING, CampaignStatus.PAUSED])
    followed = Campaign.objects.filter(
        status=CampaignStatus.ABORTED, targets__state__in=IN_FLIGHT
    ).distinct()
    for campaign_pk in {*live.values_list("pk", flat=True), *followed.values_list("pk", flat=True)}:
        services.campaign_refresh(campaign_pk=campaign_pk)
        sent += campaign_send_wave(campaign_pk=campaign_pk)
    return sent


@shared_task(ignore_result=True)
def purge_uploads() -> int:
    """Delete diagnostics and log files past FILES_UPLOAD_RETENTION_DAYS (beat: hourly)."""
    return services.uploads_purge()
