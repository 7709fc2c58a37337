"""What became of a command, as the console shows it: a verdict, a coloured badge, a filter.

A command's record has a `status` (how far it got: pending, sent,
answered, failed, timed out, offline) and, once answered, the `outcome`
(the answer's own status: Accepted, Rejected, Unlocked, UnlockFailed...).
An operator asks one question, "did it work?": the verdict combines both.
Green is for an accepting answer only; a "Rejected" answer is an answer,
but not a success.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Q
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import Command, CommandStatus

# The answers' statuses that mean "done" or "will be done" (every CALLRESULT
# status enum of both versions was read for this list).
ACCEPTING = frozenset(
    {"Accepted", "AcceptedCanceled", "Unlocked", "Scheduled", "RebootRequired", "Unpublished"}
)

ACCEPTED, REJECTED, TIMEOUT, OFFLINE, PENDING = (
    "accepted",
    "rejected",
    "timeout",
    "offline",
    "pending",
)
VERDICT_LABELS = {
    ACCEPTED: _("accepted"),
    REJECTED: _("rejected / failed"),
    TIMEOUT: _("timeout"),
    OFFLINE: _("offline"),
    PENDING: _("pending"),
}


def command_verdict(*, status: str, outcome: str) -> str:
    """accepted, rejected, timeout, offline or pending, from a record's status and outcome.

    An answer without a status of its own (GetConfiguration, GetVariables...)
    is accepted: the charger answered with its data.
    """
    if status == CommandStatus.ANSWERED:
        return ACCEPTED if not outcome or outcome in ACCEPTING else REJECTED
    return {
        CommandStatus.FAILED: REJECTED,
        CommandStatus.TIMED_OUT: TIMEOUT,
        CommandStatus.OFFLINE: OFFLINE,
    }.get(status, PENDING)


def verdict_q(verdict: str) -> Q:
    """The same rule in SQL (the history's filter; `outcome` is indexed)."""
    answered = Q(status=CommandStatus.ANSWERED)
    accepting = Q(outcome="") | Q(outcome__in=ACCEPTING)
    return {
        ACCEPTED: answered & accepting,
        REJECTED: Q(status=CommandStatus.FAILED) | (answered & ~accepting),
        TIMEOUT: Q(status=CommandStatus.TIMED_OUT),
        OFFLINE: Q(status=CommandStatus.OFFLINE),
        PENDING: Q(status__in=(CommandStatus.PENDING, CommandStatus.SENT)),
    }[verdict]


def badge_text(command: Command) -> str:
    """The answer's own status when it has one; else what happened, in a word."""
    if command.status == CommandStatus.ANSWERED:
        return command.outcome or str(_("answered"))
    return str(
        {
            CommandStatus.FAILED: _("error"),
            CommandStatus.TIMED_OUT: _("timeout"),
            CommandStatus.OFFLINE: _("offline"),
            CommandStatus.SENT: _("sent"),
        }.get(command.status, _("pending"))
    )


def outcome_badge(command: Command) -> str:
    """A coloured badge (console_commands.css); the title tells the CALLERROR if any."""
    verdict = command_verdict(status=command.status, outcome=command.outcome)
    title = " ".join(filter(None, [command.error_code, command.error_description]))
    return format_html(
        '<span class="badge outcome-{}" data-verdict="{}" title="{}">{}</span>',
        verdict,
        verdict,
        title or VERDICT_LABELS[verdict],
        badge_text(command),
    )


def message_level(command: Command) -> int:
    """Green only for an accepting answer; amber for any other end."""
    if command_verdict(status=command.status, outcome=command.outcome) == ACCEPTED:
        return messages.SUCCESS
    return messages.WARNING


class OutcomeFilter(admin.SimpleListFilter):
    title = _("outcome")
    parameter_name = "outcome"

    def lookups(self, request, model_admin):
        return list(VERDICT_LABELS.items())

    def queryset(self, request, queryset):
        if self.value() in VERDICT_LABELS:
            return queryset.filter(verdict_q(self.value()))
        return queryset
