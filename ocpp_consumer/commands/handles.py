"""A remote start's handle: which session the command led to (Command.transaction).

A driver's app starts charging with RemoteStartTransaction (1.6) or
RequestStartTransaction (2.0.1) and follows the answer's `command_id` until
the charger has started the session. The link is made twice, both ways
idempotent and first come, first served:

- when the session starts (`remote_start_command_link`, from the inline
  `remote_start_links` subscriber of session.started, and from the driver
  app's live channel);
- when somebody reads the command (`remote_start_command_transaction`): a
  start whose event came before the charger's answer was stored, or a 2.0.1
  session the cable began before the command, is found then.

What ties a session to its command:

- OCPP 2.0.1: the remoteStartId, which the charger repeats in its
  TransactionEvent (Transaction.remote_start_id; the API gives the command's
  own id when the caller gives none, so it is unique), or the transactionId
  an answer names for a session already running. A charger that forgets the
  remoteStartId is matched as 1.6 is.
- OCPP 1.6 has no such id: the session that starts on that charge point (on
  that connector, when the command named one) with that id tag, after the
  command was sent and at most REMOTE_START_LINK_SECONDS after it was
  answered Accepted (ConnectionTimeOut: the driver plugs in meanwhile).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from events.kinds import EventKind
from events.subscribers import Event, Subscriber
from orm_support.query_templates import QueryTemplate
from stations.models import Transaction

from ..models import Command, CommandStatus

REMOTE_START = "RemoteStartTransaction"
REQUEST_START = "RequestStartTransaction"
START_ACTIONS = (REMOTE_START, REQUEST_START)
ACCEPTED = "Accepted"
# Candidates read per link attempt: a charge point gets a handful of
# remote starts in a window; a flood of them only delays the link.
_CANDIDATES = 50


def remote_start_window() -> timedelta:
    return timedelta(seconds=settings.REMOTE_START_LINK_SECONDS)


# --- the first command id as remoteStartId ------------------------------------------


def remote_start_id_missing(*, action: str, payload: dict) -> bool:
    """A RequestStartTransaction whose caller gave no remoteStartId (the command's id will do)."""
    return action == REQUEST_START and payload.get("remoteStartId") is None


# Stands in for the command's id while the payload is validated: the id exists
# only once the command is recorded, after validation and the policy.
REMOTE_START_ID_PENDING = 0


def remote_start_id_assign(*, command: Command, payload: dict) -> dict:
    """The payload with the command's own id as remoteStartId, stored on the record too."""
    payload = {**payload, "remoteStartId": command.pk}
    command.payload = {**command.payload, "remoteStartId": command.pk}
    Command.objects.filter(pk=command.pk).update(payload=command.payload)
    return payload


# --- the rule: does this session belong to this command -----------------------------


def _start_tag(command: Command) -> str:
    payload = command.payload or {}
    if command.action == REQUEST_START:
        token = payload.get("idToken")
        return str(token.get("idToken", "")) if isinstance(token, dict) else ""
    return str(payload.get("idTag", ""))


def _start_connector(command: Command) -> int | None:
    payload = command.payload or {}
    return payload.get("evseId" if command.action == REQUEST_START else "connectorId")


def _answered_session(command: Command) -> str:
    """The transactionId a 2.0.1 answer names: a session already running (the cable first)."""
    response = command.response if isinstance(command.response, dict) else {}
    return str(response.get("transactionId") or "")


def _within(moment: datetime, around: datetime) -> bool:
    return abs(moment - around) <= remote_start_window()


def _led_to(command: Command, session: Transaction, connector_id: int) -> bool:
    """Whether the session is the one the remote start led to (the module's rules)."""
    if command.charge_point_id != session.charge_point_id:
        return False
    if command.action == REQUEST_START:
        named = _answered_session(command)
        if named and session.ocpp_transaction_id == named:
            return True  # begun by the cable, however long before
        remote_start_id = (command.payload or {}).get("remoteStartId")
        if session.remote_start_id is not None:
            # A caller may reuse its own ids: only a session begun around the command.
            return session.remote_start_id == remote_start_id and _within(
                session.created_at, command.created_at
            )
    if command.outcome != ACCEPTED or command.status != CommandStatus.ANSWERED:
        return False
    if _start_tag(command).upper() != session.id_tag.upper():
        return False
    wanted = _start_connector(command)
    if wanted is not None and wanted != connector_id:
        return False
    answered = command.answered_at or command.created_at
    return command.created_at <= session.created_at <= answered + remote_start_window()


# --- from the session: at its start -------------------------------------------------


def remote_start_command_link(*, transaction_id: int) -> int | None:
    """Link a session to the remote start that led to it; the command's id, or None.

    Idempotent: a session already linked returns its command. Called when
    the session starts (the session.started subscriber, the live channel);
    a command answered after that is linked when it is read.
    """
    linked = (
        Command.objects.filter(transaction_id=transaction_id)
        .order_by("created_at")
        .values_list("pk", flat=True)
        .first()
    )
    if linked is not None:
        return linked
    session = (
        Transaction.objects.filter(pk=transaction_id)
        .select_related("connector")
        .only(
            "pk",
            "charge_point_id",
            "id_tag",
            "remote_start_id",
            "ocpp_transaction_id",
            "created_at",
            "connector__connector_id",
        )
        .first()
    )
    if session is None:
        return None
    window = remote_start_window()
    candidates = Command.objects.filter(
        charge_point_id=session.charge_point_id,
        action__in=START_ACTIONS,
        transaction__isnull=True,
        created_at__gte=session.created_at - window,
        created_at__lte=session.created_at + window,
    ).order_by("-created_at", "-pk")[:_CANDIDATES]
    for command in candidates:
        if _led_to(command, session, session.connector.connector_id) and _claim(
            command_id=command.pk, transaction_id=session.pk
        ):
            return command.pk
    # A concurrent caller (the other subscriber, a read) may have linked it meanwhile.
    return (
        Command.objects.filter(transaction_id=transaction_id)
        .order_by("created_at")
        .values_list("pk", flat=True)
        .first()
    )


def _claim(*, command_id: int, transaction_id: int) -> bool:
    """Set the link unless another session got this command, or another command this session."""
    if Command.objects.filter(transaction_id=transaction_id).exists():
        return False
    return bool(
        Command.objects.filter(pk=command_id, transaction__isnull=True).update(
            transaction_id=transaction_id
        )
    )


# --- from the command: when it is read -------------------------------------------------


def remote_start_command_transaction(*, command: Command) -> int | None:
    """The session a remote start led to, linked now if not yet; None for other commands.

    The read side's fallback: a session whose start event came before the
    charger's answer was stored, or that the cable began before the
    command (2.0.1), is found here. Cheap: the charge point's sessions begun
    around the command, by an index.
    """
    if command.transaction_id is not None or command.action not in START_ACTIONS:
        return command.transaction_id
    if command.status != CommandStatus.ANSWERED or command.outcome != ACCEPTED:
        return None
    window = remote_start_window()
    answered = command.answered_at or command.created_at
    nearby = Q(created_at__gte=command.created_at - window, created_at__lte=answered + window)
    named = _answered_session(command)
    if named:
        nearby |= Q(ocpp_transaction_id=named)
    sessions = (
        Transaction.objects.filter(nearby, charge_point_id=command.charge_point_id)
        .filter(commands__isnull=True)
        .select_related("connector")
        .only(
            "pk",
            "charge_point_id",
            "id_tag",
            "remote_start_id",
            "ocpp_transaction_id",
            "created_at",
            "connector__connector_id",
        )
        .order_by("created_at", "pk")[:_CANDIDATES]
    )
    for session in sessions:
        if _led_to(command, session, session.connector.connector_id) and _claim(
            command_id=command.pk, transaction_id=session.pk
        ):
            command.transaction_id = session.pk
            return session.pk
    return None


# --- the subscriber ---------------------------------------------------------------------


def remote_start_on_session_started(event: Event) -> None:
    # Most sessions begin with a card at the charger: one indexed look for a
    # remote start on that charge point still without its session comes
    # before the three queries of the link (this runs for every start). A
    # 2.0.1 session plugged in long before its command is linked when the
    # command is read (remote_start_command_transaction).
    waiting = _START_WAITING.rows(
        charge_point_pk=event.payload["charge_point"],
        since=timezone.now() - remote_start_window(),
    )
    if waiting:
        remote_start_command_link(transaction_id=event.payload["transaction"])


def _start_waiting(*, charge_point_pk: int, since: datetime) -> QuerySet[Command]:
    return (
        Command.objects.filter(
            charge_point_id=charge_point_pk,
            action__in=START_ACTIONS,
            transaction__isnull=True,
            created_at__gte=since,
        )
        .order_by()
        .only("pk")[:1]
    )


_START_WAITING = QueryTemplate(_start_waiting)  # compiled once: it runs for every start


# Inline: a link missed here (a process that died after the commit) is made
# when the command is read (remote_start_command_transaction).
remote_start_links = Subscriber(
    name="remote_start_links",
    kinds=frozenset({EventKind.SESSION_STARTED}),
    handle=remote_start_on_session_started,
    inline=True,
)
