"""Fixtures of the files app: a private MEDIA_ROOT, images, and the consumer's sockets."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from firmware import services
from ocpp_consumer.tests.conftest import channel_layer, charge_point_socket, handshake

__all__ = ["channel_layer", "charge_point_socket", "handshake"]

IMAGE_BYTES = b"\x7fELF firmware image " * 4096


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Files written by a test stay in its own folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CSMS_PUBLIC_URL = ""
    return settings.MEDIA_ROOT


@pytest.fixture
def image(db):
    return services.firmware_image_create(
        file=ContentFile(IMAGE_BYTES, name="wallbox-2.0.bin"),
        version="2.0",
        vendor="ACME",
        signing_certificate="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
        signature="c2lnbmF0dXJl",
    )
