"""Firmware campaigns: waves of UpdateFirmware over a fleet, followed by status.

The domain part: which charge points go next, and what their reported
firmware status means. Sending is the caller's (firmware.tasks, through the
command path). Progress is read from what the charge point stored through
stations.services.chargepoint_firmware_status (both OCPP versions) and from
the firmware version it boots with, so no message is lost between processes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from stations.choices import SessionStatus
from stations.models import Transaction

from ..choices import FINAL, FIRMWARE_STATUS_STATES, IN_FLIGHT, CampaignStatus, TargetState
from ..models import Campaign, CampaignTarget


@transaction.atomic
def campaign_create(
    *,
    name: str,
    image_pk: int,
    charge_point_pks: list[int],
    max_parallel: int = 2,
    max_attempts: int = 3,
    target_timeout_minutes: int = 120,
    created_by_pk: int | None = None,
) -> Campaign:
    campaign = Campaign(
        name=name,
        image_id=image_pk,
        max_parallel=max_parallel,
        max_attempts=max_attempts,
        target_timeout_minutes=target_timeout_minutes,
        created_by_id=created_by_pk,
    )
    campaign.full_clean()
    campaign.save()
    CampaignTarget.objects.bulk_create(
        CampaignTarget(campaign=campaign, charge_point_id=pk)
        for pk in dict.fromkeys(charge_point_pks)
    )
    return campaign


def campaign_pause(*, campaign_pk: int) -> bool:
    """Send no new wave; charge points already updating go on and are followed."""
    return bool(
        Campaign.objects.filter(pk=campaign_pk, status=CampaignStatus.RUNNING).update(
            status=CampaignStatus.PAUSED
        )
    )


def campaign_resume(*, campaign_pk: int) -> bool:
    return bool(
        Campaign.objects.filter(pk=campaign_pk, status=CampaignStatus.PAUSED).update(
            status=CampaignStatus.RUNNING
        )
    )


@transaction.atomic
def campaign_abort(*, campaign_pk: int) -> bool:
    """Skip every pending target; those already sent cannot be recalled and are still followed."""
    changed = Campaign.objects.filter(
        pk=campaign_pk, status__in=[CampaignStatus.RUNNING, CampaignStatus.PAUSED]
    ).update(status=CampaignStatus.ABORTED, finished_at=timezone.now())
    if changed:
        CampaignTarget.objects.filter(campaign_id=campaign_pk, state=TargetState.PENDING).update(
            state=TargetState.SKIPPED, last_status="aborted"
        )
    return bool(changed)


def campaign_refresh(*, campaign_pk: int, now: datetime | None = None) -> None:
    """Move in-flight targets by what their charge points reported; time out the silent ones."""
    now = now or timezone.now()
    campaign = Campaign.objects.select_related("image").get(pk=campaign_pk)
    timeout = timedelta(minutes=campaign.target_timeout_minutes)
    targets = CampaignTarget.objects.filter(campaign=campaign, state__in=IN_FLIGHT).select_related(
        "charge_point"
    )
    for target in targets:
        charge_point = target.charge_point
        status_at = charge_point.firmware_status_at
        if status_at and target.sent_at and status_at >= target.sent_at:
            state = FIRMWARE_STATUS_STATES.get(charge_point.firmware_status)
            if charge_point.firmware_status != target.last_status or (
                state and state != target.state
            ):
                target.last_status = charge_point.firmware_status
                target.progressed_at = status_at
                target.state = state or target.state
        # A charger that rebooted into the image is installed, status or not.
        if (
            target.state == TargetState.INSTALLING
            and charge_point.firmware_version == campaign.image.version
        ):
            target.state = TargetState.INSTALLED
        if target.state in IN_FLIGHT and (target.progressed_at or target.sent_at) + timeout < now:
            target.state, target.last_status = TargetState.FAILED, "timed out"
        target.save(update_fields=["state", "last_status", "progressed_at"])
    _finish_if_done(campaign=campaign, now=now)


def _finish_if_done(*, campaign: Campaign, now: datetime) -> None:
    if campaign.status == CampaignStatus.RUNNING and not (
        CampaignTarget.objects.filter(campaign=campaign).exclude(state__in=FINAL).exists()
    ):
        Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.RUNNING).update(
            status=CampaignStatus.FINISHED, finished_at=now
        )


def campaign_wave(*, campaign_pk: int) -> list[CampaignTarget]:
    """The pending targets to send now: free places in the wave, online and idle charge points."""
    campaign = Campaign.objects.get(pk=campaign_pk)
    if campaign.status != CampaignStatus.RUNNING:
        return []
    busy = CampaignTarget.objects.filter(campaign=campaign, state__in=IN_FLIGHT).count()
    free = campaign.max_parallel - busy
    if free <= 0:
        return []
    charging = Transaction.objects.filter(status=SessionStatus.RUNNING).values("charge_point_id")
    return list(
        CampaignTarget.objects.filter(
            campaign=campaign, state=TargetState.PENDING, charge_point__is_online=True
        )
        .exclude(charge_point_id__in=charging)
        .select_related("charge_point", "campaign__image")
        .order_by("attempts", "pk")[:free]
    )


def campaign_target_sent(
    *, target_pk: int, accepted: bool, detail: str = "", now: datetime | None = None
) -> CampaignTarget:
    """Record a send: accepted waits for status; refused or undelivered retries, then fails."""
    now = now or timezone.now()
    target = CampaignTarget.objects.select_related("campaign").get(pk=target_pk)
    target.attempts += 1
    target.last_status = detail[:64]
    if accepted:
        target.state, target.sent_at, target.progressed_at = TargetState.SENT, now, None
    elif target.attempts >= target.campaign.max_attempts:
        target.state = TargetState.FAILED
    target.save(update_fields=["attempts", "last_status", "state", "sent_at", "progressed_at"])
    return target
