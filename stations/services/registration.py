"""Whether a charge point is in service: an operator's decision, and what it gates.

An unknown charge point that connects is registered as Pending (unless the
installation opted in to OCPP_DEFAULT_REGISTRATION_STATUS=Accepted): a
stranger's socket must not learn whether an id tag is good, start a session
or be billed for one until an operator accepts it. The protocol adapter
refuses a charge point's messages before it is accepted; the rules here hold
whatever a caller knows or remembers, because they read the database.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from drivers.choices import AuthorizationStatus
from drivers.selectors import Authorization, idtag_authorize

from ..choices import RegistrationStatus
from ..models import ChargePoint

# The answer to a charge point that is not accepted, whatever the tag: it
# names no tag, expiry or parent, so the stranger learns nothing about it.
NOT_IN_SERVICE = Authorization(status=AuthorizationStatus.INVALID)


@transaction.atomic
def chargepoint_registration_set(*, charge_point_pk: int, status: str) -> ChargePoint:
    """Record an operator's decision: Accepted, Pending (wait) or Rejected.

    Its next BootNotification is answered with it. A caller that can reach
    the socket (the API, the console) then tells a connected charge point
    (`ocpp_consumer.commands.registration_changed`), so that it need not wait
    for its next boot. Raises ValidationError (on "registration_status") for
    another value, ChargePoint.DoesNotExist for an unknown charge point.
    """
    if status not in RegistrationStatus.values:
        raise ValidationError(
            {"registration_status": _("Use Accepted, Pending or Rejected.")}, code="invalid"
        )
    charge_point = ChargePoint.objects.select_for_update().get(pk=charge_point_pk)
    if charge_point.registration_status != status:
        charge_point.registration_status = status
        charge_point.save(update_fields=["registration_status", "updated_at"])
    return charge_point


def chargepoint_registration_reload(*, charge_point: ChargePoint) -> ChargePoint:
    """Re-read what decides whether `charge_point` is accepted (a long-lived copy)."""
    charge_point.refresh_from_db(fields=["registration_status", "last_boot_at"])
    return charge_point


def chargepoint_in_service(*, charge_point_pk: int) -> bool:
    """Whether the operator accepts the charge point (one indexed read)."""
    return ChargePoint.objects.filter(
        pk=charge_point_pk, registration_status=RegistrationStatus.ACCEPTED
    ).exists()


def idtag_authorize_at(*, charge_point_pk: int, id_tag: str) -> Authorization:
    """The answer to an Authorize from that charge point.

    Invalid, whatever the tag, while the charge point is not accepted: a
    stranger's charge point must not tell a driver's good tag from a bad one.
    """
    if not chargepoint_in_service(charge_point_pk=charge_point_pk):
        return NOT_IN_SERVICE
    return idtag_authorize(id_tag=id_tag)


def chargepoints_awaiting_acceptance() -> QuerySet[ChargePoint]:
    """Charge points waiting for an operator's decision (Pending), newest first."""
    return ChargePoint.objects.filter(registration_status=RegistrationStatus.PENDING).order_by(
        "-created_at"
    )
