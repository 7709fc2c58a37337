"""A driver sees the tariffs they may be charged now; operators see every tariff."""

from datetime import timedelta

import pytest
from django.utils import timezone

from api_support.testing import client_for, make_driver, make_operator
from billing.models import TagGroup, Tariff
from billing.selectors import tariff_candidates, tariff_list_for_driver
from drivers.models import IdTag

pytestmark = pytest.mark.django_db

TARIFFS = "/api/v1/tariffs/"


@pytest.fixture
def tariffs(charge_point, station):
    """One tariff of each kind; the names say who may see them."""
    Tariff.objects.all().delete()  # the default a migration installs
    now = timezone.now()
    fleet = TagGroup.objects.create(name="Fleet")
    staff = TagGroup.objects.create(name="Staff")
    parent = IdTag.objects.create(id_tag="FLEET-PARENT")
    fleet.id_tags.add(parent)
    staff.id_tags.add(IdTag.objects.get(id_tag="TAG-1"))
    connector = charge_point.connectors.create(connector_id=1)
    return {
        "default": Tariff.objects.create(name="default", is_default=True),
        "station": Tariff.objects.create(name="station", station=station),
        "charge point": Tariff.objects.create(name="charge point", charge_point=charge_point),
        "connector": Tariff.objects.create(name="connector", connector=connector),
        "fleet": Tariff.objects.create(name="fleet", tag_group=fleet),
        "fleet here": Tariff.objects.create(
            name="fleet here", tag_group=fleet, charge_point=charge_point
        ),
        "staff": Tariff.objects.create(name="staff", tag_group=staff),
        "expired": Tariff.objects.create(
            name="expired", is_default=True, valid_until=now - timedelta(days=1)
        ),
        "future": Tariff.objects.create(
            name="future", station=station, valid_from=now + timedelta(days=1)
        ),
        "never applies": Tariff.objects.create(name="never applies"),
    }


def names(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {tariff["name"] for tariff in response.json()["results"]}


PUBLIC_NOW = {"default", "station", "charge point", "connector"}
# A driver's list also shows what applies from a later date (with its valid_from).
PUBLIC = PUBLIC_NOW | {"future"}


def test_a_driver_without_groups_sees_the_public_tariffs_valid_now_or_later(tariffs):
    client = client_for(make_driver("alice", "ALICE-1"))
    assert names(client.get(TARIFFS)) == PUBLIC
    assert client.get(f"{TARIFFS}{tariffs['staff'].pk}/").status_code == 404
    assert client.get(f"{TARIFFS}{tariffs['expired'].pk}/").status_code == 404


def test_a_driver_sees_the_tariffs_of_their_groups_by_tag_or_parent(tariffs):
    user = make_driver("bob", "BOB-1")
    IdTag.objects.filter(id_tag="BOB-1").update(parent=IdTag.objects.get(id_tag="FLEET-PARENT"))
    assert names(client_for(user).get(TARIFFS)) == PUBLIC | {"fleet", "fleet here"}


def test_operators_see_every_tariff(tariffs):
    client = client_for(make_operator("billing.view_tariff"))
    assert names(client.get(TARIFFS)) == set(tariffs)


def test_drivers_still_cannot_change_tariffs(tariffs):
    client = client_for(make_driver("alice", "ALICE-1"))
    response = client.patch(f"{TARIFFS}{tariffs['default'].pk}/", {"name": "x"}, format="json")
    assert response.status_code == 403


def test_the_driver_list_and_session_pricing_share_one_rule(tariffs, charge_point):
    """At one connector with one tag, the candidates are the driver's list narrowed there."""
    user = make_driver("carol")
    IdTag.objects.filter(id_tag="TAG-1").update(driver=user.driver)
    now = timezone.now()
    listed = set(tariff_list_for_driver(user=user, now=now))
    tag = IdTag.objects.get(id_tag="TAG-1")
    here = set(
        tariff_candidates(
            valid_at=[now],
            tag_ids=[tag.pk],
            charge_point_pk=charge_point.pk,
            connector_pk=charge_point.connectors.get().pk,
        )
    )
    assert {t.name for t in listed} == PUBLIC | {"staff"}
    assert here <= listed
    assert {t.name for t in here} == PUBLIC_NOW | {"staff"}


def test_anonymous_sees_no_tariffs(tariffs):
    assert client_for().get(TARIFFS).status_code in (401, 403)


def test_a_quote_picks_as_a_started_session_would(tariffs, charge_point):
    """tariff_applicable (for quotes) chooses what tariff_in_force chooses for a session."""
    from api_support.testing import make_session
    from billing.selectors import tariff_applicable, tariff_in_force

    tag = IdTag.objects.get(id_tag="TAG-1")
    connector = charge_point.connectors.get()
    session = make_session(charge_point, "TAG-1", start=timezone.now())
    chosen = tariff_applicable(
        tag_ids=[tag.pk], charge_point_pk=charge_point.pk, connector_pk=connector.pk,
        at=session.start_timestamp,
    )  # fmt: skip
    assert chosen == tariff_in_force(transaction=session) == tariffs["staff"]
    anonymous = tariff_applicable(
        tag_ids=[], charge_point_pk=charge_point.pk, connector_pk=connector.pk,
        at=session.start_timestamp,
    )  # fmt: skip
    assert anonymous == tariffs["connector"]
