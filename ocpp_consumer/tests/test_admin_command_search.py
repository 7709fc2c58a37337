"""The command history finds a charge point's commands (any case) or one message id."""

import pytest
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
