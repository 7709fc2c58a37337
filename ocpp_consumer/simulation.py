"""This CSMS's side of `manage.py simulate`: register the simulated fleet.

The simulator imports nothing of ours; the SIMULATOR_PREPARE setting names
`simulation_prepare`, which it calls before connecting when the URL is on
this machine (simulator/prepare.py). Whoever runs manage.py here is the
operator, so the fleet's charge points are registered Accepted (not Pending,
the default for strangers) and its id tags Accepted. What exists is used as
it is, except a charge point still Pending, which is accepted: an operator's
Rejected or a Blocked tag stays. The lines returned say what was done.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.functions import Upper

from drivers.choices import AuthorizationStatus
from drivers.models import IdTag
from stations.choices import RegistrationStatus
from stations.models import ChargePoint
from stations.services.charge_points import chargepoint_create
from stations.services.registration import chargepoint_registration_set

NOTE = "created by manage.py simulate"
BATCH = 1000


def simulation_prepare(
    *, charge_point_ids: list[str], id_tags: list[str], password: str | None = None
) -> list[str]:
    """Register the charge points and id tags a simulation uses; say what was done."""
    return _charge_points_prepare(ids=charge_point_ids, password=password) + _id_tags_prepare(
        values=id_tags
    )


@transaction.atomic
def _charge_points_prepare(*, ids: list[str], password: str | None) -> list[str]:
    existing = {
        cp.charge_point_id: cp
        for cp in ChargePoint.objects.filter(charge_point_id__in=ids).only(
            "pk", "charge_point_id", "registration_status"
        )
    }
    created, problems = [], []
    password_hash = None
    for charge_point_id in ids:
        if charge_point_id in existing:
            continue
        try:
            # One password for the whole fleet: hashed once, not per charge point.
            charge_point = chargepoint_create(
                charge_point_id=charge_point_id,
                password=password if password_hash is None else None,
                registration_status=RegistrationStatus.ACCEPTED,
            )
        except ValidationError as exc:
            problems.append(f"{charge_point_id}: {'; '.join(exc.messages)}")
            continue
        if password and password_hash is None:
            password_hash = charge_point.password
        created.append(charge_point)
    if password_hash and len(created) > 1:
        ChargePoint.objects.filter(pk__in=[cp.pk for cp in created[1:]]).update(
            password=password_hash
        )
    accepted, kept, rejected = [], [], []
    for charge_point in existing.values():
        status = charge_point.registration_status
        if status == RegistrationStatus.PENDING:
            chargepoint_registration_set(
                charge_point_pk=charge_point.pk, status=RegistrationStatus.ACCEPTED
            )
            accepted.append(charge_point.charge_point_id)
        elif status == RegistrationStatus.ACCEPTED:
            kept.append(charge_point.charge_point_id)
        else:
            rejected.append(f"{charge_point.charge_point_id} ({status})")
    lines = []
    if created:
        names = _span([cp.charge_point_id for cp in created])
        lines.append(
            f"charge points: created {len(created)} ({names}), registered Accepted"
            + (", with the --password" if password else "")
        )
    if kept:
        lines.append(f"charge points: used {len(kept)} that exist, Accepted ({_span(kept)})")
    if accepted:
        lines.append(
            f"charge points: accepted {len(accepted)} that were Pending ({_span(accepted)})"
        )
    if rejected:
        lines.append(
            f"charge points: left {len(rejected)} as an operator set them, they will not "
            f"charge: {_span(rejected)}"
        )
    lines += [f"charge points: could not create {problem}" for problem in problems]
    return lines


@transaction.atomic
def _id_tags_prepare(*, values: list[str]) -> list[str]:
    wanted = {value.upper(): value for value in values}
    existing = {}
    for start in range(0, len(values), BATCH):
        chunk = [value.upper() for value in values[start : start + BATCH]]
        for tag, status in (
            IdTag.objects.annotate(upper=Upper("id_tag"))
            .filter(upper__in=chunk)
            .values_list("id_tag", "status")
        ):
            existing[tag.upper()] = (tag, status)
    missing = [value for key, value in wanted.items() if key not in existing]
    IdTag.objects.bulk_create(
        [IdTag(id_tag=value, note=NOTE) for value in missing], batch_size=BATCH
    )
    lines = []
    if missing:
        lines.append(f"id tags: created {len(missing)} ({_span(missing)}), Accepted")
    accepted = AuthorizationStatus.ACCEPTED
    usable = [tag for tag, status in existing.values() if status == accepted]
    refused = [f"{tag} ({status})" for tag, status in existing.values() if status != accepted]
    if usable:
        lines.append(f"id tags: used {len(usable)} that exist ({_span(usable)})")
    if refused:
        lines.append(
            f"id tags: {len(refused)} exist but are not Accepted (left as they are): "
            + _span(refused)
        )
    return lines


def _span(names: list[str]) -> str:
    """A short list: all of up to three names, else the first and the last."""
    if len(names) <= 3:
        return ", ".join(names)
    return f"{names[0]} ... {names[-1]}"
