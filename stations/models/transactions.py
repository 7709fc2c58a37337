"""Charging sessions and the meter values charge points report."""

from django.conf import settings
from django.db import models
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _

from drivers.models import ID_TAG_MAX_LENGTH

from ..choices import DisputeResolution, EnergySource, SessionStatus, StopReason
from .charge_points import ChargePoint, Connector

# A session's id tag may be an OCPP 2.0.1 idToken (up to 36 characters; a
# 1.6 idTag or a tag we know has at most 20): kept whole, never cut to match.
ID_TOKEN_MAX_LENGTH = 36


class Transaction(models.Model):
    """A charging session; its primary key is the OCPP transactionId."""

    # A 32-bit integer on purpose: many chargers store transactionId as int32.
    id = models.AutoField(_("transaction id"), primary_key=True)
    charge_point = models.ForeignKey(
        ChargePoint,
        on_delete=models.PROTECT,
        related_name="transactions",
        verbose_name=_("charge point"),
    )
    connector = models.ForeignKey(
        Connector,
        on_delete=models.PROTECT,
        related_name="transactions",
        verbose_name=_("connector"),
    )
    id_tag = models.CharField(_("id tag"), max_length=ID_TOKEN_MAX_LENGTH)
    tag = models.ForeignKey(
        "drivers.IdTag",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="transactions",
        verbose_name=_("id tag record"),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=SessionStatus.choices, default=SessionStatus.RUNNING
    )
    start_auth_status = models.CharField(_("authorization at start"), max_length=16, blank=True)
    reservation_id = models.IntegerField(_("reservation id"), null=True, blank=True)
    ocpp_transaction_id = models.CharField(
        _("charger's transaction id"),
        max_length=36,
        blank=True,
        help_text=_("OCPP 2.0.1: the transactionId the charging station chose."),
    )
    remote_start_id = models.IntegerField(
        _("remote start id"),
        null=True,
        blank=True,
        help_text=_("OCPP 2.0.1: the RequestStartTransaction that led to this session."),
    )
    meter_start = models.BigIntegerField(_("meter start (Wh)"))
    start_timestamp = models.DateTimeField(_("start"))
    meter_stop = models.BigIntegerField(_("meter stop (Wh)"), null=True, blank=True)
    stop_timestamp = models.DateTimeField(_("stop"), null=True, blank=True)
    stop_reason = models.CharField(
        _("stop reason"), max_length=16, choices=StopReason.choices, blank=True
    )
    stop_id_tag = models.CharField(_("stop id tag"), max_length=ID_TOKEN_MAX_LENGTH, blank=True)
    energy_wh = models.BigIntegerField(_("energy (Wh)"), null=True, blank=True)
    energy_source = models.CharField(
        _("energy source"), max_length=16, choices=EnergySource.choices, blank=True
    )
    # How the energy was worked out: the register segments between resets,
    # e.g. [{"from_wh": 70000, "to_wh": 76000}, {"from_wh": 200, "to_wh": 1500}].
    meter_segments = models.JSONField(_("meter segments"), default=list, blank=True)
    # The prices this session is billed at, fixed when it started.
    tariff_snapshot = models.JSONField(_("tariff at start"), null=True, blank=True)
    disputed_at = models.DateTimeField(_("disputed since"), null=True, blank=True)
    dispute_reason = models.TextField(_("why disputed"), blank=True)
    dispute_resolution = models.CharField(
        _("resolution"), max_length=16, choices=DisputeResolution.choices, blank=True
    )
    dispute_resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    dispute_resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resolved by"),
    )
    dispute_note = models.TextField(_("resolution note"), blank=True)
    # The energy the charger's data gave, kept when an operator corrects it.
    energy_wh_reported = models.BigIntegerField(_("reported energy (Wh)"), null=True, blank=True)
    stale_since = models.DateTimeField(
        _("stale since"),
        null=True,
        blank=True,
        help_text=_(
            "Set by the sweep when an open session has had no message for "
            "STALE_TRANSACTION_HOURS; it is never closed automatically."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("transaction")
        verbose_name_plural = _("transactions")
        ordering = ["-start_timestamp", "-id"]
        constraints = [
            # A StartTransaction retransmitted after a lost reply must map to
            # the same transaction, also when two copies race.
            models.UniqueConstraint(
                fields=["connector", "id_tag", "start_timestamp", "meter_start"],
                name="transaction_start_dedupe",
            ),
            # OCPP 2.0.1: the charger's transactionId names one session of it.
            models.UniqueConstraint(
                fields=["charge_point", "ocpp_transaction_id"],
                condition=~models.Q(ocpp_transaction_id=""),
                name="transaction_ocpp_id_unique_per_charge_point",
            ),
            # A connector runs one session at a time.
            models.UniqueConstraint(
                fields=["connector"],
                condition=models.Q(status=SessionStatus.RUNNING),
                name="transaction_one_running_per_connector",
            ),
        ]
        indexes = [
            models.Index(fields=["charge_point", "-start_timestamp"], name="tx_cp_start_idx"),
            # The session list's default order, and its pages deep down.
            models.Index(fields=["-start_timestamp", "-id"], name="tx_start_id_idx"),
            # The dashboard's energy of today and this month, summed from the
            # index alone (PostgreSQL: an index-only scan, no table reads).
            models.Index(
                fields=["stop_timestamp"],
                include=["energy_wh", "status", "dispute_resolution", "disputed_at"],
                condition=models.Q(stop_timestamp__isnull=False),
                name="tx_stop_energy_idx",
            ),
            # The console's and the API's search by id tag (any case), over every session.
            models.Index(Upper("id_tag"), name="tx_id_tag_idx"),
            models.Index(
                Upper("id_tag"),
                name="tx_running_id_tag_idx",
                condition=models.Q(status=SessionStatus.RUNNING),
            ),
            models.Index(
                fields=["disputed_at"],
                name="tx_disputed_idx",
                condition=models.Q(disputed_at__isnull=False, dispute_resolution=""),
            ),
            # The API's filters and orderings, newest first within each (issue 25):
            # ?connector_id= with ?charge_point=, ?status= / ?is_open=, ?ordering=stop_timestamp
            # and energy_wh (scanned either way), the sync cursor and ?updated_since=.
            models.Index(
                fields=["connector", "-start_timestamp", "-id"], name="tx_connector_start_idx"
            ),
            models.Index(fields=["status", "-start_timestamp", "-id"], name="tx_status_start_idx"),
            models.Index(fields=["stop_timestamp", "id"], name="tx_stop_id_idx"),
            models.Index(fields=["energy_wh", "id"], name="tx_energy_id_idx"),
            models.Index(fields=["updated_at", "id"], name="tx_updated_id_idx"),
            models.Index(
                fields=["ocpp_transaction_id"],
                name="tx_ocpp_id_idx",
                condition=~models.Q(ocpp_transaction_id=""),
            ),
        ]

    def __str__(self):
        return str(self.pk)

    @property
    def is_open(self) -> bool:
        """Really running: a refused, ended or superseded session never is."""
        return self.status == SessionStatus.RUNNING

    @property
    def is_disputed(self) -> bool:
        """Waiting for an operator's decision: not billed until then."""
        return self.disputed_at is not None and not self.dispute_resolution


class MeterValue(models.Model):
    """One sampledValue of a MeterValues or StopTransaction message."""

    charge_point = models.ForeignKey(
        ChargePoint,
        on_delete=models.CASCADE,
        related_name="meter_values",
        verbose_name=_("charge point"),
    )
    # No index of its own: metervalue_sample_unique starts with the connector.
    connector = models.ForeignKey(
        Connector,
        on_delete=models.CASCADE,
        related_name="meter_values",
        verbose_name=_("connector"),
        db_index=False,
    )
    # No index of its own: metervalue_tx_time_idx starts with the session.
    transaction = models.ForeignKey(
        Transaction,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="meter_values",
        verbose_name=_("transaction"),
        db_index=False,
    )
    timestamp = models.DateTimeField(_("timestamp"))
    value = models.TextField(_("value"))
    numeric_value = models.DecimalField(
        _("numeric value"), max_digits=24, decimal_places=6, null=True, blank=True
    )
    measurand = models.CharField(_("measurand"), max_length=48)
    phase = models.CharField(_("phase"), max_length=8, blank=True)
    unit = models.CharField(_("unit"), max_length=16)
    context = models.CharField(_("context"), max_length=24)
    location = models.CharField(_("location"), max_length=8)
    format = models.CharField(_("format"), max_length=16)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        verbose_name = _("meter value")
        verbose_name_plural = _("meter values")
        ordering = ["timestamp", "id"]
        indexes = [
            models.Index(fields=["transaction", "timestamp"], name="metervalue_tx_time_idx"),
            # The console's list of all samples, newest pages first.
            models.Index(fields=["timestamp", "id"], name="metervalue_time_id_idx"),
            # The retention sweep's samples without a session, oldest received first.
            models.Index(
                fields=["received_at", "id"],
                name="metervalue_unlinked_idx",
                condition=models.Q(transaction__isnull=True),
            ),
        ]
        constraints = [
            # One sample per connector, instant and quantity: a retransmitted
            # MeterValues (or the same sample in transactionData) adds nothing.
            # It also serves the per-connector time index.
            models.UniqueConstraint(
                fields=["connector", "timestamp", "measurand", "phase", "location", "context"],
                name="metervalue_sample_unique",
            )
        ]

    def __str__(self):
        return f"{self.measurand} {self.value} {self.unit}"


class OrphanStopTransaction(models.Model):
    """A StopTransaction for a transactionId this system does not know.

    It is answered like any other (or the charger retries forever) and kept
    here so the operator can reconcile it.
    """

    charge_point = models.ForeignKey(
        ChargePoint,
        on_delete=models.CASCADE,
        related_name="orphan_stops",
        verbose_name=_("charge point"),
    )
    transaction_id = models.BigIntegerField(_("reported transaction id"))
    id_tag = models.CharField(_("id tag"), max_length=ID_TAG_MAX_LENGTH, blank=True)
    meter_stop = models.BigIntegerField(_("meter stop (Wh)"))
    timestamp = models.DateTimeField(_("timestamp"))
    reason = models.CharField(_("reason"), max_length=16, blank=True)
    transaction_data = models.JSONField(_("transaction data"), default=list, blank=True)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        verbose_name = _("orphan stop transaction")
        verbose_name_plural = _("orphan stop transactions")
        ordering = ["-received_at"]

    def __str__(self):
        return f"{self.charge_point.charge_point_id} #{self.transaction_id}"
