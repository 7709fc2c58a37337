"""Limits on what one charge point can make the Central System store.

A frame may be 256 KB (OCPP_MAX_FRAME_BYTES) and a charge point may send many
per second: stored as they come, one charge point could grow the database
without bound. The message journal therefore keeps, per frame, at most
OCPP_JOURNAL_MAX_PAYLOAD_BYTES (a larger frame keeps its head, its size and
its SHA-256), and per charge point at most OCPP_JOURNAL_BYTES_PER_HOUR of
frames in a clock hour (past it: size and hash only, until the next hour).
DataTransfer data is stored once, in the DataTransfer record; the journal row
of a long one keeps its size, hash and first characters
(stations.services.data_transfer applies the DataTransfer limits).
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

from django.conf import settings
from prometheus_client import Counter

logger = logging.getLogger(__name__)

QUOTA_HITS = Counter(
    "csms_ocpp_quota_hits_total",
    "Messages a storage limit applied to: journal_truncated (frame over "
    "OCPP_JOURNAL_MAX_PAYLOAD_BYTES), journal_budget (charge point over "
    "OCPP_JOURNAL_BYTES_PER_HOUR), data_transfer_too_large, data_transfer_rate",
    ["limit"],
)

# DataTransfer data up to this many characters is also kept in the journal
# (cheap, and readable where the frame is); longer data only in its record.
DATA_TRANSFER_INLINE_CHARS = 256
_HOUR = 3600


def count_quota_hit(limit: str) -> None:
    QUOTA_HITS.labels(limit).inc()


def utf8_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def digest(text: str) -> dict:
    """Size and SHA-256 of a text as it came (UTF-8): enough to recognise it again."""
    data = text.encode("utf-8", "surrogatepass")
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def utf8_head(text: str, limit: int) -> str:
    """The first `limit` bytes of `text` in UTF-8, never cutting a character."""
    head = text[:limit]
    if head.isascii():
        return head
    return head.encode("utf-8", "surrogatepass")[:limit].decode("utf-8", "ignore")


class JournalBudget:
    """Bytes each charge point had journaled in the current clock hour, in this process.

    A charge point is served by one process at a time, so the budget holds per
    charge point; one entry per charge point seen (the fleet bounds it).
    """

    def __init__(self) -> None:
        self._spent: dict[int, list[int]] = {}  # pk -> [hour, bytes]

    def spend(self, charge_point_pk: int, size: int) -> bool:
        """Spend `size` bytes if the hour's budget allows; False (nothing spent) if not."""
        hour = int(time.time() // _HOUR)
        entry = self._spent.get(charge_point_pk)
        if entry is None or entry[0] != hour:
            entry = self._spent[charge_point_pk] = [hour, 0]
        limit = settings.OCPP_JOURNAL_BYTES_PER_HOUR
        if entry[1] + size <= limit:
            entry[1] += size
            return True
        if entry[1] <= limit:  # the first refusal of the hour: say so once
            entry[1] = limit + 1
            logger.warning(
                "charge point pk %s used its journal budget of %d bytes this hour: "
                "its frames are journaled as size and hash only until the next hour",
                charge_point_pk,
                limit,
            )
        return False


def journal_fields(
    *,
    budget: JournalBudget,
    charge_point_pk: int,
    message_type: int | None,
    action: str,
    payload: Any,
    raw: str,
    frame: str,
) -> tuple[Any, str]:
    """The payload and raw text to journal for a frame a charge point sent.

    Returns (payload, raw): as given when the frame is within the limits;
    else payload holds {"journal_truncated": {"bytes", "sha256", "head_bytes"}}
    and raw the frame's head (empty past the hour's budget).
    """
    limit = settings.OCPP_JOURNAL_MAX_PAYLOAD_BYTES
    size = utf8_size(frame)
    if not budget.spend(charge_point_pk, min(size, limit)):
        count_quota_hit("journal_budget")
        return {"journal_truncated": {**digest(frame), "head_bytes": 0}}, ""
    if size > limit:
        count_quota_hit("journal_truncated")
        head = utf8_head(frame, limit)
        return {"journal_truncated": {**digest(frame), "head_bytes": utf8_size(head)}}, head
    if message_type == 2 and action == "DataTransfer":
        payload = _data_transfer_payload(payload)
    return payload, raw


def _data_transfer_payload(payload: Any) -> Any:
    """The DataTransfer payload with long data replaced by a reference to its record."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, str) or len(data) <= DATA_TRANSFER_INLINE_CHARS:
        return payload
    kept = {
        "stored_in": "the DataTransfer record of this charge point and unique id",
        **digest(data),
        "head": data[:DATA_TRANSFER_INLINE_CHARS],
    }
    return {**payload, "data": {"journal_omitted": kept}}
