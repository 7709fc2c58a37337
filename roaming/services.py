"""The credentials handshake and the life of a roaming partner.

Both directions of OCPI's registration: a partner registers with the
token A we issued (party_register, then party_credentials_update and
party_unregister), or we register with a partner that gave us a token A
(party_connect). The partner's API is called before any row is locked:
a slow partner holds no database lock.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from drivers.choices import AuthorizationStatus
from drivers.models import IdTag

from .choices import OCPI_VERSION, ModuleId, PartyRole, PartyStatus
from .client import PartnerError, ocpi_call
from .credential_tokens import token_encrypt, token_generate, token_hash, token_is_valid
from .models import Party


@dataclass(frozen=True)
class PartnerCredentials:
    """An OCPI Credentials object a partner sent (already checked for shape)."""

    token: str
    url: str
    roles: list[dict]


class HandshakeError(Exception):
    """The handshake cannot go on; `status_code` is the OCPI code to answer with."""

    def __init__(self, status_code: int, message: str):
        super().__init__(message)
        self.status_code = status_code
        self.message = message


class WrongRegistrationState(Exception):
    """POST for a registered partner, or PUT/DELETE for one that is not (HTTP 405)."""


# --- created by an operator ------------------------------------------------------------


def party_create(*, name: str, country_code: str, party_id: str, role: str) -> tuple[Party, str]:
    """A new partner waiting to register, and its token A (shown once, stored hashed)."""
    token_a = token_generate()
    party = Party.objects.create(
        name=name,
        country_code=country_code.upper(),
        party_id=party_id.upper(),
        role=role,
        status=PartyStatus.PENDING,
        registration_token_hash=token_hash(token_a),
    )
    return party, token_a


def party_registration_reopen(*, party: Party) -> str:
    """A fresh token A for a partner to register (again): ends any current registration."""
    token_a = token_generate()
    with transaction.atomic():
        party = Party.objects.select_for_update().get(pk=party.pk)
        party.status = PartyStatus.PENDING
        party.registration_token_hash = token_hash(token_a)
        party.incoming_token_hash = None
        party.outgoing_token_encrypted = ""
        party.endpoints = []
        party.save()
    return token_a


# --- the partner registers with us (we are the receiver of credentials) --------------


def party_register(*, party: Party, credentials: PartnerCredentials) -> str:
    """Registration with token A: fetch their endpoints, store token B, answer token C.

    Token A stops working once this succeeds. HandshakeError (3001/3002/3003)
    when their API cannot be used; WrongRegistrationState when the party is
    registered already (also when a parallel POST won the race).
    """
    if party.status == PartyStatus.REGISTERED:
        raise WrongRegistrationState
    version, endpoints = partner_discover(
        versions_url=credentials.url, token=credentials.token, party=party
    )
    token_c = token_generate()
    with transaction.atomic():
        locked = Party.objects.select_for_update().get(pk=party.pk)
        if locked.status == PartyStatus.REGISTERED or (
            locked.registration_token_hash != party.registration_token_hash
        ):
            raise WrongRegistrationState
        _store_partner(locked, credentials, version, endpoints, token_c)
        locked.registration_token_hash = None
        locked.registered_at = timezone.now()
        locked.save()
    return token_c


def party_credentials_update(*, party: Party, credentials: PartnerCredentials) -> str:
    """PUT: their new token B, versions URL and endpoints; a new token C for them."""
    if party.status != PartyStatus.REGISTERED:
        raise WrongRegistrationState
    version, endpoints = partner_discover(
        versions_url=credentials.url, token=credentials.token, party=party
    )
    token_c = token_generate()
    with transaction.atomic():
        locked = Party.objects.select_for_update().get(pk=party.pk)
        if locked.status != PartyStatus.REGISTERED:
            raise WrongRegistrationState
        _store_partner(locked, credentials, version, endpoints, token_c)
        locked.save()
    return token_c


def party_unregister(*, party: Party) -> None:
    """DELETE: the partner ends the connection; its tokens and ours stop working."""
    with transaction.atomic():
        locked = Party.objects.select_for_update().get(pk=party.pk)
        if locked.status != PartyStatus.REGISTERED:
            raise WrongRegistrationState
        locked.status = PartyStatus.UNREGISTERED
        locked.incoming_token_hash = None
        locked.outgoing_token_encrypted = ""
        locked.save()
        _drivers_block(locked)


def party_delete(*, party: Party) -> None:
    """Delete a partner and its tokens; its drivers' id tags are blocked, not deleted.

    The id tags stay for the sessions that used them (history), Blocked so
    that no new session starts with them.
    """
    with transaction.atomic():
        _drivers_block(party)
        party.delete()


def _drivers_block(party: Party) -> None:
    """No session starts any more with the id tags mirrored from this partner's tokens."""
    IdTag.objects.filter(roaming_token__partner=party).update(
        status=AuthorizationStatus.BLOCKED, updated_at=timezone.now()
    )


