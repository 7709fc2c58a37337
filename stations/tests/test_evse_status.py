"""An EVSE's neutral status from its plugs' OCPP 2.0.1 statuses."""

from datetime import UTC, datetime

import pytest

from drivers.models import IdTag
from stations.choices import ConnectorStatus, SessionStatus
from stations.models import ChargePoint, Transaction
from stations.services.evse_status import (
    evse_connector_status_update,
    evse_status_derive,
    evse_status_refresh,
)


@pytest.mark.parametrize(
    ("plugs", "running", "expected"),
    [
        ({}, False, ConnectorStatus.UNAVAILABLE),
        ({"1": "Available", "2": "Available"}, False, ConnectorStatus.AVAILABLE),
        ({"1": "Available", "2": "Occupied"}, False, ConnectorStatus.PREPARING),
        ({"1": "Available", "2": "Occupied"}, True, ConnectorStatus.CHARGING),
        ({"1": "Faulted", "2": "Occupied"}, True, ConnectorStatus.FAULTED),
        ({"1": "Reserved", "2": "Unavailable"}, False, ConnectorStatus.RESERVED),
        ({"1": "Unavailable", "2": "Available"}, False, ConnectorStatus.UNAVAILABLE),
    ],
)
def test_the_most_pressing_plug_status_wins(plugs, running, expected):
    assert evse_status_derive(plug_statuses=plugs, session_running=running) == expected


@pytest.mark.django_db
def test_occupied_while_a_session_runs_is_charging():
    charge_point = ChargePoint.objects.create(charge_point_id="CP-EVSE", ocpp_version="2.0.1")
    at = datetime(2026, 1, 1, 10, tzinfo=UTC)
    evse = evse_connector_status_update(
        charge_point_pk=charge_point.pk, evse_id=1, connector_id=1, status="Available", timestamp=at
    )
    IdTag.objects.create(id_tag="TAG-1")
    Transaction.objects.create(
        charge_point=charge_point,
        connector=evse,
        id_tag="TAG-1",
        meter_start=0,
        start_timestamp=at,
        status=SessionStatus.RUNNING,
    )
    evse = evse_connector_status_update(
        charge_point_pk=charge_point.pk,
        evse_id=1,
        connector_id=1,
        status="Occupied",
        timestamp=at.replace(minute=1),
    )
    assert (evse.status, evse.error_code) == (ConnectorStatus.CHARGING, "NoError")


@pytest.mark.django_db
def test_an_unknown_plug_status_is_refused():
    charge_point = ChargePoint.objects.create(charge_point_id="CP-EVSE2")
    with pytest.raises(ValueError):
        evse_connector_status_update(
            charge_point_pk=charge_point.pk, evse_id=1, connector_id=1, status="Charging"
        )


@pytest.mark.django_db
def test_a_session_starting_and_ending_refreshes_the_evse():
    charge_point = ChargePoint.objects.create(charge_point_id="CP-EVSE3", ocpp_version="2.0.1")
    at = datetime(2026, 1, 1, 10, tzinfo=UTC)
    evse = evse_connector_status_update(
        charge_point_pk=charge_point.pk, evse_id=1, connector_id=1, status="Occupied", timestamp=at
    )
    assert evse.status == ConnectorStatus.PREPARING
    IdTag.objects.create(id_tag="TAG-1")
    session = Transaction.objects.create(
        charge_point=charge_point,
        connector=evse,
        id_tag="TAG-1",
        meter_start=0,
        start_timestamp=at,
        status=SessionStatus.RUNNING,
    )
    evse = evse_status_refresh(charge_point_pk=charge_point.pk, evse_id=1)
    assert evse.status == ConnectorStatus.CHARGING
    assert evse_status_refresh(charge_point_pk=charge_point.pk, evse_id=1).status == "Charging"
    session.status = SessionStatus.ENDED
    session.save()
    evse = evse_status_refresh(charge_point_pk=charge_point.pk, evse_id=1)
    assert evse.status == ConnectorStatus.PREPARING
    assert list(evse.status_log.order_by("id").values_list("status", "info")) == [
        ("Preparing", "connector 1: Occupied"),
        ("Charging", "session running"),
        ("Preparing", "no session running"),
    ]
    # A plug report with the charger's time is not taken for stale afterwards.
    evse = evse_connector_status_update(
        charge_point_pk=charge_point.pk,
        evse_id=1,
        connector_id=1,
        status="Available",
        timestamp=at.replace(minute=5),
    )
    assert evse.status == ConnectorStatus.AVAILABLE
    assert evse_status_refresh(charge_point_pk=charge_point.pk, evse_id=9) is None
