"""OCPP 2.0.1 Authorize: the same id tags and decision as a 1.6 Authorize."""

from __future__ import annotations

from channels.db import database_sync_to_async
from ocpp.v201.enums import Action

from drivers.choices import AuthorizationStatus
from drivers.selectors import Authorization
from stations.services import registration

from ...handlers import Session
from ..id_tokens import id_token_info, id_token_usable
from ..registry import handles


@handles(Action.authorize)
async def authorize(session: Session, payload: dict) -> dict:
    """Answer idTokenInfo for the token, read from the database (an operator's change counts).

    An ISO 15118 contract certificate (`certificate`, `iso15118CertificateHashData`)
    is not checked: Plug & Charge is not supported, so no certificateStatus
    is given and the token alone decides.
    """
    id_token = payload["idToken"]
    if not id_token_usable(id_token):
        authorization = Authorization(status=AuthorizationStatus.INVALID)
    else:
        authorization = await database_sync_to_async(registration.idtag_authorize_at)(
            charge_point_pk=session.charge_point.pk, id_tag=id_token["idToken"]
        )
    return {"idTokenInfo": id_token_info(authorization, id_token=id_token)}
