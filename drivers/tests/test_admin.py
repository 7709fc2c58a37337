import pytest
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from drivers.choices import AuthorizationStatus
from drivers.models import Driver, IdTag, User


def _url(model, view, *args):
    return reverse(f"admin:drivers_{model._meta.model_name}_{view}", args=args)


def _make_driver(username, *, phone="", tags=()):
    user = User.objects.create_user(
        username=username, email=f"{username}@example.com", first_name=username.title()
    )
    driver = Driver.objects.create(user=user, phone=phone)
    for tag in tags:
        IdTag.objects.create(id_tag=tag, driver=driver)
    return driver


@pytest.fixture
def alice():
    return _make_driver("alice", phone="+66 81 000 0001", tags=["ALICE-CARD"])


@pytest.fixture
def bob():
    return _make_driver("bob", phone="+66 81 000 0002", tags=["BOB-CARD"])


def test_user_model_uses_the_auth_user_admin():
    assert isinstance(admin.site._registry[User], UserAdmin)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model", "expected"),
    [(User, "alice@example.com"), (Driver, "+66 81 000 0001"), (IdTag, "ALICE-CARD")],
)
def test_changelist_and_change_page_render(admin_client, alice, model, expected):
    response = admin_client.get(_url(model, "changelist"))
    assert response.status_code == 200
    assert expected in response.text

    obj = {User: alice.user, Driver: alice, IdTag: alice.id_tags.get()}[model]
    response = admin_client.get(_url(model, "change", obj.pk))
    assert response.status_code == 200
    assert expected in response.text


@pytest.mark.django_db
def test_driver_page_lists_its_id_tags(admin_client, alice):
    IdTag.objects.create(id_tag="ALICE-APP", driver=alice)
    response = admin_client.get(_url(Driver, "change", alice.pk))
    (formset,) = [
        inline.formset
        for inline in response.context["inline_admin_formsets"]
        if inline.formset.model is IdTag
    ]
    assert {form.instance.id_tag for form in formset.forms if form.instance.pk} == {
        "ALICE-CARD",
        "ALICE-APP",
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model", "term", "expected"),
    [
        (Driver, "alice", {"alice"}),
        (Driver, "0002", {"bob"}),
        (Driver, "bob-card", {"bob"}),
        (Driver, "carol", set()),
        (IdTag, "alice-card", {"alice"}),
        (IdTag, "bob@example.com", {"bob"}),
        (IdTag, "card", {"alice", "bob"}),
        (IdTag, "carol", set()),
        (User, "bob", {"bob"}),
    ],
)
def test_search(admin_client, alice, bob, model, term, expected):
    response = admin_client.get(_url(model, "changelist"), {"q": term})
    found = response.context["cl"].result_list
    owner = {
        User: lambda obj: obj.username,
        Driver: lambda obj: obj.user.username,
        IdTag: lambda obj: obj.driver.user.username,
    }[model]
    assert {owner(obj) for obj in found} == expected


@pytest.mark.django_db
def test_block_and_unblock_actions(admin_client, alice, bob):
    alice_tag, bob_tag = alice.id_tags.get(), bob.id_tags.get()
    url = _url(IdTag, "changelist")

    response = admin_client.post(
        url, {"action": "block_selected", "_selected_action": [alice_tag.pk]}, follow=True
    )
    assert response.status_code == 200
    alice_tag.refresh_from_db()
    bob_tag.refresh_from_db()
    assert alice_tag.status == AuthorizationStatus.BLOCKED
    assert bob_tag.status == AuthorizationStatus.ACCEPTED
    assert "1 id tag blocked." in response.text

    admin_client.post(
        url, {"action": "block_selected", "_selected_action": [alice_tag.pk, bob_tag.pk]}
    )
    assert set(IdTag.objects.values_list("status", flat=True)) == {AuthorizationStatus.BLOCKED}

    response = admin_client.post(
        url, {"action": "unblock_selected", "_selected_action": [bob_tag.pk]}, follow=True
    )
    alice_tag.refresh_from_db()
    bob_tag.refresh_from_db()
    assert bob_tag.status == AuthorizationStatus.ACCEPTED
    assert alice_tag.status == AuthorizationStatus.BLOCKED
    assert "1 id tag accepted." in response.text


@pytest.mark.django_db
def test_id_tag_changelist_queries_do_not_grow_with_rows(admin_client, alice):
    def count():
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(_url(IdTag, "changelist")).status_code == 200
        return len(queries)

    few = count()
    parent = alice.id_tags.get()
    for number in range(4):
        driver = _make_driver(f"user{number}")
        IdTag.objects.create(id_tag=f"TAG-{number}", driver=driver, parent=parent)
    assert count() == few


@pytest.mark.django_db
def test_driver_changelist_queries_do_not_grow_with_rows(admin_client, alice):
    def count():
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(_url(Driver, "changelist")).status_code == 200
        return len(queries)

    few = count()
    for number in range(4):
        _make_driver(f"user{number}")
    assert count() == few


@pytest.mark.django_db
@pytest.mark.parametrize("model", [User, Driver, IdTag])
def test_add_page_renders(admin_client, model):
    assert admin_client.get(_url(model, "add")).status_code == 200


@pytest.mark.django_db
def test_add_user_through_the_user_admin(admin_client):
    response = admin_client.post(
        _url(User, "add"),
        {
            "username": "carol",
            "password1": "a-long-unusual-passphrase",
            "password2": "a-long-unusual-passphrase",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302
    assert User.objects.get(username="carol").check_password("a-long-unusual-passphrase")
