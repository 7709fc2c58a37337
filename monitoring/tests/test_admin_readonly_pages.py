"""Read-only console pages have nothing to save: no Save buttons, in the page itself."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from api_support.testing import add_reading, make_charge_point, make_invoice, make_session
from events.models import OutboxMessage
from monitoring.admin_base import ReadOnlyAdminMixin
from monitoring.models import Node, NodeKind
from ocpp_consumer.models import Command, Direction, JournalEntry
from stations.models import ConnectorStatusLog

pytestmark = pytest.mark.django_db

SAVE_BUTTONS = ('name="_save"', 'name="_continue"', 'name="_addanother"', 'name="_saveasnew"')


def change_url(obj) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])


@pytest.fixture
def records():
    """One record of each kind the system writes and operators only read."""
    now = timezone.now()
    charge_point = make_charge_point("CP-RO", connectors={1: "Faulted"})
    session = make_session(charge_point, "TAG-RO", energy_wh=7500)
    reading = add_reading(session, "12000", minutes=30)
    invoice = make_invoice(session)
    return [
        session,
        reading,
        invoice,
        Command.objects.create(charge_point=charge_point, action="Reset", payload={}),
        JournalEntry.objects.create(
            charge_point=charge_point,
            direction=Direction.IN,
            message_type=2,
            action="Heartbeat",
            payload={},
            timestamp=now,
        ),
        ConnectorStatusLog.objects.create(
            connector=charge_point.connectors.get(), status="Faulted"
        ),
        OutboxMessage.objects.create(
            kind="session.ended", subscriber="invoicing", payload={"transaction": session.pk}
        ),
        Node.objects.create(
            node_id="asgi@ro",
            kind=NodeKind.ASGI,
            hostname="h",
            pid=1,
            started_at=now - timedelta(minutes=5),
            last_seen=now,
        ),
        AccessAttempt.objects.create(
            username="mallory",
            ip_address="127.0.0.1",
            user_agent="test",
            failures_since_start=3,
            get_data="",
            post_data="",
            http_accept="*/*",
            path_info="/admin/login/",
        ),
    ]


def test_read_only_pages_show_no_save_button(admin_client, records):
    for record in records:
        url = change_url(record)
        response = admin_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        for button in SAVE_BUTTONS:
            assert button not in html, (url, button)
        assert 'class="closelink"' in html, url  # Django's "Close" instead


def test_saving_a_read_only_page_is_refused(admin_client, records):
    command = next(record for record in records if isinstance(record, Command))
    response = admin_client.post(change_url(command), {"action": "Reset", "_save": "Save"})
    assert response.status_code == 403
    command.refresh_from_db()
    assert command.action == "Reset"


def test_pages_nobody_may_change_are_read_only_pages(admin_user, rf):
    """Every page whose record nobody may change hides its Save buttons the same way."""
    request = rf.get("/admin/")
    request.user = admin_user
    for model, model_admin in admin.site._registry.items():
        if not model_admin.has_change_permission(request):
            assert isinstance(model_admin, ReadOnlyAdminMixin), model
            assert not model_admin.save_as, model


def test_access_attempts_stay_deletable(admin_user, rf):
    """Deleting an attempt is how an operator unlocks a user early."""
    request = rf.get("/admin/")
    request.user = admin_user
    model_admin = admin.site._registry[AccessAttempt]
    assert not model_admin.has_change_permission(request)
    assert model_admin.has_delete_permission(request)
