"""The periodic sweeps with frozen time (`now=` passed in), and the beat schedule."""

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from csms_project import testing
from csms_project.celery import app as celery_app
from csms_project.schedule import beat_schedule
from stations import tasks
from stations.choices import SessionStatus
from stations.models import ChargePoint, Connector, ConnectorStatusLog, MeterValue, Transaction
from stations.services import connector_status_update
from stations.services.sweeps import chargepoint_sweep_timed_out, transaction_flag_stale

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
STATUS_AT = NOW - timedelta(hours=2)


@pytest.fixture(autouse=True)
def _sweep_settings(settings):
    settings.OCPP_HEARTBEAT_INTERVAL = 300
    settings.OCPP_HEARTBEAT_TIMEOUT_FACTOR = 3.0
    settings.STALE_TRANSACTION_HOURS = 24


def online(name, *, silent_for, interval=None, is_online=True):
    charge_point = ChargePoint.objects.create(
        charge_point_id=name,
        heartbeat_interval=interval,
        is_online=is_online,
        connection_channel=f"specific.{name}" if is_online else "",
        last_seen=None if silent_for is None else NOW - timedelta(seconds=silent_for),
    )
    Connector.objects.create(
        charge_point=charge_point, connector_id=1, status="Available", status_timestamp=STATUS_AT
    )
    return charge_point


@pytest.mark.django_db
def test_silent_charge_points_are_marked_offline():
    expired = online("DEFAULT-EXPIRED", silent_for=901)  # 3 x 300 s = 900 s
    alive = online("DEFAULT-ALIVE", silent_for=899)
    short = online("SHORT-EXPIRED", silent_for=181, interval=60)  # 3 x 60 s
    long = online("LONG-ALIVE", silent_for=2000, interval=3600)  # 3 x 3600 s
    never = online("NEVER-SEEN", silent_for=None)
    online("ALREADY-OFFLINE", silent_for=10_000, is_online=False)

    marked = chargepoint_sweep_timed_out(now=NOW)

    assert sorted(marked) == sorted([expired.pk, short.pk, never.pk])
    states = {
        cp.charge_point_id: (cp.is_online, cp.connection_channel)
        for cp in ChargePoint.objects.all()
    }
    assert states == {
        "DEFAULT-EXPIRED": (False, ""),
        "DEFAULT-ALIVE": (True, "specific.DEFAULT-ALIVE"),
        "SHORT-EXPIRED": (False, ""),
        "LONG-ALIVE": (True, "specific.LONG-ALIVE"),
        "NEVER-SEEN": (False, ""),
        "ALREADY-OFFLINE": (False, ""),
    }
    statuses = {
        c.charge_point.charge_point_id: c.status
        for c in Connector.objects.select_related("charge_point")
    }
    assert statuses == {
        "DEFAULT-EXPIRED": "Unavailable",
        "DEFAULT-ALIVE": "Available",
        "SHORT-EXPIRED": "Unavailable",
        "LONG-ALIVE": "Available",
        "NEVER-SEEN": "Unavailable",
        "ALREADY-OFFLINE": "Available",  # not this sweep's doing
    }
    assert alive.connectors.get().status_timestamp == STATUS_AT
    assert long.pk not in marked
    assert chargepoint_sweep_timed_out(now=NOW) == []  # nothing left to do


@pytest.mark.django_db
def test_factor_is_configurable(settings):
    charge_point = online("CP", silent_for=700)
    assert chargepoint_sweep_timed_out(now=NOW) == []
    settings.OCPP_HEARTBEAT_TIMEOUT_FACTOR = 2.0  # 600 s
    assert chargepoint_sweep_timed_out(now=NOW) == [charge_point.pk]


@pytest.mark.django_db
def test_first_status_after_the_outage_replaces_unavailable():
    charge_point = online("CP", silent_for=5000)
    chargepoint_sweep_timed_out(now=NOW)
    connector = connector_status_update(
        charge_point_pk=charge_point.pk,
        connector_id=1,
        status="Charging",
        error_code="NoError",
        timestamp=NOW + timedelta(minutes=1),
    )
    assert connector.status == "Charging"


@pytest.mark.django_db
def test_heartbeat_task_runs_the_sweep():
    online("CP", silent_for=10**6)  # silent since long before the real now
    assert tasks.sweep_heartbeat_timeouts.delay().get() == 1
    assert not ChargePoint.objects.get().is_online


def make_session(name, *, age_hours, stopped=False):
    charge_point = ChargePoint.objects.create(charge_point_id=name)
    connector = Connector.objects.create(charge_point=charge_point, connector_id=1)
    started = NOW - timedelta(hours=age_hours)
    session = Transaction.objects.create(
        charge_point=charge_point,
        connector=connector,
        id_tag="TAG",
        meter_start=0,
        start_timestamp=started,
        stop_timestamp=started + timedelta(hours=1) if stopped else None,
        meter_stop=100 if stopped else None,
        status=SessionStatus.ENDED if stopped else SessionStatus.RUNNING,
    )
    Transaction.objects.filter(pk=session.pk).update(created_at=started)
    return session


