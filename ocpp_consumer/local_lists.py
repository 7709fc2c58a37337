"""Local authorization lists in OCPP terms: SendLocalList and GetLocalListVersion.

Which tags go on a list, and which version it gets, is decided in
drivers.services; here the update becomes a SendLocalList payload in the
charge point's OCPP version (1.6 idTag/idTagInfo, 2.0.1 idToken/idTokenInfo),
and the 1.6 charge point's answers become plain values for drivers.services
to record (the 2.0.1 answers: v201/local_list_answers.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from drivers.models import IdTag
from drivers.selectors import Authorization
from drivers.services import (
    LocalListUpdate,
    local_list_accepted,
    local_list_update_plan,
    local_list_updates,
    local_list_version_reported,
)
from stations.models import ChargePoint
from stations.timestamps import format_ocpp_datetime

from .framing import V16, V201
from .id_tag_info import id_tag_info

# OCPP UpdateType values.
FULL = "Full"
DIFFERENTIAL = "Differential"

# Our id tags carry no token type; the cards they stand for are RFID (ISO 14443)
# UIDs, as in 1.6. A parent id tag is a group we give out (v201.id_tokens says
# the same; that module cannot be imported here without an import cycle).
LIST_ID_TOKEN_TYPE = "ISO14443"
GROUP_ID_TOKEN_TYPE = "Central"


def send_local_list_payload(update: LocalListUpdate, version: str = V16) -> dict:
    """The SendLocalList payload of an update; an entry without idTagInfo deletes the tag."""
    if version == V201:
        return send_local_list_payload_201(update)
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


def id_token_info_listed(authorization: Authorization) -> dict:
    """The 2.0.1 idTokenInfo of a listed tag (the same facts as its 1.6 idTagInfo)."""
    info = {"status": authorization.status}
    if authorization.expiry_date is not None:
        info["cacheExpiryDateTime"] = format_ocpp_datetime(authorization.expiry_date)
    if authorization.parent_id_tag:
        info["groupIdToken"] = {"idToken": authorization.parent_id_tag, "type": GROUP_ID_TOKEN_TYPE}
    return info


def send_local_list_payload_201(update: LocalListUpdate) -> dict:
    """The 2.0.1 SendLocalList payload of an update; an entry without idTokenInfo deletes it.

    2.0.1 forbids an empty localAuthorizationList: a full update to an empty
    list (clearing it) leaves the field out.
    """
    entries = []
    for entry in update.entries:
        item = {"idToken": {"idToken": entry.id_tag, "type": LIST_ID_TOKEN_TYPE}}
        if entry.authorization is not None:
            item["idTokenInfo"] = id_token_info_listed(entry.authorization)
        entries.append(item)
    payload = {"versionNumber": update.version, "updateType": FULL if update.full else DIFFERENTIAL}
    if entries:
        payload["localAuthorizationList"] = entries
    return payload


def _versions(charge_point_pks: Iterable[int]) -> dict[int, str]:
    return dict(
        ChargePoint.objects.filter(pk__in=charge_point_pks).values_list("pk", "ocpp_version")
    )


def local_list_payload(
    *, charge_point_pk: int, id_tags: Iterable[IdTag], update_type: str = FULL
) -> dict:
    """The SendLocalList payload that makes the charge point's list `id_tags`."""
    update = local_list_update_plan(
        charge_point_pk=charge_point_pk, id_tags=id_tags, full=update_type == FULL
    )
    version = _versions([charge_point_pk]).get(charge_point_pk, V16)
    return send_local_list_payload(update, version)


def local_list_payloads(
    *, charge_point_pks: Iterable[int], selected: Iterable[IdTag], mode: str
) -> dict[int, dict]:
    """SendLocalList payloads per charge point for an operator's selection, each in its version."""
    updates = local_list_updates(charge_point_pks=charge_point_pks, selected=selected, mode=mode)
    versions = _versions(updates)
    return {
        pk: send_local_list_payload(update, versions.get(pk, V16)) for pk, update in updates.items()
    }


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
