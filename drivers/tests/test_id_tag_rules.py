"""Id tag rules live on the model; the API and the admin refuse alike."""

import pytest
from django.urls import reverse

from api_support.testing import client_for, make_operator
from drivers.models import IdTag

pytestmark = pytest.mark.django_db

ID_TAGS = "/api/v1/id-tags/"
TAKEN = "An id tag with this value exists (id tags ignore case)."
OWN_PARENT = "An id tag cannot be its own parent."


def _admin_post(admin_client, url, **fields):
    data = {"id_tag": "", "status": "Accepted", "expiry_date": "", "parent": "", "driver": ""}
    return admin_client.post(url, {**data, **fields})


def _admin_errors(response) -> list[str]:
    assert response.status_code == 200, "the admin saved what it should refuse"
    form = response.context["adminform"].form
    return [message for messages in form.errors.values() for message in messages]


def test_a_value_taken_in_another_case_is_refused_with_one_message(admin_client):
    IdTag.objects.create(id_tag="ABC")
    client = client_for(make_operator(superuser=True))
    response = client.post(ID_TAGS, {"id_tag": "abc"}, format="json")
    assert response.status_code == 400
    assert response.json()["id_tag"] == [TAKEN]
    response = _admin_post(admin_client, reverse("admin:drivers_idtag_add"), id_tag="abc")
    assert _admin_errors(response) == [TAKEN]
    assert IdTag.objects.count() == 1


def test_a_tag_is_refused_as_its_own_parent(admin_client):
    tag = IdTag.objects.create(id_tag="SELF")
    client = client_for(make_operator(superuser=True))
    response = client.patch(f"{ID_TAGS}SELF/", {"parent_id_tag": "self"}, format="json")
    assert response.status_code == 400
    assert response.json()["parent_id_tag"] == [OWN_PARENT]
    url = reverse("admin:drivers_idtag_change", args=[tag.pk])
    response = _admin_post(admin_client, url, id_tag="SELF", parent=tag.pk)
    assert response.context["adminform"].form.errors["parent"] == [OWN_PARENT]
    tag.refresh_from_db()
    assert tag.parent is None


def test_renaming_a_tag_in_another_case_is_not_a_clash(admin_client):
    tag = IdTag.objects.create(id_tag="abc")
    url = reverse("admin:drivers_idtag_change", args=[tag.pk])
    assert _admin_post(admin_client, url, id_tag="ABC").status_code == 302
    client = client_for(make_operator(superuser=True))
    response = client.patch(f"{ID_TAGS}abc/", {"id_tag": "Abc"}, format="json")
    assert response.status_code == 200
    assert IdTag.objects.get().id_tag == "Abc"
