"""The services of monitors, device events, display messages and customer information."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devicemodel import services
from devicemodel.models import DeviceEvent, DisplayMessage, VariableMonitor
from stations.models import ChargePoint

pytestmark = pytest.mark.django_db

AT = datetime(2026, 1, 1, tzinfo=UTC)
TEMP = services.VariableKey(component="EVSE", evse_id=1, variable="Temp")


@pytest.fixture
def charge_point():
    return ChargePoint.objects.create(charge_point_id="CP-M", ocpp_version="2.0.1")


def event(event_id: int, trigger: str = "Alerting", **fields) -> services.EventData:
    defaults = {"actual_value": "1", "notification_type": "CustomMonitor"}
    return services.EventData(
        key=TEMP, event_id=event_id, timestamp=AT, trigger=trigger, **{**defaults, **fields}
    )


def test_a_monitor_set_again_under_its_id_is_replaced(charge_point):
    spec = services.MonitorSpec(key=TEMP, type="UpperThreshold", value=80, severity=4, monitor_id=3)
    services.monitors_set(
        charge_point_pk=charge_point.pk,
        outcomes=[services.MonitorSetOutcome(spec=spec, status="Accepted")],
    )
    lower = services.MonitorSpec(
        key=TEMP, type="UpperThreshold", value=70, severity=2, monitor_id=3
    )
    services.monitors_set(
        charge_point_pk=charge_point.pk,
        outcomes=[services.MonitorSetOutcome(spec=lower, status="Accepted")],
    )
    monitor = VariableMonitor.objects.get()
    assert (monitor.monitor_id, monitor.value, monitor.severity) == (3, 70.0, 2)


def test_only_alerts_and_severe_monitors_are_problems(charge_point):
    stored = services.device_events_record(
        charge_point_pk=charge_point.pk,
        events=[event(1), event(2, "Delta"), event(3, "Alerting", cleared=True)],
    )
    assert [e.is_problem for e in stored] == [True, False, False]
    # The return to normal (event 3) of the same variable closed the alert.
    assert DeviceEvent.objects.get(event_id=1).cleared_at is not None


def test_a_return_to_normal_closes_only_its_own_monitor_problems(charge_point):
    services.device_events_record(
        charge_point_pk=charge_point.pk,
        events=[event(1, variable_monitoring_id=5), event(2, variable_monitoring_id=6)],
    )
    services.device_events_record(
        charge_point_pk=charge_point.pk,
        events=[event(3, variable_monitoring_id=5, cleared=True)],
    )
    still_open = DeviceEvent.objects.filter(is_problem=True, cleared_at__isnull=True)
    assert list(still_open.values_list("event_id", flat=True)) == [2]
    assert services.device_events_close(event_pks=still_open.values_list("pk", flat=True)) == 1
    assert not DeviceEvent.objects.filter(is_problem=True, cleared_at__isnull=True).exists()


def test_a_cleared_display_message_unknown_to_the_station_is_forgotten(charge_point):
    info = services.MessageInfo(message_id=1, priority="NormalCycle", format="ASCII", content="x")
    services.display_message_set(charge_point_pk=charge_point.pk, info=info, status="Accepted")
    assert not services.display_message_cleared(
        charge_point_pk=charge_point.pk, message_id=1, status="Rejected"
    )
    assert DisplayMessage.objects.exists()
    assert services.display_message_cleared(
        charge_point_pk=charge_point.pk, message_id=1, status="Unknown"
    )
    assert not DisplayMessage.objects.exists()
