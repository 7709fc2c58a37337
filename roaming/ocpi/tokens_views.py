"""The Tokens module, Receiver interface: partners push their tokens (PUT, PATCH), read them."""

from __future__ import annotations

from ..choices import PartyRole
from ..tokens import TOKEN_TYPES, TokenInvalid, token_find, token_patch, token_store
from .base import OcpiView, ok
from .envelope import INVALID_PARAMETERS, UNKNOWN_TOKEN, OcpiError


def _owned_by(party, country_code: str, party_id: str) -> bool:
    """Whether the partner may push under this identity: one of its own, any through a hub.

    A hub routes the tokens of the eMSPs behind it, under their country
    codes and party ids (it reports only itself as a role).
    """
    roles = [role for role in party.roles or [] if isinstance(role, dict)]
    if party.role == PartyRole.HUB or any(role.get("role") == PartyRole.HUB for role in roles):
        return True
    identities = {(party.country_code, party.party_id)}
    for role in roles:
        identities.add((str(role.get("country_code", "")), str(role.get("party_id", ""))))
    wanted = (country_code.upper(), party_id.upper())
    return any((c.upper(), p.upper()) == wanted for c, p in identities)


class TokenView(OcpiView):
    """/ocpi/cpo/2.2.1/tokens/{country_code}/{party_id}/{uid}[?type=RFID]"""

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.token_type = request.GET.get("type") or "RFID"

    def _check(self, request, country_code, party_id):
        if self.token_type not in TOKEN_TYPES:
            raise OcpiError(400, INVALID_PARAMETERS, f"type: one of {', '.join(TOKEN_TYPES)}")
        if not _owned_by(request.ocpi_party, country_code, party_id):
            # OCPI lets us answer 404 for objects of another party.
            raise OcpiError(404, UNKNOWN_TOKEN, "Not one of your country code and party id")

    def get(self, request, country_code, party_id, uid):
        self._check(request, country_code, party_id)
        token = token_find(
            country_code=country_code, party_id=party_id, uid=uid, token_type=self.token_type
        )
        if token is None:
            raise OcpiError(404, UNKNOWN_TOKEN, f"Unknown token {uid}")
        return ok(token.data)

    def put(self, request, country_code, party_id, uid):
        self._check(request, country_code, party_id)
        body = request.ocpi_body
        if isinstance(body, dict):
            for name, expected in (("country_code", country_code), ("party_id", party_id),
                                   ("uid", uid), ("type", self.token_type)):  # fmt: skip
                if str(body.get(name, "")).upper() != expected.upper():
                    raise OcpiError(
                        400, INVALID_PARAMETERS, f"{name}: differs from the one in the URL"
                    )
        try:
            _, created = token_store(party=request.ocpi_party, data=body)
        except TokenInvalid as exc:
            raise OcpiError(400, INVALID_PARAMETERS, str(exc)) from exc
        return ok(http_status=201 if created else 200)

    def patch(self, request, country_code, party_id, uid):
        self._check(request, country_code, party_id)
        token = token_find(
            country_code=country_code, party_id=party_id, uid=uid, token_type=self.token_type
        )
        if token is None:
            raise OcpiError(404, UNKNOWN_TOKEN, f"Unknown token {uid}: PUT it first")
        try:
            token_patch(token=token, data=request.ocpi_body)
        except TokenInvalid as exc:
            raise OcpiError(400, INVALID_PARAMETERS, str(exc)) from exc
        return ok()
