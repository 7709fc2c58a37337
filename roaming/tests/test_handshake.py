"""The credentials handshake end to end: a peer eMSP on 127.0.0.1 and our live server."""

import pytest

from api_support.testing import client_for, make_driver, make_operator
from drivers.models import IdTag
from roaming.credential_tokens import token_decrypt, token_hash
from roaming.models import Exchange, Party
from roaming.tasks import pull_tokens

from .peer_emsp import PeerEmsp, call

pytestmark = pytest.mark.django_db(transaction=True)

PARTIES = "/api/v1/roaming/parties/"


@pytest.fixture
def ocpi_url(live_server, settings):
    settings.OCPI_BASE_URL = f"{live_server.url}/ocpi"
    return settings.OCPI_BASE_URL


@pytest.fixture
def peer():
    emsp = PeerEmsp().start()
    yield emsp
    emsp.stop()


@pytest.fixture
def operator():
    return client_for(
        make_operator("roaming.add_party", "roaming.view_party", "roaming.delete_party")
    )


def create_party(operator) -> dict:
    response = operator.post(
        PARTIES,
        {"name": "Peer", "country_code": "de", "party_id": "ems", "role": "EMSP"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_partner_registers_with_token_a_and_then_uses_token_c(ocpi_url, peer, operator):
    created = create_party(operator)
    assert set(created) == {"id", "token_a", "versions_url"}
    assert created["versions_url"] == f"{ocpi_url}/versions"
    answer = peer.register_with(created["versions_url"], created["token_a"])
    assert answer["status_code"] == 1000, answer
    token_c = answer["data"]["token"]
    assert answer["data"]["roles"][0]["role"] == "CPO"
    assert answer["data"]["url"] == f"{ocpi_url}/versions"

    party = Party.objects.get(pk=created["id"])
    assert (party.status, party.country_code, party.party_id) == ("registered", "DE", "EMS")
    assert party.roles[0]["party_id"] == "EMS"
    assert party.endpoint_url("tokens", "SENDER") == f"{peer.base_url}/emsp/2.2.1/tokens"
    # Stored protected: token C and A as hashes (A gone), token B encrypted.
    assert party.incoming_token_hash == token_hash(token_c)
    assert party.registration_token_hash is None
    assert party.outgoing_token_encrypted != peer.token_b
    assert token_decrypt(party.outgoing_token_encrypted) == peer.token_b
    # We read their versions and details with their token B.
    assert [(m, p, t) for m, p, t in peer.received] == [
        ("GET", "/ocpi/versions", peer.token_b),
        ("GET", "/ocpi/2.2.1", peer.token_b),
    ]
    # Token A is spent; token C opens the modules.
    assert call("GET", created["versions_url"], created["token_a"])[0] == 401
    status, headers, body = call("GET", f"{ocpi_url}/cpo/2.2.1/locations", token_c)
    assert status == 200 and body["status_code"] == 1000 and headers["X-Total-Count"] == "0"
    # Registered already: POST again is 405.
    again = call("POST", f"{ocpi_url}/2.2.1/credentials", token_c, peer.credentials("x" * 20))
    assert again[0] == 405
    # The journal has both directions, without any token in clear.
    journal = Exchange.objects.filter(party=party)
    assert {row.direction for row in journal} == {"in", "out"}
    for row in journal:
        for secret in (token_c, peer.token_b, created["token_a"]):
            assert secret not in row.request_body + row.response_body + row.url


def test_update_issues_a_new_token_c_and_delete_unregisters(ocpi_url, peer, operator):
    created = create_party(operator)
    old_c = peer.register_with(created["versions_url"], created["token_a"])["data"]["token"]
    peer.token_b = "renewed-token-b-0123456789"
    status, _, answer = call(
        "PUT", f"{ocpi_url}/2.2.1/credentials", old_c, peer.credentials(peer.token_b)
    )
    assert status == 200 and answer["status_code"] == 1000
    new_c = answer["data"]["token"]
    assert new_c != old_c
    assert call("GET", f"{ocpi_url}/versions", old_c)[0] == 401
    party = Party.objects.get(pk=created["id"])
    assert token_decrypt(party.outgoing_token_encrypted) == "renewed-token-b-0123456789"
    status, _, answer = call("DELETE", f"{ocpi_url}/2.2.1/credentials", new_c)
    assert status == 200 and answer["status_code"] == 1000
    party.refresh_from_db()
    assert party.status == "unregistered" and party.outgoing_token_encrypted == ""
    assert call("GET", f"{ocpi_url}/versions", new_c)[0] == 401


def test_no_common_version_is_3002_and_token_a_stays_valid(ocpi_url, operator):
    old_peer = PeerEmsp(offered_versions=("2.1.1",)).start()
    try:
        created = create_party(operator)
        answer = old_peer.register_with(created["versions_url"], created["token_a"])
    finally:
        old_peer.stop()
    assert answer["status_code"] == 3002
    assert Party.objects.get(pk=created["id"]).status == "pending"
    assert call("GET", created["versions_url"], created["token_a"])[0] == 200


def test_a_partner_that_does_not_answer_is_3001(ocpi_url, peer, operator):
    created = create_party(operator)
    status, _, details = call("GET", f"{ocpi_url}/2.2.1", created["token_a"])
    credentials_url = next(
        e["url"] for e in details["data"]["endpoints"] if e["identifier"] == "credentials"
    )
    peer.stop()  # their versions endpoint is gone
    status, _, answer = call(
        "POST", credentials_url, created["token_a"], peer.credentials("b" * 20)
    )
    assert status == 200 and answer["status_code"] == 3001
    failed = Exchange.objects.get(direction="out")
    assert failed.http_status is None and failed.error.startswith("no answer")


def test_we_register_with_a_partner_that_gave_us_token_a(ocpi_url, peer, operator):
    created = create_party(operator)
    response = operator.post(
        f"{PARTIES}{created['id']}/connect/",
        {"versions_url": peer.versions_url, "token": peer.token_a},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "registered"
    party = Party.objects.get(pk=created["id"])
    assert token_decrypt(party.outgoing_token_encrypted) == peer.token_for_cpo_after_registration
    # The peer read our versions with the token we sent it, which now opens our modules.
    assert ("GET", "/ocpi/versions", peer.token_a) in peer.received
    assert call("GET", f"{ocpi_url}/cpo/2.2.1/tariffs", peer.token_c)[0] == 200
    assert party.incoming_token_hash == token_hash(peer.token_c)


def test_parties_api_is_for_operators_and_never_shows_tokens(ocpi_url, operator):
    created = create_party(operator)
    listed = operator.get(PARTIES).json()["results"]
    assert [p["id"] for p in listed] == [created["id"]]
    assert not any("token" in key for key in listed[0])
    duplicate = operator.post(
        PARTIES, {"name": "X", "country_code": "DE", "party_id": "EMS", "role": "EMSP"},
        format="json",
    )  # fmt: skip
    assert duplicate.status_code == 400 and "unique" in str(duplicate.json())
    bad = operator.post(
        PARTIES, {"name": "X", "country_code": "Germany", "party_id": "E", "role": "EMSP"},
        format="json",
    )  # fmt: skip
    assert bad.status_code == 400 and {"country_code", "party_id"} <= set(bad.json())
    driver = client_for(make_driver())
    assert driver.get(PARTIES).status_code == 403
    assert operator.delete(f"{PARTIES}{created['id']}/").status_code == 204


def test_tokens_are_pulled_page_by_page_from_the_partner(ocpi_url, peer, operator):
    created = create_party(operator)
    peer.register_with(created["versions_url"], created["token_a"])
    peer.tokens = [
        {
            "country_code": "DE",
            "party_id": "EMS",
            "uid": f"CARD{n}",
            "type": "RFID",
            "contract_id": f"DE-EMS-C{n:08d}",
            "issuer": "Peer",
            "valid": True,
            "whitelist": "ALLOWED",
            "last_updated": "2026-12-01T10:00:00Z",
        }  # fmt: skip
        for n in range(5)
    ]
    peer.tokens.append({"uid": "BROKEN"})  # skipped, the others kept
    assert pull_tokens.delay(created["id"]).get() == 5
    assert sorted(IdTag.objects.values_list("id_tag", "status")) == [
        (f"CARD{n}", "Accepted") for n in range(5)
    ]
    pages = [p for m, p, t in peer.received if p == "/ocpi/emsp/2.2.1/tokens"]
    assert len(pages) == 3  # 2 + 2 + 2 with the peer's own page size
    assert all(t == peer.token_b for m, p, t in peer.received)


def test_partner_urls_on_private_networks_are_refused_unless_allowed(ocpi_url, peer, settings):
    settings.OCPI_ALLOW_PRIVATE_URLS = False
    operator = client_for(make_operator("roaming.add_party"))
    created = create_party(operator)
    answer = peer.register_with(created["versions_url"], created["token_a"])
    assert answer["status_code"] == 3001
    assert "private network" in answer["status_message"]
    assert peer.received == []  # we never called it
    assert Exchange.objects.get(direction="out").error.startswith("refused")
