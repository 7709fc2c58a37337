"""Real-time authorization: asking the partner whether its driver's token may charge here.

Registered at start-up as a remote authority of the domain
(drivers.remote_authorities): before a charger's Authorize or start
(1.6 StartTransaction, 2.0.1 TransactionEvent) is decided, the adapter
calls `token_realtime_refresh`, outside any database transaction, and the
domain then decides from the token's id tag as always. The id tag's
status is the cache of the partner's decisions; the rules, by whitelist:

- ALWAYS, ALLOWED: the cache (the pushed token) decides; the partner is not
  asked (OCPI lets us choose for ALLOWED).
- ALLOWED_OFFLINE: the partner is asked; only when it cannot be asked
  (down, too slow, an answer that is not one) the pushed token decides.
- NEVER: the partner is asked; when it cannot be, the token is refused.

The partner's answer (AuthorizationInfo.allowed) sets the id tag's status:
ALLOWED Accepted, BLOCKED Blocked, EXPIRED Expired, NO_CREDIT and
NOT_ALLOWED Invalid; a token the partner does not know (404, 2004) is
Invalid. Each answer is kept (RoamingAuthorization, with its
authorization_reference for the Session and CDR), and a start within
ANSWER_REUSE_SECONDS of an answer at the same charger (the Authorize
before it) uses that answer instead of asking again. A token reserved by
the partner at that charger within the last 15 minutes, or that its
START_SESSION named there (a start it has not yet made), is not asked about
(OCPI: the eMSP authorized it with the command). Which tags may be asked at
all is known in each process from memory (roaming.realtime_candidates).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import quote

from django.conf import settings
from django.utils import timezone

from drivers.choices import AuthorizationStatus
from drivers.models import IdTag
from stations.models import ChargePoint, Connector, Reservation, ReservationStatus

from .choices import PartyStatus
from .client import PartnerError, ocpi_call
from .credential_tokens import token_decrypt
from .models import RoamingAuthorization, RoamingReservation, RoamingToken
from .realtime_candidates import ASKED_WHITELISTS, idtag_asked_candidate
from .tokens import mirrored_status

logger = logging.getLogger(__name__)

# OCPI AllowedType -> the id tag status our chargers get.
ALLOWED_STATUS = {
    "ALLOWED": AuthorizationStatus.ACCEPTED,
    "BLOCKED": AuthorizationStatus.BLOCKED,
    "EXPIRED": AuthorizationStatus.EXPIRED,
    "NO_CREDIT": AuthorizationStatus.INVALID,
    "NOT_ALLOWED": AuthorizationStatus.INVALID,
}
# An answer covers the start that follows the Authorize it was asked for.
ANSWER_REUSE_SECONDS = 120
# OCPI: no real-time request for a token within 15 minutes of its ReserveNow.
RESERVATION_TRUST = timedelta(minutes=15)


def realtime_timeout_seconds() -> float:
    return settings.OCPI_REALTIME_AUTH_TIMEOUT_SECONDS


def token_realtime_refresh(*, id_tag: str, charge_point_pk: int) -> None:
    """Bring the id tag of a partner's token up to date before a charger's request is decided."""
    if not idtag_asked_candidate(id_tag):
        return  # our own driver's tag, or a token the cache decides alone
    token = (
        RoamingToken.objects.select_related("partner", "id_tag")
        .filter(id_tag__id_tag__iexact=id_tag, whitelist__in=ASKED_WHITELISTS, valid=True)
        .first()
    )
    if token is None or token.partner.status != PartyStatus.REGISTERED:
        # Not a partner's token, one the cache decides alone, or a partner gone (its
        # drivers' id tags were blocked then and stay so).
        return
    _tag_status_set(token.id_tag, _status_now(token, charge_point_pk))


def _status_now(token: RoamingToken, charge_point_pk: int) -> str:
    now = timezone.now()
    if _reserved_recently(token, charge_point_pk, now) or _started_by_command(
        token, charge_point_pk, now
    ):
        return AuthorizationStatus.ACCEPTED
    recent = (
        RoamingAuthorization.objects.filter(
            token=token,
            charge_point_id=charge_point_pk,
            source=RoamingAuthorization.Source.AUTH_REQUEST,
            created_at__gte=now - timedelta(seconds=ANSWER_REUSE_SECONDS),
        )
        .order_by("-created_at")
        .first()
    )
    if recent is not None:
        return ALLOWED_STATUS[recent.allowed]
    return _ask(token, charge_point_pk)


def _started_by_command(token: RoamingToken, charge_point_pk: int, now) -> bool:
    """A START_SESSION for the token at that charger lately: the eMSP authorized this start."""
    return RoamingAuthorization.objects.filter(
        token=token,
        charge_point_id=charge_point_pk,
        source=RoamingAuthorization.Source.COMMAND,
        transaction__isnull=True,
        created_at__gte=now - RESERVATION_TRUST,
    ).exists()


def _reserved_recently(token: RoamingToken, charge_point_pk: int, now) -> bool:
    ours = RoamingReservation.objects.filter(
        token=token, charge_point_id=charge_point_pk, received_at__gte=now - RESERVATION_TRUST
    ).values_list("ocpp_reservation_id", flat=True)
    return Reservation.objects.filter(
        reservation_id__in=list(ours),
        status__in=(ReservationStatus.ACCEPTED, ReservationStatus.USED),
    ).exists()


def _ask(token: RoamingToken, charge_point_pk: int) -> str:
    """The partner's decision as an id tag status; the fallback when it cannot be asked."""
    party = token.partner
    url = party.endpoint_url("tokens", "SENDER")
    if not url or not party.outgoing_token_encrypted:
        return _unreachable(token)  # a partner that offers no real-time authorization
    target = f"{url.rstrip('/')}/{quote(token.uid, safe='')}/authorize?type={token.type}"
    try:
        answer = ocpi_call(
            method="POST",
            url=target,
            token=token_decrypt(party.outgoing_token_encrypted),
            party=party,
            body=_location_references(charge_point_pk),
            timeout=realtime_timeout_seconds(),
        )
    except PartnerError as exc:
        if exc.http_status == 404 or exc.status_code == 2004:
            return AuthorizationStatus.INVALID  # the partner does not know the token
        logger.warning("Real-time authorization of %s: %s; the cache decides", token, exc)
        return _unreachable(token)
    info = answer.data if isinstance(answer.data, dict) else {}
    allowed = info.get("allowed")
    if allowed not in ALLOWED_STATUS:
        logger.warning("Real-time authorization of %s: no AllowedType in the answer", token)
        return _unreachable(token)
    reference = info.get("authorization_reference")
    RoamingAuthorization.objects.create(
        token=token,
        charge_point_id=charge_point_pk,
        source=RoamingAuthorization.Source.AUTH_REQUEST,
        allowed=allowed,
        authorization_reference=reference[:36] if isinstance(reference, str) else "",
    )
    return ALLOWED_STATUS[allowed]


def _unreachable(token: RoamingToken) -> str:
    """NEVER: refused; ALLOWED_OFFLINE: the token as the partner pushed it."""
    if token.whitelist == "NEVER":
        return AuthorizationStatus.INVALID
    return mirrored_status(token)


def _location_references(charge_point_pk: int) -> dict | None:
    """OCPI LocationReferences of the charger: its location and EVSEs (as in Locations)."""
    station_pk = (
        ChargePoint.objects.filter(pk=charge_point_pk).values_list("station_id", flat=True).first()
    )
    if station_pk is None:
        return None
    evses = Connector.objects.filter(charge_point_id=charge_point_pk, connector_id__gt=0)
    return {
        "location_id": str(station_pk),
        "evse_uids": [str(pk) for pk in evses.order_by("pk").values_list("pk", flat=True)],
    }


def _tag_status_set(tag: IdTag, status: str) -> None:
    if tag.status != status:
        IdTag.objects.filter(pk=tag.pk).update(status=status, updated_at=timezone.now())
