"""OCPP IdTagInfo, built in one place from our neutral Authorization."""

from __future__ import annotations

from drivers.selectors import Authorization
from stations.timestamps import format_ocpp_datetime


def id_tag_info(authorization: Authorization) -> dict:
    """The idTagInfo of Authorize, StartTransaction, StopTransaction and SendLocalList."""
    info = {"status": authorization.status}
    if authorization.expiry_date is not None:
        info["expiryDate"] = format_ocpp_datetime(authorization.expiry_date)
    if authorization.parent_id_tag:
        info["parentIdTag"] = authorization.parent_id_tag
    return info
