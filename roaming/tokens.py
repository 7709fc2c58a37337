"""The Tokens module, CPO side: partners' driver tokens, stored and usable at our chargers.

How a token authorizes: an RFID token is mirrored into one of our id tags
(same value; OCPP chargers send the card's uid as idTag), so the domain's
one authorization decision (drivers.selectors.idtag_authorize, for OCPP
1.6 and 2.0.1 alike) covers roaming drivers without knowing roaming, and
works when the partner is unreachable. The id tag is Accepted when the
token is valid and may be whitelisted (ALWAYS, ALLOWED, ALLOWED_OFFLINE:
without real-time authorization yet, all three are decided locally),
Blocked when the partner says it is not valid, and Invalid for NEVER
(real-time only: roaming.realtime asks the partner). A token whose uid is
already one of our own id tags, or longer than an id tag may be, is kept
but not mirrored (`mirror_problem` says why).

A command (START_SESSION, RESERVE_NOW) carries its Token, which the eMSP
has authorized for it; an app or ad-hoc token is never pushed beforehand.
Such a token is stored from the command, and one that cannot be mirrored
(not RFID, a uid longer than an id tag, or one of our own tags' value) gets
a *command id tag*: a value of its own derived from the token's identity,
which no card carries, so that the charger our RemoteStart names can start
with it; it is Accepted while the token is valid.
"""

from __future__ import annotations

import base64
import hashlib
import logging

from django.db import IntegrityError, transaction

from drivers.choices import AuthorizationStatus
from drivers.models import ID_TAG_MAX_LENGTH, IdTag

from .client import PartnerError, ocpi_call
from .credential_tokens import token_decrypt
from .formats import datetime_parse
from .models import Party, RoamingToken

logger = logging.getLogger(__name__)

TOKEN_TYPES = ("AD_HOC_USER", "APP_USER", "OTHER", "RFID")
WHITELIST_TYPES = ("ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER")
REQUIRED = ("country_code", "party_id", "uid", "type", "contract_id", "issuer", "valid",
            "whitelist", "last_updated")  # fmt: skip
# Longest value of each string field (OCPI Token).
LENGTHS = {"country_code": 2, "party_id": 3, "uid": 36, "contract_id": 36, "issuer": 64,
           "visual_number": 64, "group_id": 36, "language": 2}  # fmt: skip
# The page size we ask a partner for when pulling its tokens.
PULL_PAGE = 1000


class TokenInvalid(ValueError):
    """The Token object is not one (the message names the field)."""


def token_clean(data, *, partial: bool = False) -> dict:
    """The fields of a Token object, checked; TokenInvalid naming the first bad one."""
    if not isinstance(data, dict):
        raise TokenInvalid("Give a Token object")
    if not partial:
        missing = [name for name in REQUIRED if data.get(name) in (None, "")]
        if missing:
            raise TokenInvalid(f"{missing[0]}: required")
    if partial and not data.get("last_updated"):
        raise TokenInvalid("last_updated: required in a PATCH")
    for name, longest in LENGTHS.items():
        if name in data and data[name] is not None:
            if not isinstance(data[name], str) or len(data[name]) > longest:
                raise TokenInvalid(f"{name}: a string of at most {longest} characters")
    if "type" in data and data["type"] not in TOKEN_TYPES:
        raise TokenInvalid(f"type: one of {', '.join(TOKEN_TYPES)}")
    if "whitelist" in data and data["whitelist"] not in WHITELIST_TYPES:
        raise TokenInvalid(f"whitelist: one of {', '.join(WHITELIST_TYPES)}")
    if "valid" in data and not isinstance(data["valid"], bool):
        raise TokenInvalid("valid: true or false")
    if "last_updated" in data and (
        not isinstance(data["last_updated"], str) or datetime_parse(data["last_updated"]) is None
    ):
        raise TokenInvalid("last_updated: an RFC 3339 date-time")
    return data


def token_find(
    *, country_code: str, party_id: str, uid: str, token_type: str
) -> RoamingToken | None:
    return RoamingToken.objects.filter(
        country_code__iexact=country_code, party_id__iexact=party_id, uid=uid, type=token_type
    ).first()


def token_store(*, party: Party, data: dict) -> tuple[RoamingToken, bool]:
    """Create or replace a token (PUT, or a pulled one); (token, created)."""
    data = token_clean(data)
    key = {
        "country_code": data["country_code"].upper(),
        "party_id": data["party_id"].upper(),
        "uid": data["uid"],
        "type": data["type"],
    }
    with transaction.atomic():
        token = RoamingToken.objects.select_for_update().filter(**key).first()
        created = token is None
        if created:
            token = RoamingToken(partner=party, **key)
        token.partner = party
        _apply(token, data)
        token.save()
        _mirror(token)
    return token, created


def token_patch(*, token: RoamingToken, data: dict) -> RoamingToken:
    """Change the fields sent (PATCH); the identity fields stay."""
    data = token_clean(data, partial=True)
    for name in ("country_code", "party_id", "uid", "type"):
        if name in data and str(data[name]).upper() != str(getattr(token, name)).upper():
            raise TokenInvalid(f"{name}: cannot be changed by a PATCH")
    with transaction.atomic():
        token = RoamingToken.objects.select_for_update().get(pk=token.pk)
        _apply(token, {**token.data, **data})
        token.save()
        _mirror(token)
    return token


