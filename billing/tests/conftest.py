"""Fixtures of the billing tests."""

import pytest

from drivers.models import IdTag

# Charge point sockets through the ASGI app, and a fresh channel layer per test.
from ocpp_consumer.tests.conftest import (  # noqa: F401
    channel_layer,
    charge_point_socket,
    handshake,
)
from stations.models import Station
from stations.services import chargepoint_create

from .helpers import registered_long_ago


@pytest.fixture
def station():
    return Station.objects.create(name="Main street")


@pytest.fixture
def charge_point(station):
    """CP-1 at the station, registered before every session of these tests, and TAG-1."""
    IdTag.objects.create(id_tag="TAG-1")
    return registered_long_ago(chargepoint_create(charge_point_id="CP-1", station_id=station.pk))
