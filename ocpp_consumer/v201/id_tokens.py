"""OCPP 2.0.1 idToken and idTokenInfo, read from and built on the neutral Authorization.

A 2.0.1 idToken is looked up among the same id tags as a 1.6 idTag (an
ISO14443 card's UID is the same string in both; compared ignoring case),
whatever its type, except NoAuthorization (free vend): it names no one, and
with no free-vend setting in this system it is answered Invalid.
"""

from __future__ import annotations

from drivers.choices import AuthorizationStatus
from drivers.selectors import Authorization
from stations.services.registration import NOT_IN_SERVICE
from stations.timestamps import format_ocpp_datetime

NO_AUTHORIZATION = "NoAuthorization"
UNKNOWN = "Unknown"
# A parent id tag is a group the Central System gives out, not a card.
GROUP_ID_TOKEN_TYPE = "Central"


def id_token_usable(id_token: dict) -> bool:
    """Whether the token can name an id tag at all."""
    return id_token["type"] != NO_AUTHORIZATION


def id_token_status(authorization: Authorization, *, id_token: dict) -> str:
    """The 2.0.1 AuthorizationStatus: Unknown for a token no tag has, else the domain's.

    A charge point that is not accepted gets Invalid for every token, so that
    it cannot tell a driver's card from a stranger's.
    """
    if not id_token_usable(id_token) or authorization is NOT_IN_SERVICE:
        return AuthorizationStatus.INVALID
    if authorization.status == AuthorizationStatus.INVALID and authorization.tag is None:
        return UNKNOWN
    return authorization.status


def id_token_info(authorization: Authorization, *, id_token: dict) -> dict:
    """The idTokenInfo of Authorize and TransactionEvent answers."""
    info = {"status": id_token_status(authorization, id_token=id_token)}
    if authorization.expiry_date is not None:
        info["cacheExpiryDateTime"] = format_ocpp_datetime(authorization.expiry_date)
    if authorization.parent_id_tag:
        info["groupIdToken"] = {
            "idToken": authorization.parent_id_tag,
            "type": GROUP_ID_TOKEN_TYPE,
        }
    return info
