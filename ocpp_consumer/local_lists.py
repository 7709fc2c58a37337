"""Local authorization lists in OCPP terms: SendLocalList and GetLocalListVersion.

Which tags go on a list, and which version it gets, is decided in
drivers.services; here the update becomes a SendLocalList payload, and the
charge point's answers become plain values for drivers.services to record.
"""

from __future__ import annotations

from collections.abc import Iterable

from drivers.models import IdTag
from drivers.services import (
    LocalListUpdate,
    local_list_accepted,
    local_list_update_plan,
    local_list_updates,
    local_list_version_reported,
)

from .id_tag_info import id_tag_info

# OCPP UpdateType values.
FULL = "Full"
DIFFERENTIAL = "Differential"


def send_local_list_payload(update: LocalListUpdate) -> dict:
    """The SendLocalList payload of an update; an entry without idTagInfo deletes the tag."""
    entries = []
    for entry in update.entries:
        item = {"idTag": entry.id_tag}
        if entry.authorization is not None:
            item["idTagInfo"] = id_tag_info(entry.authorization)
        entries.append(item)
    return {
        "listVersion": update.version,
        "updateType": FULL if update.full else DIFFERENTIAL,
        "localAuthorizationList": entries,
    }


def local_list_payload(
    *, charge_point_pk: int, id_tags: Iterable[IdTag], update_type: str = FULL
) -> dict:
    """The SendLocalList payload that makes the charge point's list `id_tags`."""
    update = local_list_update_plan(
        charge_point_pk=charge_point_pk, id_tags=id_tags, full=update_type == FULL
    )
    return send_local_list_payload(update)


def local_list_payloads(
    *, charge_point_pks: Iterable[int], selected: Iterable[IdTag], mode: str
) -> dict[int, dict]:
    """SendLocalList payloads per charge point for an operator's selection."""
    updates = local_list_updates(charge_point_pks=charge_point_pks, selected=selected, mode=mode)
    return {pk: send_local_list_payload(update) for pk, update in updates.items()}


# --- Answers (called from commands.answers.ANSWER_APPLIERS) ------------------


def send_local_list_answered(*, charge_point_pk: int, request: dict, response: dict) -> None:
    """Record the list a charge point accepted; a refused update changes nothing."""
    if response.get("status") != "Accepted":
        return
    entries = request.get("localAuthorizationList") or []
    local_list_accepted(
        charge_point_pk=charge_point_pk,
        version=request["listVersion"],
        full=request["updateType"] == FULL,
        id_tags=[entry["idTag"] for entry in entries if "idTagInfo" in entry],
        removed_id_tags=[entry["idTag"] for entry in entries if "idTagInfo" not in entry],
    )


def local_list_version_answered(*, charge_point_pk: int, request: dict, response: dict) -> None:
    """Record the version a GetLocalListVersion answer reports."""
    local_list_version_reported(charge_point_pk=charge_point_pk, version=response["listVersion"])
