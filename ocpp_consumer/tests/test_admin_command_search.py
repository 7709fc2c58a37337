"""The command history finds a charge point's commands (any case) or one message id."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from api_support.testing import make_charge_point
from ocpp_consumer.models import Command

pytestmark = pytest.mark.django_db

HISTORY = reverse("admin:ocpp_consumer_command_changelist")


def found(admin_client, term):
    response = admin_client.get(HISTORY, {"q": term})
    assert response.status_code == 200
    return {command.pk for command in response.context["cl"].result_list}


def test_commands_are_found_by_charge_point_id_or_message_id(admin_client):
    north, south = make_charge_point("CP-NORTH"), make_charge_point("CP-SOUTH")
    reset = Command.objects.create(charge_point=north, action="Reset", unique_id="m-1")
    unlock = Command.objects.create(charge_point=north, action="UnlockConnector")
    other = Command.objects.create(charge_point=south, action="Reset", unique_id="m-2")
    assert found(admin_client, "cp-north") == {reset.pk, unlock.pk}
    assert found(admin_client, "m-2") == {other.pk}
    assert found(admin_client, "NORTH") == set()
    assert found(admin_client, "") == {reset.pk, unlock.pk, other.pk}


def test_the_source_filter_offers_fixed_choices_without_reading_the_history(admin_client):
    charge_point = make_charge_point("CP-EAST")
    by_api = Command.objects.create(charge_point=charge_point, action="Reset", source="api")
    Command.objects.create(charge_point=charge_point, action="Reset", source="admin")
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(HISTORY, {"source": "api"})
    assert response.status_code == 200
    assert {c.pk for c in response.context["cl"].result_list} == {by_api.pk}
    assert not [q["sql"] for q in queries.captured_queries if "DISTINCT" in q["sql"].upper()]
    html = response.content.decode()
    for source in ("admin", "cli", "loadmgmt", "roaming", "system"):
        assert f"?source={source}" in html, source
