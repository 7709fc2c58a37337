"""The outbox: events recorded with the change, delivered after commit, retried until handled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from events.kinds import EventKind
from events.models import OutboxMessage
from events.relay import outbox_purge, outbox_relay, outbox_retry_now, retry_delay
from events.services import event_record
from events.subscribers import Event, Subscriber

pytestmark = pytest.mark.django_db

received: dict[str, list[Event]] = {"healthy": [], "flaky": [], "inline": []}
flaky_failures = {"left": 0}


def _healthy(event: Event) -> None:
    received["healthy"].append(event)


def _flaky(event: Event) -> None:
    if flaky_failures["left"] > 0:
        flaky_failures["left"] -= 1
        raise ConnectionError("the other end is down")
    received["flaky"].append(event)


inline_failures = {"left": 0}


def _inline(event: Event) -> None:
    if inline_failures["left"] > 0:
        inline_failures["left"] -= 1
        raise ConnectionError("layer down")
    received["inline"].append(event)


nudges: list[str] = []
failures_seen: list[str] = []

healthy = Subscriber(
    name="healthy",
    kinds=frozenset({EventKind.SESSION_ENDED}),
    handle=_healthy,
    nudge=lambda: nudges.append("healthy"),
)
flaky = Subscriber(
    name="flaky",
    kinds=frozenset({EventKind.SESSION_ENDED}),
    handle=_flaky,
    failed=lambda event, error: failures_seen.append(f"{event.id}: {error}"),
)
inline = Subscriber(
    name="inline",
    kinds=frozenset({EventKind.SESSION_STARTED}),
    handle=_inline,
    inline=True,
)


@pytest.fixture(autouse=True)
def subscribers(settings):
    settings.EVENT_SUBSCRIBERS = [
        "events.tests.test_relay.healthy",
        "events.tests.test_relay.flaky",
        "events.tests.test_relay.inline",
    ]
    for events in received.values():
        events.clear()
    nudges.clear()
    failures_seen.clear()
    flaky_failures["left"] = 0
    inline_failures["left"] = 0


def make_due():
    OutboxMessage.objects.update(next_attempt_at=timezone.now())


def test_an_event_is_recorded_once_per_interested_subscriber():
    event_record(kind=EventKind.SESSION_ENDED, payload={"transaction": 7})
    rows = OutboxMessage.objects.order_by("subscriber")
    assert [(r.subscriber, r.kind, r.payload) for r in rows] == [
        ("flaky", "session.ended", {"transaction": 7}),
        ("healthy", "session.ended", {"transaction": 7}),
    ]
    assert all(r.handled_at is None and r.attempts == 0 for r in rows)


def test_a_rolled_back_change_leaves_no_event(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            event_record(kind=EventKind.SESSION_ENDED, payload={"transaction": 7})
            raise RuntimeError("rolled back")
    assert not OutboxMessage.objects.exists()
    assert nudges == []


def test_nothing_is_delivered_before_the_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        event_record(kind=EventKind.SESSION_STARTED, payload={"transaction": 1})
    assert received["inline"] == []
    for callback in callbacks:
        callback()
    assert [(e.id, e.payload) for e in received["inline"]] == [(None, {"transaction": 1})]
    assert not OutboxMessage.objects.exists()  # served from memory: no row written


def test_many_events_of_one_transaction_are_delivered_in_order(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            for pk in range(5):
                event_record(kind=EventKind.SESSION_STARTED, payload={"transaction": pk})
    assert [e.payload["transaction"] for e in received["inline"]] == [0, 1, 2, 3, 4]
    assert not OutboxMessage.objects.filter(handled_at__isnull=True).exists()


def test_only_events_of_committed_changes_are_delivered(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            event_record(kind=EventKind.SESSION_STARTED, payload={"transaction": 1})
            raise RuntimeError("rolled back")
        with transaction.atomic():
            event_record(kind=EventKind.SESSION_STARTED, payload={"transaction": 2})
            with pytest.raises(RuntimeError), transaction.atomic():  # a savepoint
                event_record(kind=EventKind.SESSION_STARTED, payload={"transaction": 3})
                raise RuntimeError("rolled back")
    assert [e.payload["transaction"] for e in received["inline"]] == [2]


def test_worker_subscribers_are_nudged_after_commit_and_served_by_the_relay(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        event_record(kind=EventKind.SESSION_ENDED, payload={"transaction": 3})
    assert nudges == ["healthy"]  # only subscribers that declare a nudge
    assert received["healthy"] == []  # not in the recording process
    report = outbox_relay()
    assert report.handled == 2
    assert [e.payload for e in received["healthy"]] == [{"transaction": 3}]
    assert outbox_relay().handled == 0  # handled once, never again


def test_a_failing_subscriber_is_retried_without_holding_up_the_others():
    flaky_failures["left"] = 1
    for pk in (1, 2):
        event_record(kind=EventKind.SESSION_ENDED, payload={"transaction": pk})

    report = outbox_relay()
    assert (report.handled, report.failed) == (3, 1)  # the first failure backs off...
    assert [e.payload["transaction"] for e in received["healthy"]] == [1, 2]
    assert [e.payload["transaction"] for e in received["flaky"]] == [2]  # ...the next goes on
    waiting = OutboxMessage.objects.get(subscriber="flaky", handled_at__isnull=True)
    assert waiting.attempts == 1
    assert waiting.last_error == "ConnectionError: the other end is down"
    assert waiting.next_attempt_at > timezone.now()
    assert failures_seen == [f"{waiting.pk}: the other end is down"]

    assert outbox_relay().handled == 0  # not due yet
    make_due()
    flaky_failures["left"] = 1
    assert outbox_relay().failed == 1  # second failure
    assert OutboxMessage.objects.get(pk=waiting.pk).attempts == 2
    make_due()
    assert outbox_relay().handled == 1
    assert [e.payload["transaction"] for e in received["flaky"]] == [2, 1]
    handled = OutboxMessage.objects.get(pk=waiting.pk)
    assert handled.handled_at is not None and handled.last_error == ""
    assert received["healthy"] == received["healthy"][:2]  # never delivered twice


def test_a_failed_inline_delivery_is_written_to_the_outbox_and_retried(
    django_capture_on_commit_callbacks,
):
    inline_failures["left"] = 1
    with django_capture_on_commit_callbacks(execute=True):
        event_record(kind=EventKind.SESSION_STARTED, payload={"transaction": 9})
    waiting = OutboxMessage.objects.get()
    assert (waiting.subscriber, waiting.attempts) == ("inline", 1)
    assert waiting.last_error == "ConnectionError: layer down"
    assert waiting.next_attempt_at > timezone.now()
    assert received["inline"] == []

    make_due()
    assert outbox_relay().handled == 1
    assert [e.payload for e in received["inline"]] == [{"transaction": 9}]
    assert OutboxMessage.objects.get().handled_at is not None


def test_back_off_doubles_up_to_the_cap(settings):
    settings.EVENTS_RETRY_MAX_SECONDS = 60
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4, 5, 9)] == [
        5,
        10,
        20,
        40,
        60,
        60,
    ]


def test_an_operator_can_make_a_failed_event_due_now():
    flaky_failures["left"] = 1
    event_record(kind=EventKind.SESSION_ENDED, payload={"transaction": 1})
    outbox_relay()
    waiting = OutboxMessage.objects.get(handled_at__isnull=True)
    assert outbox_retry_now(message_ids=[waiting.pk]) == 1
    assert outbox_relay().handled == 1


def test_purge_keeps_pending_events_and_recent_handled_ones():
    event_record(kind=EventKind.SESSION_ENDED, payload={"transaction": 1})
    old, pending = OutboxMessage.objects.order_by("subscriber")
    long_ago = timezone.now() - timedelta(days=3)
    OutboxMessage.objects.filter(pk=old.pk).update(handled_at=long_ago)
    assert outbox_purge(older_than=timedelta(days=1)) == 1
    assert list(OutboxMessage.objects.values_list("pk", flat=True)) == [pending.pk]


def test_events_of_an_unconfigured_subscriber_wait_for_it(settings):
    event_record(kind=EventKind.SESSION_ENDED, payload={"transaction": 1})
    settings.EVENT_SUBSCRIBERS = ["events.tests.test_relay.inline"]
    assert outbox_relay().handled == 0
    assert OutboxMessage.objects.filter(handled_at__isnull=True).count() == 2
