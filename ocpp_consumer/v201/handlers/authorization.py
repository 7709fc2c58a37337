"""OCPP 2.0.1 Authorize: the same id tags and decision as a 1.6 Authorize."""

from __future__ import annotations

from channels.db import database_sync_to_async
from ocpp.v201.enums import Action

from drivers.choices import AuthorizationStatus
from drivers.selectors import Authorization
from stations.services import registration

from ...handlers import Session
from ...remote_authorization import idtag_refresh_before_deciding
from ..id_tokens import id_token_info, id_token_usable
from ..registry import handles
from .iso15118 import contract_authorized


@handles(Action.authorize)
async def authorize(session: Session, payload: dict) -> dict:
    """Answer idTokenInfo for the token, read from the database (an operator's change counts).

    With `iso15118CertificateHashData` (Plug & Charge) the contract
    certificate is looked up too (iso15118.contract_authorized).
    """
    id_token = payload["idToken"]
    if not id_token_usable(id_token):
        authorization = Authorization(status=AuthorizationStatus.INVALID)
    else:
        await idtag_refresh_before_deciding(
            charge_point_pk=session.charge_point.pk, id_tag=id_token["idToken"]
        )
        authorization = await database_sync_to_async(registration.idtag_authorize_at)(
            charge_point_pk=session.charge_point.pk, id_tag=id_token["idToken"]
        )
    answer = {"idTokenInfo": id_token_info(authorization, id_token=id_token)}
    if "iso15118CertificateHashData" in payload:  # Plug & Charge: the contract decides too
        answer = await contract_authorized(answer, payload)
    return answer
