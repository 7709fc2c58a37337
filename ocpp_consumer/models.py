from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class CommandStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    SENT = "sent", _("sent")
    ANSWERED = "answered", _("answered")
    FAILED = "failed", _("failed (CALLERROR or invalid answer)")
    TIMED_OUT = "timed_out", _("timed out")
    OFFLINE = "offline", _("charge point offline")


# Who asked for a command (Command.source): the console, the REST API, `manage.py
# ocpp_command`, the system itself (sweeps, firmware campaigns, replies that need one),
# OCPI partners, load management. Offered as the console's filter choices.
COMMAND_SOURCES = ("admin", "api", "cli", "loadmgmt", "roaming", "system")


class Command(models.Model):
    """A CALL from the Central System to a charge point, and what became of it."""

    charge_point = models.ForeignKey(
        "stations.ChargePoint",
        on_delete=models.CASCADE,
        related_name="commands",
        verbose_name=_("charge point"),
    )
    action = models.CharField(_("action"), max_length=40)
    payload = models.JSONField(_("payload"), default=dict)
    status = models.CharField(
        _("status"), max_length=16, choices=CommandStatus.choices, default=CommandStatus.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="ocpp_commands",
        verbose_name=_("requested by"),
    )
    source = models.CharField(_("source"), max_length=16, default="system")
    unique_id = models.CharField(_("message id"), max_length=36, blank=True)
    response = models.JSONField(_("response"), null=True, blank=True)
    error_code = models.CharField(_("error code"), max_length=40, blank=True)
    error_description = models.TextField(_("error description"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    # The answer's own verdict ("Accepted", "Rejected", "Unlocked", ...): what
    # an operator filters the history by. Empty while unanswered or when the
    # answer carries no status.
    outcome = models.CharField(_("outcome"), max_length=32, blank=True)
    # The session a remote start produced, once the charger has started it.
    transaction = models.ForeignKey(
        "stations.Transaction",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="commands",
        verbose_name=_("session started"),
    )

    class Meta:
        verbose_name = _("command")
        verbose_name_plural = _("commands")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["charge_point", "-created_at"], name="command_cp_created_idx"),
            models.Index(fields=["outcome", "-created_at"], name="command_outcome_created_idx"),
            models.Index(fields=["-created_at", "-id"], name="command_created_id_idx"),
            # The console's and the API's search by message id.
            models.Index(fields=["unique_id"], name="command_uid_idx"),
        ]

    def __str__(self):
        return f"{self.action} #{self.pk} ({self.status})"


class Direction(models.TextChoices):
    IN = "in", _("charge point → CSMS")
    OUT = "out", _("CSMS → charge point")


class MessageType(models.IntegerChoices):
    """The OCPP-J message type: the first number of every frame."""

    CALL = 2, _("CALL")
    CALLRESULT = 3, _("CALLRESULT")
    CALLERROR = 4, _("CALLERROR")


class JournalEntry(models.Model):
    """One OCPP-J frame as it crossed the socket (the message journal).

    The largest table by far (millions of rows a day on a large network), so
    each way the console and the API read it has its index: the newest
    first, a charge point's, an action's, the errors, a message id's. The
    charge point's key has no index of its own: journal_cp_time_idx starts
    with it.
    """

    charge_point = models.ForeignKey(
        "stations.ChargePoint",
        on_delete=models.CASCADE,
        related_name="journal",
        verbose_name=_("charge point"),
        db_index=False,
    )
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    message_type = models.PositiveSmallIntegerField(
        _("message type"),
        choices=MessageType.choices,
        null=True,
        blank=True,
        help_text=_("Empty for a frame that did not parse."),
    )
    unique_id = models.CharField(_("message id"), max_length=100, blank=True)
    action = models.CharField(_("action"), max_length=50, blank=True)
    payload = models.JSONField(_("payload"), null=True, blank=True)
    error_code = models.CharField(_("error code"), max_length=40, blank=True)
    raw = models.TextField(_("raw frame"), blank=True, help_text=_("Frames that did not parse."))
    timestamp = models.DateTimeField(_("timestamp"))

    class Meta:
        verbose_name = _("journal entry")
        verbose_name_plural = _("message journal")
        ordering = ["-timestamp", "-id"]
        indexes = [
            # The default order (read backwards), date ranges, the retention prune.
            models.Index(fields=["timestamp", "id"], name="journal_time_idx"),
            models.Index(fields=["charge_point", "-timestamp"], name="journal_cp_time_idx"),
            # A message id, alone (the console's search) or with its charge point.
            models.Index(fields=["unique_id", "charge_point"], name="journal_uid_cp_idx"),
            models.Index(fields=["action", "-timestamp"], name="journal_action_time_idx"),
            # CALLERRORs and frames that did not parse: rare, so a small index of their own.
            models.Index(
                fields=["message_type", "-timestamp"],
                condition=models.Q(message_type=MessageType.CALLERROR)
                | models.Q(message_type__isnull=True),
                name="journal_errors_time_idx",
            ),
        ]

    def __str__(self):
        return f"{self.direction} {self.action or self.message_type} {self.unique_id}"


class CommandRelay(models.Model):
    """A command on its way to a socket held by another process, without Redis.

    The in-process channel layer reaches only this process's consumers: a
    command sent from `manage.py`, a Celery worker or another server process
    is written here, and the server process holding the socket takes it
    (deleting the row) and hands it to its consumer (commands/relay.py). The
    payload is the CALL's in full, secrets included: the row lives from the
    send until taken, seconds at most.
    """

    command = models.OneToOneField(
        Command,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="relay",
        verbose_name=_("command"),
    )
    channel = models.CharField(_("consumer channel"), max_length=200)
    payload = models.JSONField(_("payload"), default=dict)
    timeout = models.FloatField(_("timeout (s)"))
    deadline = models.DateTimeField(_("deadline"))

    class Meta:
        verbose_name = _("relayed command")
        verbose_name_plural = _("relayed commands")

    def __str__(self):
        return f"relay of command #{self.command_id} to {self.channel}"
