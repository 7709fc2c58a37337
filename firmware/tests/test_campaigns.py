"""A campaign over a mixed 1.6 / 2.0.1 fleet on real consumer sockets.

The advance task runs as beat runs it (in a thread, sending through the
command path); the stations answer UpdateFirmware and report their firmware
status as chargers do, and the campaign follows what they stored.
"""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse
from django.utils import timezone

from drivers.models import IdTag
from firmware import selectors, services
from firmware.choices import CampaignStatus
from firmware.models import Campaign, CampaignTarget
from firmware.tasks import advance_campaigns
from ocpp_consumer.tests.conftest import assert_call_result
from ocpp_consumer.tests.v201.station import station_201
from stations.models import ChargePoint
from stations.services import chargepoint_create

pytestmark = pytest.mark.django_db(transaction=True)

FLEET = [("A16", "1.6"), ("C16", "1.6"), ("B201", "2.0.1"), ("D201", "2.0.1"), ("E16", "1.6")]
FLEET += [("F201", "2.0.1")]


def in_thread(func):
    """Run as a worker runs a task: in a thread, its commands on this event loop."""
    return sync_to_async(func, thread_sensitive=False)


async def fleet(charge_point_socket) -> dict:
    sockets = {}
    for charge_point_id, version in FLEET:
        if version == "1.6":
            sockets[charge_point_id] = await charge_point_socket(charge_point_id)
        else:
            sockets[charge_point_id] = await station_201(charge_point_socket, charge_point_id)
    return sockets


async def answer_update(socket, *, version: str, target_pk: int, image) -> None:
    """Check the exact UpdateFirmware of the charge point's version and accept it."""
    frame = await socket.next_frame()
    assert frame[2] == "UpdateFirmware", frame
    payload = frame[3]
    if version == "1.6":
        assert set(payload) == {"location", "retrieveDate"}
        location = payload["location"]
        await socket.send_json_to([3, frame[1], {}])
    else:
        assert payload["requestId"] == target_pk
        firmware = payload["firmware"]
        assert firmware["signingCertificate"] == image.signing_certificate
        assert firmware["signature"] == image.signature
        assert set(firmware) == {"location", "retrieveDateTime", "signingCertificate", "signature"}
        location = firmware["location"]
        await socket.send_json_to([3, frame[1], {"status": "Accepted"}])
    assert location.startswith("http://127.0.0.1:8000/files/firmware/")
    assert location.endswith("/wallbox-2.0.bin")


async def report(socket, status: str, request_id: int | None = None) -> None:
    payload = (
        {"status": status} if request_id is None else {"status": status, "requestId": request_id}
    )
    frame = await socket.call("FirmwareStatusNotification", payload, f"fw-{status}")
    assert_call_result(frame, f"fw-{status}")


async def states() -> dict[str, str]:
    return {
        t.charge_point.charge_point_id: t.state
        async for t in CampaignTarget.objects.select_related("charge_point")
    }


