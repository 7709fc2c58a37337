"""Celery tasks of roaming: work that calls partners, off any charging path."""

from __future__ import annotations

import logging

from celery import shared_task

from .cdrs import cdr_send, cdrs_unsent
from .choices import PartyStatus
from .client import PartnerError
from .commands import CommandPlan, command_execute, command_followups_send, command_result_send
from .data_push import data_changes_push
from .journal import exchange_prune
from .models import Party
from .push import evse_status_push
from .sessions import roaming_sessions_running, session_push
from .tokens import party_tokens_pull

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    autoretry_for=(PartnerError,),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=6,
)
def pull_tokens(self, party_pk: int) -> int:
    """Fetch all tokens of a registered partner (its Tokens Sender interface)."""
    party = Party.objects.filter(pk=party_pk, status=PartyStatus.REGISTERED).first()
    if party is None:
        return 0
    stored = party_tokens_pull(party=party)
    logger.info("Pulled %s tokens from %s", stored, party)
    return stored


# A push that the partner fails (down, 5xx, an OCPI error) is retried with
# growing, jittered pauses up to five minutes apart.
RETRIED_WHILE_PARTNER_FAILS = dict(
    bind=True,
    autoretry_for=(PartnerError,),
    retry_backoff=True,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
    ignore_result=True,
)


@shared_task(**RETRIED_WHILE_PARTNER_FAILS)
def push_evse_status(self, party_pk: int, connector_pk: int) -> str:
    """Send an EVSE's current status to a partner (the newest, whenever this runs)."""
    return evse_status_push(party_pk=party_pk, connector_pk=connector_pk)


@shared_task(**RETRIED_WHILE_PARTNER_FAILS)
def push_session(self, transaction_pk: int, whole: bool = False) -> str:
    """Send a roaming driver's session, as it is now, to its eMSP."""
    return session_push(transaction_pk=transaction_pk, whole=whole)


@shared_task(ignore_result=True)
def push_data_changes() -> int:
    """Send partners what changed in our locations and tariffs (beat); how many requests.

    Not retried as a task: the next run finds again what a partner failed to
    take, and partners that keep failing are left alone for growing pauses.
    """
    outcome = data_changes_push()
    return sum(sum(sent.values()) for sent in outcome.values() if not isinstance(sent, str))


@shared_task(ignore_result=True)
def push_running_sessions() -> int:
    """Progress of running roaming sessions (kWh, cost) to their eMSPs; how many queued.

    The throttle of session updates (beat: every OCPI_SESSION_UPDATE_SECONDS):
    a partner learns the progress at that pace, never once per meter value.
    """
    pks = roaming_sessions_running()
    for transaction_pk in pks:
        push_session.delay(transaction_pk)
    return len(pks)


@shared_task(
    bind=True,
    autoretry_for=(PartnerError,),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
    ignore_result=True,
)
def send_cdr(self, cdr_pk: str) -> str:
    """POST a stored CDR to its partner (once; the same CDR on every retry)."""
    return cdr_send(cdr_pk=cdr_pk)


# At most this many unsent CDRs per sweep: the rest wait for the next one.
CDR_SWEEP_BATCH = 500


@shared_task(ignore_result=True)
def send_unsent_cdrs() -> int:
    """Send the CDRs whose sending gave up or never started (beat); how many were sent.

    A partner that fails once is skipped for the rest of the run, so a
    partner that is down costs one timeout per sweep, not one per CDR.
    """
    failing: set[int] = set()
    sent = 0
    for cdr_pk, party_pk in cdrs_unsent().values_list("pk", "partner_id")[:CDR_SWEEP_BATCH]:
        if party_pk in failing:
            continue
        try:
            sent += cdr_send(cdr_pk=cdr_pk) == "sent"
        except PartnerError as exc:
            failing.add(party_pk)
            logger.warning("CDR %s not sent: %s", cdr_pk, exc)
    return sent


@shared_task
def prune_exchanges() -> int:
    """Delete OCPI journal rows past OCPI_JOURNAL_RETENTION_DAYS; how many."""
    return exchange_prune()


@shared_task(ignore_result=True)
def execute_command(plan: dict) -> str:
    """Send a partner's accepted command to the charger, then its CommandResult to the partner.

    Not retried: a command must not reach the charger twice. The result's
    POST is its own task, retried while the partner fails.
    """
    command = CommandPlan(**plan)
    result = command_execute(command)
    send_command_result.delay(plan["party_pk"], plan["response_url"], result)
    command_followups_send(command)  # a replaced reservation's cancellation elsewhere
    return result["result"]


@shared_task(**RETRIED_WHILE_PARTNER_FAILS)
def send_command_result(self, party_pk: int, response_url: str, result: dict) -> str:
    """POST a CommandResult to the response_url the partner gave with its command."""
    return command_result_send(party_pk=party_pk, response_url=response_url, result=result)
