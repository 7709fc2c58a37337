"""Local authorization lists: build SendLocalList from chosen id tags, track versions.

The list and its version change only when the charge point accepts the
SendLocalList (see the answer appliers at the end).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from stations.services.answers import applies_to
from stations.timestamps import format_ocpp_datetime

from .models import IdTag, LocalAuthList

FULL = "Full"
DIFFERENTIAL = "Differential"


def _id_tag_info(tag: IdTag) -> dict:
    info = {"status": tag.status}
    if tag.expiry_date:
        info["expiryDate"] = format_ocpp_datetime(tag.expiry_date)
    if tag.parent_id:
        info["parentIdTag"] = tag.parent.id_tag
    return info


def local_list_payload(
    *, charge_point_pk: int, id_tags: Iterable[IdTag], update_type: str = FULL
) -> dict:
    """The SendLocalList payload that makes the charge point's list `id_tags`.

    Full sends every tag; Differential sends the tags added or changed since
    the accepted list, and the removed ones without idTagInfo (= delete).
    """
    current, _ = LocalAuthList.objects.get_or_create(charge_point_id=charge_point_pk)
    wanted = {tag.pk: tag for tag in id_tags}
    entries = [{"idTag": tag.id_tag, "idTagInfo": _id_tag_info(tag)} for tag in wanted.values()]
    if update_type == DIFFERENTIAL:
        entries += [{"idTag": tag.id_tag} for tag in current.id_tags.exclude(pk__in=wanted)]
    return {
        "listVersion": current.version + 1,
        "updateType": update_type,
        "localAuthorizationList": sorted(entries, key=lambda entry: entry["idTag"]),
    }


def _tags_named(values: Iterable[str]) -> list[IdTag]:
    query = Q()
    for value in values:
        query |= Q(id_tag__iexact=value)
    return list(IdTag.objects.filter(query)) if query else []


@applies_to("SendLocalList")
@transaction.atomic
def _local_list_accepted(*, charge_point_pk: int, request: dict, response: dict) -> None:
    if response.get("status") != "Accepted":
        return
    current, _ = LocalAuthList.objects.select_for_update().get_or_create(
        charge_point_id=charge_point_pk
    )
    entries = request.get("localAuthorizationList") or []
    present = _tags_named(e["idTag"] for e in entries if "idTagInfo" in e)
    if request["updateType"] == FULL:
        current.id_tags.set(present)
    else:
        current.id_tags.add(*present)
        current.id_tags.remove(*_tags_named(e["idTag"] for e in entries if "idTagInfo" not in e))
    current.version = request["listVersion"]
    current.save(update_fields=["version", "updated_at"])


@applies_to("GetLocalListVersion")
def _local_list_version_reported(*, charge_point_pk: int, request: dict, response: dict) -> None:
    LocalAuthList.objects.update_or_create(
        charge_point_id=charge_point_pk,
        defaults={"reported_version": response["listVersion"], "reported_at": timezone.now()},
    )


def local_list_target(*, current: set[int], selected: set[int], mode: str) -> set[int]:
    """The id tag pks a list should hold: add, remove, or replace with the selection."""
    if mode == "add":
        return current | selected
    if mode == "remove":
        return current - selected
    return set(selected)


def local_list_payloads(
    *, charge_point_pks: Iterable[int], selected: Iterable[IdTag], mode: str
) -> dict[int, dict]:
    """SendLocalList payloads per charge point for an operator's selection.

    "replace" sends a Full list; "add" and "remove" send Differential updates.
    """
    selected = {tag.pk: tag for tag in selected}
    payloads = {}
    for charge_point_pk in charge_point_pks:
        current, _ = LocalAuthList.objects.get_or_create(charge_point_id=charge_point_pk)
        current_pks = set(current.id_tags.values_list("pk", flat=True))
        target = local_list_target(current=current_pks, selected=set(selected), mode=mode)
        tags = IdTag.objects.filter(pk__in=target).select_related("parent")
        payloads[charge_point_pk] = local_list_payload(
            charge_point_pk=charge_point_pk,
            id_tags=tags,
            update_type=FULL if mode == "replace" else DIFFERENTIAL,
        )
    return payloads
