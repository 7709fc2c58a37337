"""Console: file commands on charge points, campaign pages, downloads of received files."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from asgiref.sync import sync_to_async
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from firmware import services
from firmware.choices import UploadKind
from firmware.models import Campaign, FirmwareImage, UploadedFile, UploadSlot
from ocpp_consumer.tests.v201.station import station_201
from stations.models import ChargePoint
from stations.services import chargepoint_create

pytestmark = pytest.mark.django_db(transaction=True)


def in_thread(func):
    return sync_to_async(func, thread_sensitive=False)


def texts(response):
    return sorted(str(m) for m in get_messages(response.wsgi_request))


async def test_update_firmware_sends_the_fitting_image_by_signed_link(
    admin_client, charge_point_socket, image
):
    v16 = await charge_point_socket("CP-16")  # boots as ACME: the image fits
    selected = [cp.pk async for cp in ChargePoint.objects.all()]
    posting = asyncio.ensure_future(
        in_thread(admin_client.post)(
            reverse("admin:stations_chargepoint_changelist"),
            {"action": "update_firmware_latest", "_selected_action": selected},
        )
    )
    frame = await v16.next_frame()
    assert frame[2] == "UpdateFirmware"
    location = frame[3]["location"]
    assert location.startswith("http://testserver/files/firmware/")
    await v16.send_json_to([3, frame[1], {}])
    response = await posting
    assert texts(response) == ["CP-16: UpdateFirmware: {}"]
    download = await in_thread(admin_client.get)(location.removeprefix("http://testserver"))
    assert download.status_code == 200


async def test_get_diagnostics_and_log_point_at_fresh_upload_slots(
    admin_client, client, charge_point_socket
):
    v16 = await charge_point_socket("CP-16")
    v201 = await station_201(charge_point_socket, "CP-201")
    selected = [cp.pk async for cp in ChargePoint.objects.all()]
    posting = asyncio.ensure_future(
        in_thread(admin_client.post)(
            reverse("admin:stations_chargepoint_changelist"),
            {"action": "request_diagnostics_upload", "_selected_action": selected},
        )
    )
    frame_16, frame_201 = await v16.next_frame(), await v201.next_frame()
    assert frame_16[2] == "GetDiagnostics" and set(frame_16[3]) == {"location"}
    assert frame_201[2] == "GetLog"
    slot = await UploadSlot.objects.aget(kind=UploadKind.LOG)
    assert frame_201[3]["logType"] == "DiagnosticsLog"
    assert frame_201[3]["requestId"] == slot.request_id == slot.pk
    await v16.send_json_to([3, frame_16[1], {"fileName": "diag.zip"}])
    await v201.send_json_to([3, frame_201[1], {"status": "Accepted", "filename": "log.txt"}])
    assert len(texts(await posting)) == 2

    location = frame_201[3]["log"]["remoteLocation"].removeprefix("http://testserver")
    put = await in_thread(client.put)(location + "log.txt", data=b"log", content_type="text/plain")
    assert put.status_code == 201
    upload = await UploadedFile.objects.select_related("charge_point").aget()
    assert upload.charge_point.charge_point_id == "CP-201"


def test_staff_download_received_files_and_strangers_do_not(admin_client, client):
    charge_point = chargepoint_create(charge_point_id="CP-UP")
    _, token = services.upload_slot_create(charge_point_pk=charge_point.pk, kind="diagnostics")
    path = services.upload_url(token=token).removeprefix("http://127.0.0.1:8000")
    client.put(path + "diag.zip", data=b"zipped", content_type="application/zip")
    upload = UploadedFile.objects.get()
    url = reverse("admin:firmware_uploadedfile_download", args=[upload.pk])
    response = admin_client.get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"zipped"
    assert client.get(url).status_code == 302  # to the login page
    changelist = admin_client.get(
        reverse("admin:firmware_uploadedfile_changelist")
        + f"?charge_point__id__exact={charge_point.pk}"
    )
    assert changelist.status_code == 200 and "diag.zip" in changelist.content.decode()


def test_a_campaign_is_created_with_its_charge_points_and_shows_progress(admin_client, image):
    pks = [chargepoint_create(charge_point_id=f"CP-{n}").pk for n in range(3)]
    response = admin_client.post(
        reverse("admin:firmware_campaign_add"),
        {
            "name": "rollout",
            "image": image.pk,
            "charge_points": pks,
            "max_parallel": 2,
            "max_attempts": 3,
            "target_timeout_minutes": 60,
        },
    )
    assert response.status_code == 302, (
        response.context and response.context["adminform"].form.errors
    )
    campaign = Campaign.objects.get()
    assert sorted(campaign.targets.values_list("charge_point_id", flat=True)) == sorted(pks)
    page = admin_client.get(reverse("admin:firmware_campaign_change", args=[campaign.pk]))
    assert page.status_code == 200 and "pending: 3" in page.content.decode()
    admin_client.post(
        reverse("admin:firmware_campaign_changelist"),
        {"action": "pause_campaigns", "_selected_action": [campaign.pk]},
    )
    campaign.refresh_from_db()
    assert campaign.status == "paused"
    assert admin_client.get(reverse("admin:firmware_firmwareimage_changelist")).status_code == 200


def test_an_image_uploaded_in_the_console_gets_its_checksums(admin_client):
    response = admin_client.post(
        reverse("admin:firmware_firmwareimage_add"),
        {
            "file": SimpleUploadedFile("fw-3.1.bin", b"firmware bytes"),
            "version": "3.1",
            "vendor": "ACME",
            "model": "",
            "signing_certificate": "",
            "signature": "",
            "notes": "",
        },
    )
    assert response.status_code == 302
    image = FirmwareImage.objects.get()
    assert image.sha256 == hashlib.sha256(b"firmware bytes").hexdigest()
    assert (image.size, image.uploaded_by.username) == (14, "admin")
