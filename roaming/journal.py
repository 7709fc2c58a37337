"""The roaming journal: one Exchange row per OCPI request and response, either direction."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from .models import Exchange, Party

logger = logging.getLogger(__name__)

MASK = "***"


def body_excerpt(body) -> str:
    """The start of a body for the journal, with any credentials token masked.

    Credentials objects carry `token` at the top level of the body or of
    the envelope's `data`; nothing else in OCPI is called so at those
    places (a Token object is `uid`).
    """
    if body is None or body == b"" or body == "":
        return ""
    if isinstance(body, bytes):
        try:
            body = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return body[: settings.OCPI_JOURNAL_BODY_CHARS].decode("utf-8", "replace")
    if isinstance(body, dict):
        body = _masked(body)
        if isinstance(body.get("data"), dict):
            body = {**body, "data": _masked(body["data"])}
        text = json.dumps(body, default=str, ensure_ascii=False)
    else:
        text = body if isinstance(body, str) else json.dumps(body, default=str)
    return text[: settings.OCPI_JOURNAL_BODY_CHARS]


def _masked(value: dict) -> dict:
    return {**value, "token": MASK} if "token" in value else value


def exchange_record(
    *,
    direction: str,
    party: Party | None,
    method: str,
    url: str,
    http_status: int | None,
    ocpi_status_code: int | None,
    request_body=None,
    response_body=None,
    error: str = "",
    duration_ms: int = 0,
) -> None:
    """Journal one exchange; a journal that cannot be written never fails the exchange."""
    try:
        Exchange.objects.create(
            direction=direction,
            party=party if party is not None and party.pk else None,
            method=method[:7],
            url=url[:1000],
            http_status=http_status,
            ocpi_status_code=ocpi_status_code,
            request_body=body_excerpt(request_body),
            response_body=body_excerpt(response_body),
            error=error[:500],
            duration_ms=max(0, int(duration_ms)),
        )
    except Exception:  # the exchange itself has happened; losing its log line is the lesser harm
        logger.exception("OCPI journal row not written for %s %s", method, url)


PRUNE_BATCH = 5000


def exchange_prune(*, now: datetime | None = None, batch: int = PRUNE_BATCH) -> int:
    """Delete journal rows past OCPI_JOURNAL_RETENTION_DAYS, in batches; how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.OCPI_JOURNAL_RETENTION_DAYS)
    deleted = 0
    while True:
        pks = list(
            Exchange.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:batch]
        )
        if not pks:
            return deleted
        deleted += Exchange.objects.filter(pk__in=pks).delete()[0]
