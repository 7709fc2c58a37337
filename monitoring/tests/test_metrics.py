"""/metrics: process counters, database figures at scrape time, several processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from unittest import mock

import pytest
from celery import shared_task
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from billing.models import BillingFailure
from csms_project.testing import BASE_DIR
from monitoring import metrics
from monitoring.models import Node, NodeKind
from stations.choices import DisputeResolution, SessionStatus
from stations.models import ChargePoint, Connector, Transaction

pytestmark = pytest.mark.django_db


def samples(text: str) -> dict[tuple, float]:
    """{(name, sorted labels): value} of a Prometheus text exposition."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


@shared_task(name="monitoring.tests.ok_task")
def ok_task():
    return 1


@shared_task(name="monitoring.tests.failing_task")
def failing_task():
    raise ValueError("no")


def test_metrics_endpoint_speaks_prometheus_text(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert {"csms_ocpp_calls", "csms_ocpp_connections", "csms_open_transactions"} <= names


def test_database_figures_are_read_at_scrape_time(client):
    cp = ChargePoint.objects.create(charge_point_id="CP-M", is_online=True)
    ChargePoint.objects.create(charge_point_id="CP-N")
    now = timezone.now()
    sessions = [
        # (status, disputed, decided, connector)
        (SessionStatus.ENDED, False, False, 1),
        (SessionStatus.RUNNING, False, False, 1),
        (SessionStatus.RUNNING, True, False, 2),  # disputed while running
        (SessionStatus.REFUSED, False, False, 3),  # never stopped, never running
        (SessionStatus.SUPERSEDED, True, False, 3),
        (SessionStatus.ENDED, True, True, 3),  # decided: no longer waiting
    ]
    for number, (status, disputed, decided, connector_id) in enumerate(sessions):
        connector, _ = Connector.objects.get_or_create(charge_point=cp, connector_id=connector_id)
        transaction = Transaction.objects.create(
            charge_point=cp,
            connector=connector,
            id_tag=f"T{number}",
            status=status,
            meter_start=0,
            start_timestamp=now - timezone.timedelta(minutes=number),
            stop_timestamp=now
            if status in (SessionStatus.ENDED, SessionStatus.SUPERSEDED)
            else None,
            disputed_at=now if disputed else None,
            dispute_resolution=DisputeResolution.ACCEPTED if decided else "",
        )
        if number < 2:
            BillingFailure.objects.create(
                transaction=transaction,
                error="No tariff.",
                first_failed_at=now,
                last_failed_at=now,
                resolved_at=now if number == 0 else None,
            )
    Node.objects.create(
        node_id="n1", kind=NodeKind.ASGI, hostname="h", pid=1, started_at=now, last_seen=now
    )
    got = samples(client.get("/metrics").text)
    assert got[("csms_open_transactions", ())] == 2
    assert got[("csms_disputed_sessions", ())] == 2
    assert got[("csms_billing_failures_unresolved", ())] == 1
    assert got[("csms_charge_points", (("state", "online"),))] == 1
    assert got[("csms_charge_points", (("state", "offline"),))] == 1
    assert got[("csms_nodes", (("kind", "asgi"), ("state", "alive")))] == 1
    assert got[("csms_metrics_database_up", ())] == 1


def test_a_database_failure_drops_the_figures_not_the_scrape(client):
    with mock.patch.object(Transaction.objects, "filter", side_effect=RuntimeError("db down")):
        response = client.get("/metrics")
    assert response.status_code == 200
    got = samples(response.text)
    assert got[("csms_metrics_database_up", ())] == 0
    assert ("csms_open_transactions", ()) not in got
    assert ("csms_disputed_sessions", ()) not in got
    assert ("csms_billing_failures_unresolved", ()) not in got


def test_frame_and_error_helpers_bound_the_label_values():
    before = value("csms_ocpp_frames_total", direction="in", message_type="call", action="unknown")
    metrics.count_frame("in", 2, "MadeUpAction")
    metrics.count_frame("out", 3, "Heartbeat")
    metrics.count_frame("in", None, None)
    assert (
        value("csms_ocpp_frames_total", direction="in", message_type="call", action="unknown")
        == before + 1
    )
    assert (
        value(
            "csms_ocpp_frames_total", direction="out", message_type="callresult", action="Heartbeat"
        )
        >= 1
    )
    assert value("csms_ocpp_frames_total", direction="in", message_type="invalid", action="") >= 1

    before = value("csms_ocpp_callerrors_total", direction="in", code="other")
    metrics.count_call_error("in", "SomethingVendorSpecific")
    metrics.count_call_error("out", "FormationViolation")
    assert value("csms_ocpp_callerrors_total", direction="in", code="other") == before + 1
    assert value("csms_ocpp_callerrors_total", direction="out", code="FormationViolation") >= 1


def test_command_outcomes_are_counted():
    before = value("csms_ocpp_commands_total", action="Reset", status="answered")
    metrics.count_command("Reset", "answered")
    assert value("csms_ocpp_commands_total", action="Reset", status="answered") == before + 1


def test_handler_latency_histogram_times_a_block():
    before = value("csms_ocpp_handler_seconds_count", action="Heartbeat")
    with metrics.OCPP_HANDLER_SECONDS.labels("Heartbeat").time():
        pass
    assert value("csms_ocpp_handler_seconds_count", action="Heartbeat") == before + 1


def test_celery_task_outcomes_are_counted():
    ok_before = value("csms_celery_tasks_total", task="monitoring.tests.ok_task", state="SUCCESS")
    failed_before = value(
        "csms_celery_tasks_total", task="monitoring.tests.failing_task", state="FAILURE"
    )
    ok_task.delay()
    assert failing_task.apply(throw=False).state == "FAILURE"  # as a worker runs it
    assert (
        value("csms_celery_tasks_total", task="monitoring.tests.ok_task", state="SUCCESS")
        == ok_before + 1
    )
    assert (
        value("csms_celery_tasks_total", task="monitoring.tests.failing_task", state="FAILURE")
        == failed_before + 1
    )
    assert value("csms_celery_task_seconds_count", task="monitoring.tests.ok_task") >= 1


WRITER = textwrap.dedent(
    """
    import os, sys
    from monitoring import metrics
    metrics.OCPP_FRAMES.labels("in", "call", "Heartbeat").inc(3)
    metrics.OCPP_CONNECTIONS.inc(2)
    print(os.getpid(), flush=True)
    sys.stdin.readline()  # stay alive until told
    """
)


def test_multiprocess_mode_aggregates_every_process(tmp_path, monkeypatch):
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER], cwd=BASE_DIR, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )
        for _ in range(2)
    ]  # fmt: skip
    pids = [writer.stdout.readline().strip() for writer in writers]
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    got = samples(metrics.exposition().decode())
    frames = (
        "csms_ocpp_frames_total",
        (("action", "Heartbeat"), ("direction", "in"), ("message_type", "call")),
    )
    assert got[frames] == 6  # summed over both processes
    for pid in pids:  # one connection gauge per live process
        assert got[("csms_ocpp_connections", (("pid", pid),))] == 2
    for writer in writers:
        writer.communicate("\n", timeout=10)
    got = samples(metrics.exposition().decode())
    assert got[frames] == 6  # counters outlive their process
    assert not [key for key in got if key[0] == "csms_ocpp_connections"]  # live gauges do not