def heard_of(session, *, hours_ago, via):
    at = NOW - timedelta(hours=hours_ago)
    if via == "meter value":
        row = MeterValue.objects.create(
            charge_point=session.charge_point,
            connector=session.connector,
            transaction=session,
            timestamp=at,
            value="100",
            measurand="Energy.Active.Import.Register",
            unit="Wh",
            context="Sample.Periodic",
            location="Outlet",
            format="Raw",
        )
    else:
        row = ConnectorStatusLog.objects.create(
            connector=session.connector, status="Charging", error_code="NoError", timestamp=at
        )
    type(row).objects.filter(pk=row.pk).update(received_at=at)


@pytest.mark.django_db
def test_stale_sessions_are_flagged_never_closed():
    silent = make_session("SILENT", age_hours=25)
    metered = make_session("METERED", age_hours=25)
    heard_of(metered, hours_ago=1, via="meter value")
    status = make_session("STATUS", age_hours=25)
    heard_of(status, hours_ago=2, via="status")
    old_news = make_session("OLD-NEWS", age_hours=50)
    heard_of(old_news, hours_ago=30, via="meter value")
    young = make_session("YOUNG", age_hours=23)
    closed = make_session("CLOSED", age_hours=48, stopped=True)

    # A connector still reporting "Charging" says nothing of the session itself.
    assert transaction_flag_stale(now=NOW) == (3, 0)

    flagged = dict(Transaction.objects.values_list("charge_point__charge_point_id", "stale_since"))
    assert flagged == {
        "SILENT": NOW,
        "METERED": None,
        "STATUS": NOW,
        "OLD-NEWS": NOW,
        "YOUNG": None,
        "CLOSED": None,
    }
    assert Transaction.objects.get(pk=silent.pk).stop_timestamp is None  # still open
    assert {young.pk, closed.pk}.isdisjoint(
        Transaction.objects.filter(stale_since__isnull=False).values_list("pk", flat=True)
    )

    # A second sweep later keeps the first flag time.
    assert transaction_flag_stale(now=NOW + timedelta(hours=1)) == (0, 0)
    assert Transaction.objects.get(pk=silent.pk).stale_since == NOW


@pytest.mark.django_db
def test_a_session_heard_from_again_is_unflagged(settings):
    session = make_session("CP", age_hours=30)
    transaction_flag_stale(now=NOW)
    heard_of(session, hours_ago=0, via="meter value")
    assert transaction_flag_stale(now=NOW) == (0, 1)
    assert Transaction.objects.get(pk=session.pk).stale_since is None
    settings.STALE_TRANSACTION_HOURS = 0  # configurable: now everything open is stale
    assert transaction_flag_stale(now=NOW + timedelta(seconds=1)) == (1, 0)


@pytest.mark.django_db
def test_stale_task_runs_the_sweep():
    make_session("CP", age_hours=24 * 365 * 10)
    assert tasks.sweep_stale_transactions.delay().get() == 1


def test_beat_schedule_runs_every_sweep_on_registered_tasks():
    schedule = beat_schedule(sweep_interval=30, relay_interval=5)
    celery_app.loader.import_default_modules()
    assert set(schedule) == {
        "outbox-relay",
        "outbox-purge",
        "heartbeat-timeouts",
        "stale-transactions",
        "reservation-expiry",
        "journal-prune",
        "data-transfer-purge",
        "invoice-sweep",
        "idempotency-purge",
        "station-energy-rollup",
        "firmware-campaigns",
        "uploads-purge",
        "roaming-journal-prune",
        "roaming-cdr-sweep",
    }
    for entry in schedule.values():
        assert entry["task"] in celery_app.tasks, entry["task"]
    heartbeat = schedule["heartbeat-timeouts"]
    assert heartbeat["schedule"] == 30.0
    assert heartbeat["options"]["expires"] == 30
    assert schedule["stale-transactions"]["schedule"] >= 30
    assert schedule["outbox-relay"]["schedule"] == 5.0
    assert schedule["outbox-relay"]["options"]["expires"] == 5


def test_schedule_does_not_import_django_settings():
    """The settings module calls it: importing Django settings from it would recurse."""
    code = (
        "import importlib.util, sys\n"
        "spec = importlib.util.spec_from_file_location('schedule', 'csms_project/schedule.py')\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "assert module.beat_schedule(sweep_interval=5)['heartbeat-timeouts']['schedule'] == 5\n"
        "assert 'django.conf' not in sys.modules, 'django.conf imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=testing.BASE_DIR
    )
    assert result.returncode == 0, result.stderr