def _store_partner(party, credentials, version, endpoints, token_c) -> None:
    party.status = PartyStatus.REGISTERED
    party.versions_url = credentials.url
    party.version = version
    party.endpoints = endpoints
    party.roles = credentials.roles
    party.outgoing_token_encrypted = token_encrypt(credentials.token)
    party.incoming_token_hash = token_hash(token_c)


# --- we register with the partner (we are the sender of credentials) -----------------


def party_connect(*, party: Party, versions_url: str, token_a: str, our_versions_url: str) -> None:
    """Register with a partner who gave us their versions URL and a token A.

    We fetch their endpoints with token A, post our credentials (a new token
    for them to call us) and keep the token they answer with. Our token is
    valid for versions and credentials from before the POST, since the
    partner calls our versions endpoint while handling it.
    """
    if not token_is_valid(token_a):
        raise HandshakeError(2001, "token: at most 64 printable ASCII characters, no spaces")
    if party.status == PartyStatus.REGISTERED:
        raise WrongRegistrationState
    version, endpoints = partner_discover(versions_url=versions_url, token=token_a, party=party)
    credentials_url = _url_of(endpoints, ModuleId.CREDENTIALS)
    if credentials_url is None:
        raise HandshakeError(3003, "the partner lists no credentials endpoint")
    ours = token_generate()
    Party.objects.filter(pk=party.pk).update(
        incoming_token_hash=token_hash(ours), registration_token_hash=None
    )
    try:
        answer = ocpi_call(
            method="POST",
            url=credentials_url,
            token=token_a,
            party=party,
            body=our_credentials(token=ours, versions_url=our_versions_url),
        )
    except PartnerError as exc:
        Party.objects.filter(pk=party.pk).update(incoming_token_hash=None)
        raise HandshakeError(3001, f"the partner refused our credentials: {exc}") from exc
    theirs = answer.data if isinstance(answer.data, dict) else {}
    if not token_is_valid(theirs.get("token")):
        Party.objects.filter(pk=party.pk).update(incoming_token_hash=None)
        raise HandshakeError(3001, "the partner's credentials answer holds no valid token")
    with transaction.atomic():
        locked = Party.objects.select_for_update().get(pk=party.pk)
        locked.status = PartyStatus.REGISTERED
        locked.versions_url = theirs.get("url") or versions_url
        locked.version = version
        locked.endpoints = endpoints
        locked.roles = theirs.get("roles") if isinstance(theirs.get("roles"), list) else []
        locked.outgoing_token_encrypted = token_encrypt(theirs["token"])
        locked.registered_at = timezone.now()
        locked.save()


def _url_of(endpoints: list[dict], identifier: str) -> str | None:
    return next((e["url"] for e in endpoints if e["identifier"] == identifier), None)


# --- discovery and our own credentials --------------------------------------------------


def partner_discover(*, versions_url: str, token: str, party: Party) -> tuple[str, list[dict]]:
    """The partner's 2.2.1 endpoints, read from their versions endpoint with `token`."""
    try:
        versions = ocpi_call(method="GET", url=versions_url, token=token, party=party).data
    except PartnerError as exc:
        raise HandshakeError(3001, f"cannot read the partner's versions: {exc}") from exc
    if not isinstance(versions, list):
        raise HandshakeError(3001, "the partner's versions answer is not a list")
    details_url = next(
        (
            entry.get("url")
            for entry in versions
            if isinstance(entry, dict) and entry.get("version") == OCPI_VERSION
        ),
        None,
    )
    if not isinstance(details_url, str):
        offered = ", ".join(
            str(entry.get("version")) for entry in versions if isinstance(entry, dict)
        )
        raise HandshakeError(3002, f"no common version: we speak 2.2.1, they offer {offered}")
    try:
        details = ocpi_call(method="GET", url=details_url, token=token, party=party).data
    except PartnerError as exc:
        raise HandshakeError(3001, f"cannot read the partner's 2.2.1 endpoints: {exc}") from exc
    raw = details.get("endpoints") if isinstance(details, dict) else None
    if not isinstance(raw, list):
        raise HandshakeError(3001, "the partner's version details hold no endpoint list")
    endpoints = [
        {"identifier": e["identifier"], "role": e.get("role") or "", "url": e["url"]}
        for e in raw
        if isinstance(e, dict)
        and isinstance(e.get("identifier"), str)
        and isinstance(e.get("url"), str)
    ]
    if not endpoints:
        raise HandshakeError(3003, "the partner lists no usable endpoint")
    return OCPI_VERSION, endpoints


def our_roles() -> list[dict]:
    """Our CredentialsRole list: one CPO role under our country code and party id."""
    business = {"name": settings.OCPI_BUSINESS_NAME}
    if settings.OCPI_BUSINESS_WEBSITE:
        business["website"] = settings.OCPI_BUSINESS_WEBSITE
    return [
        {
            "role": PartyRole.CPO.value,
            "business_details": business,
            "party_id": settings.OCPI_PARTY_ID,
            "country_code": settings.OCPI_COUNTRY_CODE,
        }
    ]


def our_credentials(*, token: str, versions_url: str) -> dict:
    return {"token": token, "url": versions_url, "roles": our_roles()}