async def test_a_campaign_rolls_out_in_waves_to_idle_charge_points(
    charge_point_socket, image, admin_client
):
    sockets = await fleet(charge_point_socket)
    await IdTag.objects.acreate(id_tag="TAG1")
    start = {
        "connectorId": 1,
        "idTag": "TAG1",
        "meterStart": 0,
        "timestamp": "2026-12-06T10:00:00Z",
    }
    started = assert_call_result(await sockets["C16"].call("StartTransaction", start, "s1"), "s1")
    assert started["idTagInfo"]["status"] == "Accepted"  # C16 is charging: not idle

    pks = {cp.charge_point_id: cp.pk async for cp in ChargePoint.objects.all()}
    campaign = await sync_to_async(services.campaign_create)(
        name="2.0 rollout", image_pk=image.pk, charge_point_pks=[pks[cp] for cp, _ in FLEET]
    )
    targets = {t.charge_point_id: t.pk async for t in CampaignTarget.objects.all()}
    target = {cp: targets[pks[cp]] for cp, _ in FLEET}
    version = dict(FLEET)

    # Wave 1: two places; C16 is charging, so A16 and B201.
    task = asyncio.ensure_future(in_thread(advance_campaigns)())
    for cp in ("A16", "B201"):
        await answer_update(sockets[cp], version=version[cp], target_pk=target[cp], image=image)
    assert await task == 2
    assert (await states())["A16"] == (await states())["B201"] == "sent"

    # The wave is full: another run sends nothing.
    assert await in_thread(advance_campaigns)() == 0
    for cp in ("C16", "D201", "E16", "F201"):
        assert await sockets[cp].receive_nothing()

    await report(sockets["A16"], "Downloaded")
    await report(sockets["A16"], "Installing")
    await report(sockets["B201"], "Downloading", target["B201"])
    await report(sockets["B201"], "DownloadFailed", target["B201"])

    # Paused: followed, but no new wave.
    await sync_to_async(services.campaign_pause)(campaign_pk=campaign.pk)
    assert await in_thread(advance_campaigns)() == 0
    assert (await states())["A16"] == "installing"
    assert (await states())["B201"] == "failed"
    assert await sockets["D201"].receive_nothing()

    await report(sockets["A16"], "Installed")
    await sync_to_async(services.campaign_resume)(campaign_pk=campaign.pk)
    task = asyncio.ensure_future(in_thread(advance_campaigns)())
    for cp in ("D201", "E16"):
        await answer_update(sockets[cp], version=version[cp], target_pk=target[cp], image=image)
    assert await task == 2
    assert (await states())["A16"] == "installed"
    assert await sockets["C16"].receive_nothing()  # still charging

    await report(sockets["D201"], "Downloaded", target["D201"])
    await report(sockets["D201"], "Installed", target["D201"])
    await report(sockets["E16"], "Downloaded")
    await report(sockets["E16"], "InstallationFailed")
    # Wave 3 goes to F201 (C16 still charging).
    task = asyncio.ensure_future(in_thread(advance_campaigns)())
    await answer_update(sockets["F201"], version="2.0.1", target_pk=target["F201"], image=image)
    assert await task == 1

    # Abort: C16, never idle, is skipped; F201 was sent and is still followed.
    assert await sync_to_async(services.campaign_abort)(campaign_pk=campaign.pk)
    await report(sockets["F201"], "InvalidSignature", target["F201"])
    assert await in_thread(advance_campaigns)() == 0
    assert await sockets["C16"].receive_nothing()

    assert await states() == {
        "A16": "installed",
        "B201": "failed",
        "C16": "skipped",
        "D201": "installed",
        "E16": "failed",
        "F201": "failed",
    }
    progress = await sync_to_async(selectors.campaign_progress)(campaign_pk=campaign.pk)
    assert {k: v for k, v in progress.items() if v} == {"installed": 2, "failed": 3, "skipped": 1}
    assert (await Campaign.objects.aget()).status == CampaignStatus.ABORTED
    last = {
        t.charge_point.charge_point_id: t.last_status
        async for t in CampaignTarget.objects.select_related("charge_point")
    }
    assert last["E16"] == "InstallationFailed" and last["F201"] == "InvalidSignature"

    response = await in_thread(admin_client.post)(
        reverse("admin:firmware_campaign_changelist"),
        {"action": "campaign_report_csv", "_selected_action": [campaign.pk]},
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert sorted((r["charge_point"], r["ocpp_version"], r["state"]) for r in rows) == [
        ("A16", "1.6", "installed"),
        ("B201", "2.0.1", "failed"),
        ("C16", "1.6", "skipped"),
        ("D201", "2.0.1", "installed"),
        ("E16", "1.6", "failed"),
        ("F201", "2.0.1", "failed"),
    ]


def test_a_silent_charge_point_times_out_and_a_campaign_finishes(image):
    charge_point = chargepoint_create(charge_point_id="CP-SILENT")
    campaign = services.campaign_create(
        name="t", image_pk=image.pk, charge_point_pks=[charge_point.pk], target_timeout_minutes=30
    )
    target = campaign.targets.get()
    services.campaign_target_sent(target_pk=target.pk, accepted=True, detail="Accepted")
    services.campaign_refresh(campaign_pk=campaign.pk, now=timezone.now() + timedelta(minutes=10))
    target.refresh_from_db()
    assert target.state == "sent"
    services.campaign_refresh(campaign_pk=campaign.pk, now=timezone.now() + timedelta(minutes=31))
    target.refresh_from_db()
    assert (target.state, target.last_status) == ("failed", "timed out")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.FINISHED


def test_refused_sends_retry_then_fail(image):
    charge_point = chargepoint_create(charge_point_id="CP-NO")
    campaign = services.campaign_create(
        name="t", image_pk=image.pk, charge_point_pks=[charge_point.pk], max_attempts=2
    )
    target = campaign.targets.get()
    services.campaign_target_sent(target_pk=target.pk, accepted=False, detail="Rejected")
    target.refresh_from_db()
    assert (target.state, target.attempts) == ("pending", 1)
    services.campaign_target_sent(target_pk=target.pk, accepted=False, detail="Rejected")
    target.refresh_from_db()
    assert (target.state, target.attempts, target.last_status) == ("failed", 2, "Rejected")
