"""monitoring.live: dashboards pushed from domain events, after commit, only while watched."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError

from events.models import OutboxMessage
from events.relay import outbox_relay
from monitoring import channel_health, live, nodes
from monitoring.metrics import DASHBOARD_PUSHES
from monitoring.models import Node, NodeKind
from stations import services
from stations.choices import DisputeResolution, SessionStatus
from stations.models import Connector, Transaction
from stations.services.disputes import transaction_dispute_resolve

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _channel_layer_up():
    """Every test starts with the channel layer reachable, and leaves it so."""
    channel_health.health.reset()
    yield
    channel_health.health.reset()


class RecordingLayer:
    """Stands in for the channel layer (in-memory or Redis): records group_send."""

    def __init__(self, error=None):
        self.sent, self.error = [], error

    async def group_send(self, group, message):
        if self.error:
            raise self.error
        self.sent.append((group, message))


@pytest.fixture
def group_send():
    """What monitoring.live sends to the channel layer."""
    layer = RecordingLayer()
    with mock.patch("monitoring.live.get_channel_layer", return_value=layer):
        yield layer.sent


def watching_node(watchers=1, **fields):
    now = timezone.now()
    values = dict(started_at=now, last_seen=now, dashboard_watchers=watchers) | fields
    return Node.objects.create(
        node_id=f"asgi-test-{watchers}-{sorted(fields)}",
        kind=NodeKind.ASGI,
        hostname="h",
        pid=1,
        **values,
    )


@pytest.fixture
def charge_point():
    return services.chargepoint_create(charge_point_id="CP-LIVE")


def test_nothing_is_sent_while_nobody_watches(
    group_send, charge_point, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.connector_status_update(
            charge_point_pk=charge_point.pk, connector_id=1, status="Charging", error_code="NoError"
        )
    assert callbacks == []  # not even a callback is registered
    assert group_send == []
    assert not OutboxMessage.objects.exists()  # nor an event row


def test_a_watched_connector_change_is_pushed_after_commit(
    group_send, charge_point, django_capture_on_commit_callbacks
):
    watching_node()
    with django_capture_on_commit_callbacks() as callbacks:
        services.connector_status_update(
            charge_point_pk=charge_point.pk, connector_id=1, status="Charging", error_code="NoError"
        )
    assert group_send == []  # not before the commit
    for callback in callbacks:
        callback()
    ((group, message),) = group_send
    assert group == live.DASHBOARD_GROUP
    assert message["type"] == "dashboard.charge_points"
    (card,) = message["charge_points"]
    assert card["id"] == "CP-LIVE"
    assert [(c["connector_id"], c["status"]) for c in card["connectors"]] == [(1, "Charging")]


def test_a_rolled_back_change_is_not_pushed(
    group_send, charge_point, django_capture_on_commit_callbacks
):
    watching_node()
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            services.connector_status_update(
                charge_point_pk=charge_point.pk,
                connector_id=1,
                status="Faulted",
                error_code="GroundFailure",
            )
            raise RuntimeError("rolled back")
    assert group_send == []


def test_dead_or_stopped_watchers_do_not_count(
    group_send, charge_point, django_capture_on_commit_callbacks
):
    long_ago = timezone.now() - timezone.timedelta(hours=1)
    watching_node(last_seen=long_ago)
    Node.objects.filter(pk=watching_node(watchers=2).pk).update(stopped_at=timezone.now())
    live.forget_watchers()
    assert live.dashboard_watched_cached() is False
    with django_capture_on_commit_callbacks(execute=True):
        services.chargepoint_connect(charge_point_id="CP-LIVE", channel_name="specific.abc!x")
    assert group_send == []


def test_connect_disconnect_and_sweep_push_the_charge_point(
    group_send, charge_point, django_capture_on_commit_callbacks
):
    watching_node()
    with django_capture_on_commit_callbacks(execute=True):
        services.chargepoint_connect(charge_point_id="CP-LIVE", channel_name="specific.abc!x")
    assert group_send[-1][1]["charge_points"][0]["online"] is True
    with django_capture_on_commit_callbacks(execute=True):
        services.chargepoint_disconnect(charge_point_id="CP-LIVE", channel_name="specific.abc!x")
    assert group_send[-1][1]["charge_points"][0]["online"] is False
    assert len(group_send) == 2


def test_transaction_start_asks_for_new_totals(
    group_send, charge_point, django_capture_on_commit_callbacks
):
    watching_node()
    with django_capture_on_commit_callbacks(execute=True):
        started, _ = services.transaction_start(
            charge_point_pk=charge_point.pk,
            connector_id=1,
            id_tag="TAG",
            meter_start=0,
            timestamp=timezone.now(),
        )
    assert group_send == [
        (live.DASHBOARD_GROUP, {"type": "dashboard.summary", "transaction": started.pk})
    ]
    assert not OutboxMessage.objects.exists()  # delivered from memory, nothing to retry


def test_a_dispute_decision_asks_for_new_totals(
    group_send, charge_point, django_capture_on_commit_callbacks
):
    connector = Connector.objects.create(charge_point=charge_point, connector_id=1)
    now = timezone.now()
    session = Transaction.objects.create(
        charge_point=charge_point,
        connector=connector,
        id_tag="TAG",
        status=SessionStatus.ENDED,
        meter_start=0,
        start_timestamp=now - timedelta(hours=1),
        stop_timestamp=now,
        meter_stop=500,
        energy_wh=500,
        disputed_at=now,
        dispute_reason="Clock far ahead.",
    )
    watching_node()
    with django_capture_on_commit_callbacks(execute=True):
        transaction_dispute_resolve(
            transaction_pk=session.pk, resolution=DisputeResolution.VOIDED, resolved_by_id=None
        )
    assert (
        live.DASHBOARD_GROUP,
        {"type": "dashboard.summary", "transaction": session.pk},
    ) in group_send


def test_the_watch_check_is_cached_and_cheap(charge_point):
    live.forget_watchers()
    with CaptureQueriesContext(connection) as queries:
        for _ in range(20):
            assert live.dashboard_watched_cached() is False
    assert len(queries) == 1  # one "is anyone watching?" query for all twenty calls


def test_a_watcher_in_this_process_is_known_without_a_query(group_send, charge_point):
    nodes.current().watchers = 1
    with CaptureQueriesContext(connection) as queries:
        assert live.dashboard_watched_cached() is True
    assert len(queries) == 0


def test_a_push_the_channel_layer_cannot_take_is_dropped_and_counted(
    charge_point, django_capture_on_commit_callbacks, caplog
):
    """Redis down: the change commits, nothing raises or waits, nothing piles up."""
    watching_node()
    dropped = DASHBOARD_PUSHES.labels("connector", "dropped")
    before = dropped._value.get()
    down = RecordingLayer(RedisConnectionError("down"))
    with mock.patch("monitoring.live.get_channel_layer", return_value=down):
        with django_capture_on_commit_callbacks(execute=True):
            connector = services.connector_status_update(
                charge_point_pk=charge_point.pk,
                connector_id=2,
                status="Available",
                error_code="NoError",
            )
        # While the layer is known down, further pushes are not even tried.
        with django_capture_on_commit_callbacks(execute=True):
            services.connector_status_update(
                charge_point_pk=charge_point.pk,
                connector_id=2,
                status="Charging",
                error_code="NoError",
            )
    assert Connector.objects.get(pk=connector.pk).status == "Charging"  # the changes stay
    assert not OutboxMessage.objects.exists()  # a live push is not worth retrying
    assert dropped._value.get() == before + 2
    assert channel_health.health.is_down
    assert caplog.text.count("channel layer unreachable") == 1  # one warning per outage

    # The layer is back: the next push tries again (at most every few seconds
    # while down), goes through, and ends the outage.
    channel_health.health._next_try = 0.0
    layer = RecordingLayer()
    with mock.patch("monitoring.live.get_channel_layer", return_value=layer):
        with django_capture_on_commit_callbacks(execute=True):
            services.connector_status_update(
                charge_point_pk=charge_point.pk,
                connector_id=2,
                status="Finishing",
                error_code="NoError",
            )
    ((_, pushed),) = layer.sent
    assert pushed["charge_points"][0]["connectors"][0]["status"] == "Finishing"
    assert not channel_health.health.is_down


def test_a_push_too_old_to_matter_expires(
    charge_point, group_send, django_capture_on_commit_callbacks
):
    watching_node()
    with mock.patch("monitoring.live.get_channel_layer", side_effect=RuntimeError("boom")):
        with django_capture_on_commit_callbacks(execute=True):
            services.chargepoint_connect(charge_point_id="CP-LIVE", channel_name="specific.abc!x")
    OutboxMessage.objects.update(
        created_at=timezone.now() - timezone.timedelta(minutes=10),
        next_attempt_at=timezone.now(),
    )
    report = outbox_relay()
    assert (report.handled, report.expired) == (0, 1)
    assert group_send == []
    assert OutboxMessage.objects.get().expired is True
