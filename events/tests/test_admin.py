"""The outbox in the console: undelivered events are listed and can be retried now."""

import pytest
from django.urls import reverse
from django.utils import timezone

from events.kinds import EventKind
from events.models import OutboxMessage

pytestmark = pytest.mark.django_db


@pytest.fixture
def failing():
    return OutboxMessage.objects.create(
        kind=EventKind.SESSION_ENDED,
        subscriber="invoicing",
        payload={"transaction": 1},
        attempts=3,
        last_error="ConnectionError: the database went away",
        next_attempt_at=timezone.now() + timezone.timedelta(minutes=5),
    )


def test_failing_events_are_listed_with_their_error(admin_client, failing):
    OutboxMessage.objects.create(
        kind=EventKind.SESSION_STARTED,
        subscriber="metrics",
        payload={"transaction": 1},
        handled_at=timezone.now(),
    )
    url = reverse("admin:events_outboxmessage_changelist")
    page = admin_client.get(url, {"delivery": "failing"})
    assert page.status_code == 200
    assert "ConnectionError: the database went away" in page.text
    assert list(page.context["cl"].result_list) == [failing]
    detail = admin_client.get(reverse("admin:events_outboxmessage_change", args=[failing.pk]))
    assert detail.status_code == 200
    assert admin_client.get(reverse("admin:events_outboxmessage_add")).status_code == 403


def test_retry_now_makes_a_failing_event_due(admin_client, failing):
    url = reverse("admin:events_outboxmessage_changelist")
    response = admin_client.post(
        url, {"action": "retry_now", "_selected_action": [failing.pk]}, follow=True
    )
    assert "1 event is due again." in response.text
    failing.refresh_from_db()
    assert failing.next_attempt_at <= timezone.now()
    assert failing.handled_at is None
