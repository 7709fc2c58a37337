"""Local authorization lists in our own terms: which tags, which version, what was accepted."""

from datetime import UTC, datetime

import pytest

from api_support.testing import make_charge_point
from drivers.choices import AuthorizationStatus
from drivers.models import IdTag, LocalAuthList
from drivers.services import (
    local_list_accepted,
    local_list_update_plan,
    local_list_updates,
    local_list_version_reported,
)

pytestmark = pytest.mark.django_db

EXPIRY = datetime(2027, 1, 1, tzinfo=UTC)


@pytest.fixture
def tags():
    fleet = IdTag.objects.create(id_tag="FLEET")
    return {
        "A": IdTag.objects.create(id_tag="A-1", parent=fleet, expiry_date=EXPIRY),
        "B": IdTag.objects.create(id_tag="B-2", status=AuthorizationStatus.BLOCKED),
        "C": IdTag.objects.create(id_tag="C-3"),
    }


def test_a_full_update_lists_every_tag_with_its_stored_authorization(tags):
    charge_point = make_charge_point("CP1")
    update = local_list_update_plan(charge_point_pk=charge_point.pk, id_tags=[tags["B"], tags["A"]])
    assert (update.version, update.full) == (1, True)
    assert [entry.id_tag for entry in update.entries] == ["A-1", "B-2"]
    first, second = (entry.authorization for entry in update.entries)
    assert (first.status, first.expiry_date, first.parent_id_tag) == ("Accepted", EXPIRY, "FLEET")
    assert (second.status, second.parent_id_tag) == ("Blocked", None)


def test_accepted_updates_change_the_list_and_its_version(tags):
    charge_point = make_charge_point("CP1")
    local_list_accepted(
        charge_point_pk=charge_point.pk, version=1, full=True, id_tags=["a-1", "B-2"]
    )
    current = LocalAuthList.objects.get(charge_point=charge_point)
    assert current.version == 1
    assert set(current.id_tags.values_list("id_tag", flat=True)) == {"A-1", "B-2"}

    update = local_list_update_plan(
        charge_point_pk=charge_point.pk, id_tags=[tags["B"], tags["C"]], full=False
    )
    assert update.version == 2
    assert [(e.id_tag, e.authorization is None) for e in update.entries] == [
        ("A-1", True),
        ("B-2", False),
        ("C-3", False),
    ]
    local_list_accepted(
        charge_point_pk=charge_point.pk,
        version=2,
        full=False,
        id_tags=["B-2", "C-3"],
        removed_id_tags=["A-1"],
    )
    current.refresh_from_db()
    assert current.version == 2
    assert set(current.id_tags.values_list("id_tag", flat=True)) == {"B-2", "C-3"}


@pytest.mark.parametrize(
    ("mode", "selected", "full", "listed"),
    [
        ("add", "C", False, {"A-1", "C-3"}),
        ("remove", "A", False, set()),
        ("replace", "C", True, {"C-3"}),
    ],
)
def test_an_operator_selection_becomes_one_update_per_charge_point(
    tags, mode, selected, full, listed
):
    first, second = make_charge_point("CP1"), make_charge_point("CP2")
    local_list_accepted(charge_point_pk=first.pk, version=4, full=True, id_tags=["A-1"])
    updates = local_list_updates(
        charge_point_pks=[first.pk, second.pk], selected=[tags[selected]], mode=mode
    )
    kept = {e.id_tag for e in updates[first.pk].entries if e.authorization is not None}
    assert (updates[first.pk].version, updates[first.pk].full, kept) == (5, full, listed)
    assert updates[second.pk].version == 1


def test_a_reported_version_is_recorded_apart_from_the_accepted_one():
    charge_point = make_charge_point("CP1")
    local_list_version_reported(charge_point_pk=charge_point.pk, version=7)
    current = LocalAuthList.objects.get(charge_point=charge_point)
    assert (current.version, current.reported_version) == (0, 7)
    assert current.reported_at is not None