def _apply(token: RoamingToken, data: dict) -> None:
    token.contract_id = data["contract_id"]
    token.issuer = data["issuer"]
    token.valid = data["valid"]
    token.whitelist = data["whitelist"]
    token.last_updated = datetime_parse(data["last_updated"])
    token.data = data


class TokenConflict(ValueError):
    """The token belongs to another partner."""


def token_for_command(*, party: Party, data) -> RoamingToken:
    """The token a partner's command carries, stored, with an id tag our chargers can use.

    TokenInvalid names a bad field; TokenConflict: another partner's token.
    """
    data = token_clean(data)
    known = token_find(
        country_code=data["country_code"],
        party_id=data["party_id"],
        uid=data["uid"],
        token_type=data["type"],
    )
    if known is not None and known.partner_id != party.pk:
        raise TokenConflict("The token belongs to another partner")
    token, _ = token_store(party=party, data=data)
    if token.id_tag is None:
        with transaction.atomic():
            tag, _ = IdTag.objects.get_or_create(
                id_tag=command_id_tag_value(token),
                defaults={
                    "status": AuthorizationStatus.ACCEPTED,
                    "note": f"Roaming {token.country_code}*{token.party_id} "
                    f"{token.contract_id} (commands)"[:200],
                },
            )
            token.id_tag = tag
            _mirror(token)
    return token


def command_id_tag_value(token: RoamingToken) -> str:
    """The id tag of a token used by command: 20 characters no card carries, one per token."""
    identity = f"{token.country_code.upper()}*{token.party_id.upper()}*{token.type}*{token.uid}"
    digest = base64.b32encode(hashlib.sha256(identity.encode()).digest()).decode()
    return ("OCPI" + digest)[:ID_TAG_MAX_LENGTH]


def mirrored_status(token: RoamingToken) -> str:
    if not token.valid:
        return AuthorizationStatus.BLOCKED
    if token.whitelist == "NEVER":
        return AuthorizationStatus.INVALID
    return AuthorizationStatus.ACCEPTED


def _mirror(token: RoamingToken) -> None:
    """Keep the token's id tag in step (inside the caller's transaction)."""
    if token.id_tag is not None and token.id_tag.id_tag == command_id_tag_value(token):
        # A command id tag: Accepted while the token is valid (the eMSP authorizes each use).
        status = AuthorizationStatus.ACCEPTED if token.valid else AuthorizationStatus.BLOCKED
        IdTag.objects.filter(pk=token.id_tag.pk).exclude(status=status).update(status=status)
        token.mirror_problem = ""
    elif token.type != "RFID":
        # App and ad-hoc tokens start sessions by command, not at the reader.
        token.mirror_problem = "only RFID tokens are used at chargers"
    elif len(token.uid) > ID_TAG_MAX_LENGTH:
        token.mirror_problem = f"the uid is longer than an id tag ({ID_TAG_MAX_LENGTH})"
    else:
        note = f"Roaming {token.country_code}*{token.party_id} {token.contract_id}"[:200]
        tag = token.id_tag
        if tag is None:
            taken = IdTag.objects.filter(id_tag__iexact=token.uid).exists()
            if taken:
                token.mirror_problem = "one of our own id tags has this value"
            else:
                try:
                    with transaction.atomic():
                        tag = IdTag.objects.create(
                            id_tag=token.uid, status=mirrored_status(token), note=note
                        )
                except IntegrityError:  # created in between by someone else
                    token.mirror_problem = "one of our own id tags has this value"
                    tag = None
        else:
            tag.status, tag.note = mirrored_status(token), note
            tag.save(update_fields=["status", "note", "updated_at"])
        if tag is not None:
            token.id_tag, token.mirror_problem = tag, ""
    if token.mirror_problem:
        logger.warning("Roaming token %s not usable at chargers: %s", token, token.mirror_problem)
    token.save(update_fields=["id_tag", "mirror_problem"])


def party_tokens_pull(*, party: Party) -> int:
    """Fetch every token from the partner's Tokens Sender interface; how many were stored.

    Follows the Link headers page by page. A token the partner sends in a
    bad shape is skipped and logged (the others are kept, as OCPI advises).
    """
    url = party.endpoint_url("tokens", "SENDER")
    if not url or not party.outgoing_token_encrypted:
        raise PartnerError("the partner offers no tokens to pull")
    token = token_decrypt(party.outgoing_token_encrypted)
    stored = 0
    next_url = f"{url}?offset=0&limit={PULL_PAGE}"
    while next_url:
        answer = ocpi_call(method="GET", url=next_url, token=token, party=party)
        for data in answer.data if isinstance(answer.data, list) else []:
            try:
                token_store(party=party, data=data)
                stored += 1
            except TokenInvalid as exc:
                logger.warning("Pulled token of %s skipped: %s", party, exc)
        next_url = _next_link(answer.headers)
    return stored


def _next_link(headers: dict) -> str | None:
    link = next((value for name, value in headers.items() if name.lower() == "link"), "")
    for part in link.split(","):
        if 'rel="next"' in part and "<" in part and ">" in part:
            return part[part.index("<") + 1 : part.index(">")]
    return None
