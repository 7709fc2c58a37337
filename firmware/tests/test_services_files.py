"""Images with checksums, signed download links, the upload endpoint and retention."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.utils import timezone

from firmware import services
from firmware.choices import UploadKind
from firmware.models import UploadedFile
from firmware.tasks import purge_uploads
from stations.services import chargepoint_create

from .conftest import IMAGE_BYTES

pytestmark = pytest.mark.django_db


def test_an_upload_gets_its_checksums(image):
    image.refresh_from_db()
    assert image.sha256 == hashlib.sha256(IMAGE_BYTES).hexdigest()
    assert image.md5 == hashlib.md5(IMAGE_BYTES).hexdigest()
    assert image.size == len(IMAGE_BYTES)
    assert image.filename == "wallbox-2.0.bin"


def test_the_newest_fitting_image_is_picked(image):
    other = services.firmware_image_create(
        file=ContentFile(b"x", name="other.bin"), version="9", vendor="OTHER"
    )
    assert services.firmware_image_for(vendor="ACME", model="Wallbox 22") == image
    assert services.firmware_image_for(vendor="OTHER", model="") == other
    assert services.firmware_image_for(vendor="NOBODY", model="") is None


def test_a_signed_link_downloads_the_image(client, image):
    url = services.firmware_link_url(image=image)
    assert url.startswith("http://127.0.0.1:8000/files/firmware/")
    response = client.get(url.removeprefix("http://127.0.0.1:8000"))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == IMAGE_BYTES
    assert response["X-Checksum-SHA256"] == image.sha256


def test_the_public_url_setting_names_the_host(settings, image):
    settings.CSMS_PUBLIC_URL = "https://csms.example.com/"
    assert services.firmware_link_url(image=image).startswith(
        "https://csms.example.com/files/firmware/"
    )


def test_an_expired_link_is_gone_and_a_forged_one_forbidden(client, image):
    expired = services.firmware_link_url(image=image, ttl_seconds=-1)
    assert client.get(expired.removeprefix("http://127.0.0.1:8000")).status_code == 410
    valid = services.firmware_link_url(image=image).removeprefix("http://127.0.0.1:8000")
    token = valid.split("/")[3]
    forged = valid.replace(token, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    assert client.get(forged).status_code == 403
    assert client.get(valid.replace("wallbox-2.0.bin", "other.bin")).status_code == 403


def slot_path(charge_point, **kwargs):
    _, token = services.upload_slot_create(
        charge_point_pk=charge_point.pk, kind=UploadKind.DIAGNOSTICS, **kwargs
    )
    return services.upload_url(token=token).removeprefix("http://127.0.0.1:8000"), token


def test_a_raw_put_is_stored_under_the_charge_point(client):
    charge_point = chargepoint_create(charge_point_id="CP-UP")
    path, _ = slot_path(charge_point)
    body = b"diagnostics log line\n" * 100
    response = client.put(path + "diag.zip", data=body, content_type="application/octet-stream")
    assert response.status_code == 201, response.content
    upload = UploadedFile.objects.get()
    assert (upload.charge_point, upload.kind, upload.original_name) == (
        charge_point,
        UploadKind.DIAGNOSTICS,
        "diag.zip",
    )
    assert upload.sha256 == hashlib.sha256(body).hexdigest() == response.json()["sha256"]
    with upload.file.open("rb") as handle:
        assert handle.read() == body


def test_a_multipart_post_and_put_are_accepted(client):
    charge_point = chargepoint_create(charge_point_id="CP-UP")
    path, _ = slot_path(charge_point)
    post = client.post(path, {"file": SimpleUploadedFile("log.txt", b"posted")})
    assert post.status_code == 201, post.content
    body = encode_multipart(BOUNDARY, {"file": SimpleUploadedFile("put.txt", b"put")})
    put = client.put(path, data=body, content_type=MULTIPART_CONTENT)
    assert put.status_code == 201, put.content
    assert sorted(UploadedFile.objects.values_list("original_name", flat=True)) == [
        "log.txt",
        "put.txt",
    ]


def test_uploads_without_a_valid_token_are_refused(client, settings):
    charge_point = chargepoint_create(charge_point_id="CP-UP")
    assert (
        client.put("/files/uploads/not-a-token/", data=b"x", content_type="text/plain").status_code
        == 403
    )
    expired, _ = slot_path(charge_point, ttl_seconds=-1)
    assert client.put(expired, data=b"x", content_type="text/plain").status_code == 410
    path, _ = slot_path(charge_point)
    for _ in range(3):
        assert client.put(path, data=b"x", content_type="text/plain").status_code == 201
    assert client.put(path, data=b"x", content_type="text/plain").status_code == 409
    settings.FILES_UPLOAD_MAX_BYTES = 10
    big, _ = slot_path(charge_point)
    assert client.put(big, data=b"x" * 11, content_type="text/plain").status_code == 413
    assert client.get(big).status_code == 405
    assert UploadedFile.objects.count() == 3


def test_retention_purges_old_files_and_keeps_recent_ones(client, settings):
    settings.FILES_UPLOAD_RETENTION_DAYS = 30
    charge_point = chargepoint_create(charge_point_id="CP-UP")
    for name in ("old.log", "new.log"):
        path, _ = slot_path(charge_point)
        assert client.put(path + name, data=b"x", content_type="text/plain").status_code == 201
    old = UploadedFile.objects.get(original_name="old.log")
    UploadedFile.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=31))
    storage, old_name = old.file.storage, old.file.name
    assert storage.exists(old_name)

    assert purge_uploads.delay().get() == 1
    assert not storage.exists(old_name)
    assert list(UploadedFile.objects.values_list("original_name", flat=True)) == ["new.log"]
