"""Chargers' HTTP against a real Daphne: download by signed link, upload by PUT with a token."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request

import pytest

from csms_project import testing
from firmware import services
from firmware.choices import UploadKind
from firmware.models import UploadedFile
from stations.services import chargepoint_create

from .conftest import IMAGE_BYTES

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def http(method: str, url: str, body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/octet-stream")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_a_charger_downloads_and_uploads_over_real_http(image, tmp_path, _media_root, settings):
    charge_point = chargepoint_create(charge_point_id="CP-HTTP")
    env = testing.process_env(CSMS_MEDIA_DIR=str(_media_root))
    with testing.daphne_node(env, tmp_path) as base_url:
        settings.CSMS_PUBLIC_URL = base_url
        status, body = http("GET", services.firmware_link_url(image=image))
        assert status == 200
        assert hashlib.sha256(body).hexdigest() == image.sha256
        assert body == IMAGE_BYTES
        assert http("GET", services.firmware_link_url(image=image, ttl_seconds=-1))[0] == 410

        _, token = services.upload_slot_create(
            charge_point_pk=charge_point.pk, kind=UploadKind.LOG, request_id=7
        )
        url = services.upload_url(token=token)
        log = b"2026-12-06 boot ok\n" * 1000
        status, answer = http("PUT", url + "station.log", log)
        assert status == 201, answer
        assert http("PUT", base_url + "/files/uploads/wrong-token/", b"x")[0] == 403
        wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
        assert http("PUT", url.replace(token, wrong), b"x")[0] == 403

    upload = UploadedFile.objects.get()
    assert (upload.charge_point, upload.kind, upload.size) == (charge_point, "log", len(log))
    with upload.file.open("rb") as handle:
        assert handle.read() == log
