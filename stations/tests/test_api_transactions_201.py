"""2.0.1 sessions in the transactions API: their charger's transaction id, shown and filterable."""

import pytest

from api_support.testing import (
    client_for,
    make_charge_point,
    make_driver,
    make_operator,
    make_session,
)

pytestmark = pytest.mark.django_db

TRANSACTIONS = "/api/v1/transactions/"
VIEW = ("stations.view_transaction", "stations.view_metervalue")


def test_the_chargers_transaction_id_is_shown_and_filters():
    charge_point = make_charge_point("CP201", connectors={1: "Available", 2: "Available"})
    wanted = make_session(charge_point, "TAG-1", ocpp_transaction_id="a1b2-c3")
    make_session(charge_point, "TAG-2", connector_id=2, ocpp_transaction_id="zz-9")
    client = client_for(make_operator(*VIEW))

    body = client.get(TRANSACTIONS, {"ocpp_transaction_id": "a1b2-c3"}).json()

    assert [row["id"] for row in body["results"]] == [wanted.pk]
    assert body["results"][0]["ocpp_transaction_id"] == "a1b2-c3"


def test_drivers_see_it_on_their_own_sessions():
    charge_point = make_charge_point("CP201")
    user = make_driver("driver-201", "MINE-1")
    make_session(charge_point, "MINE-1", ocpp_transaction_id="mine-1")

    body = client_for(user).get(TRANSACTIONS).json()

    assert [row["ocpp_transaction_id"] for row in body["results"]] == ["mine-1"]
