"""A running session's console page costs the same few queries however long it ran."""

import pytest
from django.urls import reverse

from api_support.testing import add_reading, make_charge_point, make_session
from stations.models import Transaction

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("readings", [5, 60])
def test_a_running_session_page_runs_a_constant_number_of_queries(
    admin_client, django_assert_max_num_queries, readings
):
    charge_point = make_charge_point("CP-1", connectors={1: "Charging"})
    session = make_session(charge_point, "TAG", connector_id=1)
    Transaction.objects.filter(pk=session.pk).update(
        stop_timestamp=None, meter_stop=None, status="running", energy_wh=None
    )
    for minute in range(1, readings + 1):
        add_reading(session, str(10_000 + minute * 100), minutes=minute)
    # The latest meter values inline once queried its samples for every row it drew.
    with django_assert_max_num_queries(20):
        response = admin_client.get(reverse("admin:stations_transaction_change", args=[session.pk]))
    assert response.status_code == 200
    assert response.content.count(b'class="field-measurand"') >= min(readings, 5)
