"""The id-tags collection: case-insensitive lookup, parents, scoping by driver."""

import pytest

from api_support.testing import client_for, make_driver, make_operator
from drivers.models import IdTag

pytestmark = pytest.mark.django_db

ID_TAGS = "/api/v1/id-tags/"
ALL = ("drivers.view_idtag", "drivers.add_idtag", "drivers.change_idtag", "drivers.delete_idtag")


def values(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["id_tag"] for row in response.json()["results"]]


def test_anonymous_gets_401():
    assert client_for().get(ID_TAGS).status_code == 401
    assert client_for().get("/api/v1/me/id-tags/").status_code == 401


def test_staff_without_permission_gets_403():
    IdTag.objects.create(id_tag="TAG-1")
    client = client_for(make_operator())
    assert client.get(ID_TAGS).status_code == 403
    assert client.get(f"{ID_TAGS}TAG-1/").status_code == 403


def test_operator_creates_a_tag_with_parent_named_by_value():
    parent = IdTag.objects.create(id_tag="FLEET")
    alice = make_driver("alice")
    client = client_for(make_operator(*ALL))
    response = client.post(
        ID_TAGS,
        {
            "id_tag": "04A2B3",
            "parent_id_tag": "fleet",
            "driver": alice.driver.pk,
            "expiry_date": "2027-01-01T00:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["parent_id_tag"] == "FLEET"
    assert body["status"] == "Accepted"
    assert body["driver"] == alice.driver.pk
    tag = IdTag.objects.get(id_tag="04A2B3")
    assert tag.parent == parent
    assert tag.driver == alice.driver


def test_tag_values_are_unique_ignoring_case():
    IdTag.objects.create(id_tag="ABC")
    client = client_for(make_operator(*ALL))
    response = client.post(ID_TAGS, {"id_tag": "abc"}, format="json")
    assert response.status_code == 400
    assert "id_tag" in response.json()
    assert IdTag.objects.count() == 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({"id_tag": "X" * 21}, "id_tag"),
        ({"id_tag": "T", "status": "Maybe"}, "status"),
        ({"id_tag": "T", "parent_id_tag": "NOPE"}, "parent_id_tag"),
        ({"id_tag": "T", "driver": 999}, "driver"),
    ],
)
def test_invalid_tag_body_names_the_field(body, field):
    response = client_for(make_operator(*ALL)).post(ID_TAGS, body, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_lookup_ignores_case_and_updates_and_deletes():
    IdTag.objects.create(id_tag="AbC-1")
    client = client_for(make_operator(*ALL))
    assert client.get(f"{ID_TAGS}abc-1/").json()["id_tag"] == "AbC-1"
    response = client.patch(f"{ID_TAGS}ABC-1/", {"status": "Blocked"}, format="json")
    assert response.status_code == 200
    assert IdTag.objects.get().status == "Blocked"
    assert client.delete(f"{ID_TAGS}abc-1/").status_code == 204
    assert not IdTag.objects.exists()


def test_a_tag_cannot_be_its_own_parent():
    IdTag.objects.create(id_tag="SELF")
    client = client_for(make_operator(*ALL))
    response = client.patch(f"{ID_TAGS}SELF/", {"parent_id_tag": "self"}, format="json")
    assert response.status_code == 400
    assert "parent_id_tag" in response.json()


def test_renaming_to_the_same_value_in_another_case_is_allowed():
    IdTag.objects.create(id_tag="abc")
    client = client_for(make_operator(*ALL))
    response = client.patch(f"{ID_TAGS}abc/", {"id_tag": "ABC"}, format="json")
    assert response.status_code == 200
    assert IdTag.objects.get().id_tag == "ABC"


def test_filters_and_search():
    alice = make_driver("alice", "ALICE-1")
    IdTag.objects.create(id_tag="LOOSE", status="Blocked", note="lost card")
    client = client_for(make_operator("drivers.view_idtag"))
    assert values(client.get(ID_TAGS, {"status": "Blocked"})) == ["LOOSE"]
    assert values(client.get(ID_TAGS, {"driver": alice.driver.pk})) == ["ALICE-1"]
    assert values(client.get(ID_TAGS, {"has_driver": "false"})) == ["LOOSE"]
    assert values(client.get(ID_TAGS, {"search": "lost"})) == ["LOOSE"]
    assert values(client.get(ID_TAGS, {"search": "alice"})) == ["ALICE-1"]


def test_driver_sees_only_own_tags_with_contract_fields():
    alice = make_driver("alice", "ALICE-1", "ALICE-2")
    make_driver("bob", "BOB-1")
    IdTag.objects.create(id_tag="NOBODY")
    client = client_for(alice)
    assert values(client.get(ID_TAGS)) == ["ALICE-1", "ALICE-2"]
    assert values(client.get("/api/v1/me/id-tags/")) == ["ALICE-1", "ALICE-2"]
    tag = IdTag.objects.get(id_tag="ALICE-1")
    assert client.get(f"{ID_TAGS}alice-1/").json() == {
        "id_tag": "ALICE-1",
        "status": "Accepted",
        "expiry_date": None,
        "parent_id_tag": None,
        "driver": alice.driver.pk,
        "updated_at": tag.updated_at.isoformat().replace("+00:00", "Z"),
    }
    assert client.get(f"{ID_TAGS}BOB-1/").status_code == 404
    assert client.get(f"{ID_TAGS}NOBODY/").status_code == 404


def test_driver_cannot_create_change_or_delete_tags():
    alice = make_driver("alice", "ALICE-1")
    client = client_for(alice)
    assert client.post(ID_TAGS, {"id_tag": "MINE"}, format="json").status_code == 403
    assert client.patch(f"{ID_TAGS}ALICE-1/", {"status": "Accepted"}).status_code == 403
    assert client.delete(f"{ID_TAGS}ALICE-1/").status_code == 403
    assert list(IdTag.objects.values_list("id_tag", flat=True)) == ["ALICE-1"]


def test_id_tag_list_query_count_does_not_grow_with_rows(django_assert_max_num_queries):
    parent = IdTag.objects.create(id_tag="FLEET")
    alice = make_driver("alice")
    for number in range(12):
        IdTag.objects.create(id_tag=f"T{number}", parent=parent, driver=alice.driver)
    client = client_for(make_operator("drivers.view_idtag"))
    with django_assert_max_num_queries(5):
        response = client.get(ID_TAGS)
    assert response.json()["count"] == 13
