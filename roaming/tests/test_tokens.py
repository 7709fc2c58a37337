"""Tokens pushed by a partner, and a roaming driver's card at our chargers (OCPP 1.6 and 2.0.1)."""

import json
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client

from api_support.testing import client_for, make_operator
from csms_project.asgi import application
from drivers.models import IdTag
from roaming.models import RoamingToken

TOKENS = "/ocpi/cpo/2.2.1/tokens"


def token(uid="04A1B2C3D4", **changes) -> dict:
    value = {
        "country_code": "DE",
        "party_id": "EMS",
        "uid": uid,
        "type": "RFID",
        "contract_id": "DE-EMS-C12345678-9",
        "issuer": "Peer eMSP",
        "valid": True,
        "whitelist": "ALWAYS",
        "last_updated": "2026-12-01T10:00:00Z",
    }
    value.update(changes)
    return value


def put(client, auth, body, uid="04A1B2C3D4", path=None):
    return client.put(
        path or f"{TOKENS}/DE/EMS/{uid}",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=auth,
    )


@pytest.mark.django_db
def test_a_pushed_token_is_stored_and_read_back(client, registered_party):
    _, auth = registered_party
    assert put(client, auth, token()).status_code == 201
    assert put(client, auth, token(issuer="Renamed")).status_code == 200
    read = client.get(f"{TOKENS}/DE/EMS/04A1B2C3D4?type=RFID", HTTP_AUTHORIZATION=auth)
    assert read.json()["data"]["issuer"] == "Renamed"
    unknown = client.get(f"{TOKENS}/DE/EMS/NOPE", HTTP_AUTHORIZATION=auth)
    assert unknown.status_code == 404 and unknown.json()["status_code"] == 2004
    tag = IdTag.objects.get(id_tag="04A1B2C3D4")
    assert tag.status == "Accepted" and tag.roaming_token.contract_id == "DE-EMS-C12345678-9"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        (token(whitelist="SOMETIMES"), "whitelist"),
        ({**token(), "contract_id": None}, "contract_id"),
        (token(uid="OTHER"), "uid"),
        (token(last_updated="yesterday"), "last_updated"),
    ],
)
def test_a_bad_token_is_2001_naming_the_field(client, registered_party, body, field):
    _, auth = registered_party
    response = put(client, auth, body)
    assert response.status_code == 400
    assert response.json()["status_code"] == 2001
    assert response.json()["status_message"].startswith(field)
    assert not RoamingToken.objects.exists()


@pytest.mark.django_db
def test_a_partner_pushes_only_under_its_own_identity(client, registered_party):
    _, auth = registered_party
    response = put(client, auth, token(party_id="XYZ"), path=f"{TOKENS}/DE/XYZ/04A1B2C3D4")
    assert response.status_code == 404
    assert not IdTag.objects.exists()


