"""What answers to 2.0.1 SendLocalList and GetLocalListVersion change (see actions_201).

The same LocalAuthList record as 1.6: an accepted update sets the list and
its version, a reported version is kept beside it. A token's value is the id
tag it stands for (compared ignoring case, whatever its type).
"""

from __future__ import annotations

from drivers.services import local_list_accepted, local_list_version_reported

from ..commands.actions_201 import applies_answer
from ..local_lists import FULL


@applies_answer("SendLocalList")
def send_local_list_answered(*, charge_point_pk: int, request: dict, response: dict) -> None:
    """Record the list a station accepted; Failed or VersionMismatch changes nothing."""
    if response.get("status") != "Accepted":
        return
    entries = request.get("localAuthorizationList") or []
    local_list_accepted(
        charge_point_pk=charge_point_pk,
        version=request["versionNumber"],
        full=request["updateType"] == FULL,
        id_tags=[entry["idToken"]["idToken"] for entry in entries if "idTokenInfo" in entry],
        removed_id_tags=[
            entry["idToken"]["idToken"] for entry in entries if "idTokenInfo" not in entry
        ],
    )


@applies_answer("GetLocalListVersion")
def local_list_version_answered(*, charge_point_pk: int, request: dict, response: dict) -> None:
    local_list_version_reported(charge_point_pk=charge_point_pk, version=response["versionNumber"])
