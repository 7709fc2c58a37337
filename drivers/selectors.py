"""Reads about drivers and id tags, and the authorization decision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from .choices import AuthorizationStatus
from .models import Driver, IdTag


@dataclass(frozen=True)
class Authorization:
    """The answer to "may this id tag charge?" (OCPP IdTagInfo)."""

    status: str
    expiry_date: datetime | None = None
    parent_id_tag: str | None = None
    tag: IdTag | None = None


def idtag_get(*, id_tag: str) -> IdTag | None:
    """Find a tag case-insensitively (idToken is a CiString20)."""
    return IdTag.objects.select_related("parent").filter(id_tag__iexact=id_tag).first()


def idtag_authorize(*, id_tag: str, now: datetime | None = None) -> Authorization:
    """Decide an id tag's status: unknown tags are Invalid, lapsed ones Expired."""
    tag = idtag_get(id_tag=id_tag)
    if tag is None:
        return Authorization(status=AuthorizationStatus.INVALID)
    now = now or timezone.now()
    status = tag.status
    if status == AuthorizationStatus.ACCEPTED and tag.expiry_date and tag.expiry_date <= now:
        status = AuthorizationStatus.EXPIRED
    return Authorization(
        status=status,
        expiry_date=tag.expiry_date,
        parent_id_tag=tag.parent.id_tag if tag.parent else None,
        tag=tag,
    )


# --- API reads -----------------------------------------------------------------


def idtag_list(*, user=None) -> QuerySet[IdTag]:
    """All id tags, or only those of the driver who is `user`."""
    queryset = IdTag.objects.select_related("parent", "driver")
    if user is None:
        return queryset
    if not user.is_authenticated:
        return queryset.none()
    return queryset.filter(driver__user=user)


def driver_list() -> QuerySet[Driver]:
    return (
        Driver.objects.select_related("user")
        .prefetch_related(Prefetch("id_tags", queryset=IdTag.objects.order_by("id_tag")))
        .order_by("user__username")
    )


# The commands a driver may send, from the app: start and stop charging.
DRIVER_COMMANDS = frozenset({"RemoteStartTransaction", "RemoteStopTransaction"})


@dataclass(frozen=True)
class CommandRefusal:
    """Why a driver may not send a command; `kind` is one of the constants below."""

    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    OFFLINE = "offline"

    kind: str
    message: str


def driver_command_refusal(
    *, user, charge_point_id: str, action: str, payload: dict
) -> CommandRefusal | None:
    """Decide whether a driver may send `action` (OCPP payload, camelCase); None: yes.

    A driver may remote-start with one of their own Accepted id tags on an
    online charge point with a free connector (Available, or Preparing: the
    cable is plugged in), without a charging profile; and remote-stop only
    their own open transaction on that charge point.
    """
    # Imported here: stations.services imports this module at load time.
    from stations.models import ChargePoint, Connector, Transaction
    from stations.selectors import STARTABLE_CONNECTOR_STATUSES, transaction_owned_q

    if action not in DRIVER_COMMANDS:
        return CommandRefusal(CommandRefusal.FORBIDDEN, "Drivers may only start and stop charging.")
    charge_point = ChargePoint.objects.filter(charge_point_id=charge_point_id).first()
    if charge_point is None:
        return CommandRefusal(CommandRefusal.NOT_FOUND, f"No charge point {charge_point_id!r}.")
    if not charge_point.is_online:
        return CommandRefusal(CommandRefusal.OFFLINE, f"{charge_point_id} is not connected.")

    if action == "RemoteStopTransaction":
        own_open = Transaction.objects.filter(
            transaction_owned_q(user=user),
            pk=payload.get("transactionId"),
            charge_point=charge_point,
            stop_timestamp__isnull=True,
        )
        if not own_open.exists():
            return CommandRefusal(
                CommandRefusal.FORBIDDEN, "Not an open transaction of yours on this charge point."
            )
        return None

    if "chargingProfile" in payload:
        return CommandRefusal(CommandRefusal.FORBIDDEN, "Drivers cannot set a charging profile.")
    id_tag = payload.get("idTag", "")
    if not IdTag.objects.filter(driver__user=user, id_tag__iexact=id_tag).exists():
        return CommandRefusal(CommandRefusal.FORBIDDEN, "Use one of your own id tags.")
    status = idtag_authorize(id_tag=id_tag).status
    if status != AuthorizationStatus.ACCEPTED:
        return CommandRefusal(CommandRefusal.FORBIDDEN, f"This id tag is {status}.")
    free = Connector.objects.filter(
        charge_point=charge_point, connector_id__gt=0, status__in=STARTABLE_CONNECTOR_STATUSES
    )
    if "connectorId" in payload:
        free = free.filter(connector_id=payload["connectorId"])
    if not free.exists():
        return CommandRefusal(CommandRefusal.FORBIDDEN, "No connector is free to start charging.")
    return None
