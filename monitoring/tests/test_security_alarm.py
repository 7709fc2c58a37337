"""Critical security events a charge point reports raise an alarm (dashboard and metrics)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.metrics import exposition
from monitoring.models import Node, NodeKind
from monitoring.selectors import dashboard_snapshot
from stations.models import ChargePoint, SecurityEvent, SecurityEventOrigin
from stations.services import security_event_record

pytestmark = pytest.mark.django_db

ALARM = "critical_security_events"


@pytest.fixture(autouse=True)
def _live_worker():
    """A live Celery worker: only the security alarm can be raised."""
    now = timezone.now()
    Node.objects.create(
        node_id="celery@t", kind=NodeKind.CELERY, hostname="h", pid=1, started_at=now, last_seen=now
    )


def report(event_type: str) -> SecurityEvent:
    charge_point, _ = ChargePoint.objects.get_or_create(charge_point_id="CP1")
    return security_event_record(
        event_type=event_type,
        origin=SecurityEventOrigin.CHARGE_POINT,
        charge_point_pk=charge_point.pk,
    )


def test_a_critical_event_raises_the_alarm_with_its_count_and_link():
    report("TamperDetectionActivated")
    report("SecurityLogWasCleared")
    [alarm] = dashboard_snapshot()["alarms"]
    assert (alarm["code"], alarm["severity"]) == (ALARM, "critical")
    assert alarm["message"].startswith("2 critical security events")
    assert alarm["url"].endswith("?critical__exact=1")
    assert f'csms_alarm{{alarm="{ALARM}"}} 1.0' in exposition().decode()


def test_ordinary_or_old_events_raise_nothing(settings):
    report("InvalidCsmsCertificate")  # not critical
    old = report("TamperDetectionActivated")
    SecurityEvent.objects.filter(pk=old.pk).update(
        received_at=timezone.now() - timedelta(hours=settings.MONITORING_SECURITY_ALARM_HOURS + 1)
    )
    assert dashboard_snapshot()["alarms"] == []
    assert f'csms_alarm{{alarm="{ALARM}"}} 0.0' in exposition().decode()
