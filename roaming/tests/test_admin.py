"""Roaming partners in the console: token A shown once, stored hashed."""

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from roaming.credential_tokens import token_hash
from roaming.models import Party

pytestmark = pytest.mark.django_db


def shown_token(response) -> str:
    text = " ".join(str(message) for message in get_messages(response.wsgi_request))
    return re.search(r"shown only now\): (\S+)\. Give", text).group(1)


def test_adding_a_partner_shows_its_token_a_once(admin_client):
    response = admin_client.post(
        reverse("admin:roaming_party_add"),
        {"name": "Peer", "country_code": "DE", "party_id": "EMS", "role": "EMSP"},
    )
    assert response.status_code == 302
    party = Party.objects.get()
    token_a = shown_token(response)
    assert party.registration_token_hash == token_hash(token_a)
    assert party.status == "pending"


def test_reopening_issues_a_new_token_a_and_ends_the_registration(admin_client):
    party = Party.objects.create(
        name="Peer", country_code="DE", party_id="EMS", role="EMSP", status="registered",
        incoming_token_hash=token_hash("old-c"), outgoing_token_encrypted="x",
    )  # fmt: skip
    response = admin_client.post(
        reverse("admin:roaming_party_changelist"),
        {"action": "reopen_registration", "_selected_action": [party.pk]},
    )
    party.refresh_from_db()
    assert party.registration_token_hash == token_hash(shown_token(response))
    assert (party.status, party.incoming_token_hash, party.outgoing_token_encrypted) == (
        "pending", None, "",
    )  # fmt: skip


def test_console_pages_open(admin_client):
    for name in ("party", "exchange", "roamingtoken", "tariffversion"):
        assert admin_client.get(reverse(f"admin:roaming_{name}_changelist")).status_code == 200
