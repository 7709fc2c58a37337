"""`?search=` finds what DRF's search found, with branches through a foreign key as key lists."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from api_support import search
from api_support.testing import client_for, make_charge_point, make_driver, make_session

pytestmark = pytest.mark.django_db
TRANSACTIONS = "/api/v1/transactions/"


@pytest.fixture(autouse=True)
def _fresh_rate_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def operator_client():
    from api_support.testing import make_operator

    return client_for(make_operator(superuser=True))


@pytest.fixture
def sessions():
    make_driver("alice", "ALICE-TAG")
    make_driver("bob", "BOB-TAG")
    north = make_charge_point("NORTH-1", connectors={1: "Available", 2: "Available"})
    south = make_charge_point("SOUTH-1", connectors={1: "Available"})
    return {
        "alice_north": make_session(north, "ALICE-TAG", connector_id=1, energy_wh=1),
        "bob_north": make_session(north, "BOB-TAG", connector_id=2, energy_wh=1),
        "bob_south": make_session(south, "BOB-TAG", connector_id=1, energy_wh=1),
    }


def _found(client, term) -> set[int]:
    response = client.get(TRANSACTIONS, {"search": term})
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_a_term_matches_the_field_or_the_related_field(operator_client, sessions):
    ids = {name: session.pk for name, session in sessions.items()}
    assert _found(operator_client, "north") == {ids["alice_north"], ids["bob_north"]}
    assert _found(operator_client, "bob") == {ids["bob_north"], ids["bob_south"]}
    # Every term must match (in one field or another), case-insensitively.
    assert _found(operator_client, "bob NORTH") == {ids["bob_north"]}
    assert _found(operator_client, "-1") == set(ids.values())
    assert _found(operator_client, "nobody") == set()


def test_the_listed_table_is_filtered_by_keys_not_joined(operator_client, sessions):
    with CaptureQueriesContext(connection) as queries:
        assert len(_found(operator_client, "south")) == 1
    listing = [q["sql"] for q in queries.captured_queries if "stations_transaction" in q["sql"]]
    assert listing
    # The charge point's id is looked up on its own; the list filters by its key.
    for sql in listing:
        where = sql.rsplit(" WHERE ", 1)[1]  # the outer one
        assert '"stations_chargepoint"."charge_point_id"' not in where, sql
        assert '"stations_transaction"."charge_point_id" IN (' in where, sql


def test_beyond_the_key_limit_the_branch_is_a_subquery(operator_client, sessions, monkeypatch):
    monkeypatch.setattr(search, "RELATED_KEYS_LIMIT", 1)
    ids = {name: session.pk for name, session in sessions.items()}
    # Both charge points match "-1": more than one key, so a subquery; same answer.
    assert _found(operator_client, "-1") == set(ids.values())
    assert _found(operator_client, "south") == {ids["bob_south"]}


def test_a_path_of_two_hops_is_joined_in_the_lookup(operator_client):
    # Id tags search their driver's user name: driver -> user is joined in the key lookup.
    make_driver("carol", "CAROL-TAG")
    response = operator_client.get("/api/v1/id-tags/", {"search": "carol"})
    assert response.status_code == 200
    assert [row["id_tag"] for row in response.json()["results"]] == ["CAROL-TAG"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram indexes are PostgreSQL's")
@pytest.mark.parametrize(
    "table, index",
    [
        ("stations_transaction", "transaction_id_tag_trgm"),
        ("billing_invoice", "invoice_number_trgm"),
    ],
)
def test_the_large_tables_search_columns_have_trigram_indexes(table, index):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexname = %s",
            [table, index],
        )
        [(definition,)] = cursor.fetchall()
    assert "gin_trgm_ops" in definition and "upper(" in definition.lower()