@pytest.mark.django_db
def test_patch_invalidates_and_the_id_tag_follows(client, registered_party):
    _, auth = registered_party
    put(client, auth, token())
    patched = client.patch(
        f"{TOKENS}/DE/EMS/04A1B2C3D4",
        json.dumps({"valid": False, "last_updated": "2026-12-02T10:00:00Z"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=auth,
    )
    assert patched.status_code == 200 and patched.json()["status_code"] == 1000
    assert IdTag.objects.get(id_tag="04A1B2C3D4").status == "Blocked"
    no_date = client.patch(
        f"{TOKENS}/DE/EMS/04A1B2C3D4", json.dumps({"valid": True}),
        content_type="application/json", HTTP_AUTHORIZATION=auth,
    )  # fmt: skip
    assert no_date.status_code == 400 and no_date.json()["status_code"] == 2001


@pytest.mark.django_db
def test_tokens_that_cannot_be_id_tags_are_kept_with_the_reason(client, registered_party):
    _, auth = registered_party
    IdTag.objects.create(id_tag="OURCARD")
    put(client, auth, token(uid="ourcard"), uid="ourcard")
    put(client, auth, token(uid="A" * 30), uid="A" * 30)
    put(
        client, auth, token(uid="APP1", type="APP_USER"), path=f"{TOKENS}/DE/EMS/APP1?type=APP_USER"
    )
    problems = dict(RoamingToken.objects.values_list("uid", "mirror_problem"))
    assert problems["ourcard"] == "one of our own id tags has this value"
    assert "longer" in problems["A" * 30]
    assert problems["APP1"].startswith("only RFID")
    assert IdTag.objects.count() == 1  # ours, untouched
    assert IdTag.objects.get().note == ""


async def authorize(path: str, subprotocol: str, id_tag: str) -> str:
    """A charge point connects, boots and asks to authorize a card: the status it gets."""
    socket = WebsocketCommunicator(application, path, subprotocols=[subprotocol])
    connected, _ = await socket.connect(timeout=5)
    assert connected
    try:
        if subprotocol == "ocpp1.6":
            boot = {"chargePointVendor": "ACME", "chargePointModel": "W"}
            request = ("Authorize", {"idTag": id_tag})
        else:
            boot = {"reason": "PowerUp", "chargingStation": {"vendorName": "ACME", "model": "W"}}
            request = ("Authorize", {"idToken": {"idToken": id_tag, "type": "ISO14443"}})
        for action, payload in (("BootNotification", boot), request):
            await socket.send_to(text_data=json.dumps([2, uuid.uuid4().hex, action, payload]))
            frame = await socket.receive_json_from(timeout=5)
            assert frame[0] == 3, frame
        info = frame[2]["idTagInfo"] if subprotocol == "ocpp1.6" else frame[2]["idTokenInfo"]
        return info["status"]
    finally:
        await socket.disconnect()
        await sync_to_async(connections.close_all)()


@pytest.mark.django_db(transaction=True)
async def test_a_roaming_card_authorizes_at_our_chargers_until_invalidated(registered_party):
    _, auth = registered_party
    client = Client()
    await sync_to_async(put)(client, auth, token(uid="04AABBCC"), uid="04AABBCC")
    assert await authorize("/ocpp/CP-R16", "ocpp1.6", "04aabbcc") == "Accepted"
    assert await authorize("/ocpp/CP-R201", "ocpp2.0.1", "04AABBCC") == "Accepted"
    await sync_to_async(put)(client, auth, token(uid="04AABBCC", valid=False), uid="04AABBCC")
    assert await authorize("/ocpp/CP-R16", "ocpp1.6", "04AABBCC") == "Blocked"
    await sync_to_async(put)(client, auth, token(uid="04AABBCC", whitelist="NEVER"), uid="04AABBCC")
    assert await authorize("/ocpp/CP-R16", "ocpp1.6", "04AABBCC") == "Invalid"


@pytest.mark.django_db
def test_a_hub_pushes_the_tokens_of_the_emsps_behind_it(client, registered_party):
    party, auth = registered_party
    party.role = "HUB"
    party.save()
    response = put(client, auth, token(party_id="XYZ"), path=f"{TOKENS}/DE/XYZ/04A1B2C3D4")
    assert response.status_code == 201
    assert RoamingToken.objects.get().partner == party


@pytest.mark.django_db
def test_a_partner_that_leaves_leaves_its_drivers_blocked(client, registered_party):
    party, auth = registered_party
    put(client, auth, token())
    response = client.delete("/ocpi/2.2.1/credentials", HTTP_AUTHORIZATION=auth)
    assert response.status_code == 200
    assert IdTag.objects.get(id_tag="04A1B2C3D4").status == "Blocked"


@pytest.mark.django_db
def test_deleting_a_partner_blocks_its_drivers_and_keeps_the_id_tags(client, registered_party):
    party, auth = registered_party
    put(client, auth, token())
    operator = client_for(make_operator("roaming.delete_party"))
    assert operator.delete(f"/api/v1/roaming/parties/{party.pk}/").status_code == 204
    assert not RoamingToken.objects.exists()
    assert IdTag.objects.get(id_tag="04A1B2C3D4").status == "Blocked"
