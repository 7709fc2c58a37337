from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

NOT_NEGATIVE = [MinValueValidator(Decimal("0"))]


def _unit_price(verbose_name, help_text="", **kwargs) -> models.DecimalField:
    """A net price per unit (kWh, minute): four decimals, never negative."""
    return models.DecimalField(
        verbose_name,
        max_digits=10,
        decimal_places=4,
        validators=NOT_NEGATIVE,
        help_text=help_text,
        **kwargs,
    )


def _amount(verbose_name, **kwargs) -> models.DecimalField:
    """A net amount of money per session: two decimals, never negative."""
    return models.DecimalField(
        verbose_name, max_digits=10, decimal_places=2, validators=NOT_NEGATIVE, **kwargs
    )


class TagGroup(models.Model):
    """A named set of id tags a tariff can be reserved for (e.g. employees).

    A session belongs to a group when its id tag, or that tag's parent
    (OCPP parentIdTag), is a member: adding a fleet's parent tag covers its cards.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    id_tags = models.ManyToManyField(
        "drivers.IdTag", blank=True, related_name="tag_groups", verbose_name=_("id tags")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("id tag group")
        verbose_name_plural = _("id tag groups")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Tariff(models.Model):
    """A price list. The most specific one in force at session start applies.

    Specificity, most specific first: an id tag group, a connector, a charge
    point, a station; a tariff with none of them applies only as the default.
    A tariff may combine scopes (a group at one station): every scope set
    must match. Among equally specific tariffs the higher priority wins.
    Prices are net; VAT is added on the invoice.
    """

    name = models.CharField(_("name"), max_length=100)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    price_per_kwh = _unit_price(_("price per kWh (net)"), default=Decimal("0"))
    price_per_minute = _unit_price(
        _("price per minute of charging (net)"),
        _("From the start until charging ends; the idle fee covers the rest."),
        default=Decimal("0"),
    )
    idle_price_per_minute = _unit_price(
        _("idle fee per minute (net)"),
        _("While the car stays plugged in after charging ended."),
        default=Decimal("0"),
    )
    idle_grace_minutes = models.PositiveIntegerField(
        _("idle grace period (min)"),
        default=0,
        help_text=_("Idle minutes that are free before the idle fee starts."),
    )
    idle_power_threshold_w = models.PositiveIntegerField(
        _("idle power threshold (W)"),
        default=100,
        help_text=_(
            "Charging has ended once the power drawn (from the energy register "
            "readings) stays at or below this for the rest of the session."
        ),
    )
    session_fee = _amount(_("flat fee per session (net)"), default=Decimal("0"))
    min_price = _amount(_("minimum per session (net)"), null=True, blank=True)
    max_price = _amount(_("maximum per session (net)"), null=True, blank=True)
    vat_rate = models.DecimalField(
        _("VAT rate (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    station = models.ForeignKey(
        "stations.Station",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="tariffs",
        verbose_name=_("station"),
    )
    charge_point = models.ForeignKey(
        "stations.ChargePoint",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="tariffs",
        verbose_name=_("charge point"),
    )
    connector = models.ForeignKey(
        "stations.Connector",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="tariffs",
        verbose_name=_("connector"),
    )
    tag_group = models.ForeignKey(
        TagGroup,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="tariffs",
        verbose_name=_("id tag group"),
    )
    is_default = models.BooleanField(_("default tariff"), default=False)
    priority = models.IntegerField(_("priority"), default=0)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("tariff")
        verbose_name_plural = _("tariffs")
        ordering = ["-priority", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(is_default=False)
                | Q(
                    station__isnull=True,
                    charge_point__isnull=True,
                    connector__isnull=True,
                    tag_group__isnull=True,
                ),
                name="tariff_default_has_no_scope",
                violation_error_message=_("A default tariff applies everywhere: clear its scope."),
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_from__lt=F("valid_until")),
                name="tariff_valid_from_before_until",
                violation_error_message=_("The validity window ends before it starts."),
            ),
            models.CheckConstraint(
                condition=Q(min_price__isnull=True)
                | Q(max_price__isnull=True)
                | Q(min_price__lte=F("max_price")),
                name="tariff_min_price_not_above_max",
                violation_error_message=_("The minimum is above the maximum."),
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.price_per_kwh} {self.currency}/kWh)"

    def clean(self):
        super().clean()
        if (
            self.connector_id
            and self.charge_point_id
            and self.connector.charge_point_id != self.charge_point_id
        ):
            raise ValidationError(
                {"connector": _("The connector belongs to another charge point.")}
            )


class TariffPeriod(models.Model):
    """A time of day with its own prices, in the station's local time.

    It runs from `start_time` (included) to `end_time` (excluded); an end at
    or before the start crosses midnight (22:00-06:00). An empty price keeps
    the tariff's own. On DST change days the wall clock decides: the night
    period is an hour longer when clocks go back.
    """

    tariff = models.ForeignKey(
        Tariff, on_delete=models.CASCADE, related_name="periods", verbose_name=_("tariff")
    )
    start_time = models.TimeField(_("from (local time)"))
    end_time = models.TimeField(_("until (local time)"))
    price_per_kwh = _unit_price(
        _("price per kWh (net)"), _("Empty: the tariff's price."), null=True, blank=True
    )
    price_per_minute = _unit_price(
        _("price per minute of charging (net)"),
        _("Empty: the tariff's price."),
        null=True,
        blank=True,
    )

    class Meta:
        verbose_name = _("time-of-day period")
        verbose_name_plural = _("time-of-day periods")
        ordering = ["tariff", "start_time"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(start_time=F("end_time")),
                name="tariffperiod_start_differs_from_end",
                violation_error_message=_("A period cannot start and end at the same time."),
            )
        ]

    def __str__(self):
        return f"{self.start_time:%H:%M}-{self.end_time:%H:%M}"


class InvoiceSequence(models.Model):
    """The last invoice number issued per year, locked to keep numbers gap-free."""

    year = models.PositiveIntegerField(primary_key=True)
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("invoice sequence")
        verbose_name_plural = _("invoice sequences")

    def __str__(self):
        return f"{self.year}: {self.last_number}"


class Invoice(models.Model):
    """The bill for one finished transaction."""

    number = models.CharField(_("number"), max_length=32, unique=True)
    transaction = models.OneToOneField(
        "stations.Transaction",
        on_delete=models.PROTECT,
        related_name="invoice",
        verbose_name=_("transaction"),
    )
    tariff = models.ForeignKey(
        Tariff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoices",
        verbose_name=_("tariff"),
    )
    tariff_snapshot = models.JSONField(_("tariff snapshot"), default=dict)
    currency = models.CharField(_("currency"), max_length=3)
    energy_wh = models.BigIntegerField(_("energy (Wh)"))
    net_total = models.DecimalField(_("net total"), max_digits=12, decimal_places=2)
    vat_total = models.DecimalField(_("VAT"), max_digits=12, decimal_places=2)
    total = models.DecimalField(_("total (gross)"), max_digits=12, decimal_places=2)
    issued_at = models.DateTimeField(_("issued at"), auto_now_add=True)
    # For incremental sync (the API's ?updated_since= and cursor pages); stamped by a
    # database trigger on every writer (stations.migration_operations.StampUpdatedAt).
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-issued_at", "-id"]
        # Revenue of a day or a month (billing.reports) without reading every invoice.
        indexes = [
            # The invoice list's order, and the revenue of a period summed from
            # the index alone (PostgreSQL: an index-only scan, no table reads).
            models.Index(
                fields=["-issued_at", "-id"],
                include=["currency", "net_total", "vat_total", "total", "energy_wh"],
                name="invoice_issued_id_idx",
            ),
            models.Index(fields=["updated_at", "id"], name="invoice_updated_id_idx"),
            models.Index(fields=["total", "id"], name="invoice_total_id_idx"),
        ]

    def __str__(self):
        return self.number


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(
        Invoice, on_delete=models.CASCADE, related_name="lines", verbose_name=_("invoice")
    )
    component = models.CharField(_("component"), max_length=16)
    description = models.CharField(_("description"), max_length=200)
    quantity = models.DecimalField(_("quantity"), max_digits=14, decimal_places=4)
    unit = models.CharField(_("unit"), max_length=8)
    unit_price = models.DecimalField(_("unit price (net)"), max_digits=10, decimal_places=4)
    amount = models.DecimalField(_("amount (net)"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")
        ordering = ["id"]

    def __str__(self):
        return self.description


class BillingFailure(models.Model):
    """Why a finished transaction has no invoice yet, for the operator to act on.

    One row per transaction, updated on every failed attempt and marked
    resolved when an invoice is finally issued.
    """

    transaction = models.OneToOneField(
        "stations.Transaction",
        on_delete=models.CASCADE,
        related_name="billing_failure",
        verbose_name=_("transaction"),
    )
    error = models.TextField(_("last error"))
    attempts = models.PositiveIntegerField(_("failed attempts"), default=1)
    will_retry = models.BooleanField(
        _("retrying"), default=False, help_text=_("False: the operator must act, then retry.")
    )
    first_failed_at = models.DateTimeField(_("first failed at"))
    last_failed_at = models.DateTimeField(_("last failed at"))
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        verbose_name = _("billing failure")
        verbose_name_plural = _("billing failures")
        ordering = ["-last_failed_at", "-id"]

    def __str__(self):
        return f"{self.transaction_id}: {self.error[:60]}"


class StationEnergyHour(models.Model):
    """Energy delivered at a station in one clock hour (UTC), for reports.

    Sessions spanning hours are split by their energy register readings
    (linearly between readings); recomputed while late readings may arrive.
    """

    station = models.ForeignKey(
        "stations.Station",
        on_delete=models.CASCADE,
        related_name="energy_hours",
        verbose_name=_("station"),
    )
    hour = models.DateTimeField(_("hour (start, UTC)"))
    energy_wh = models.BigIntegerField(_("energy (Wh)"), default=0)
    session_count = models.PositiveIntegerField(_("sessions"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("hourly station energy")
        verbose_name_plural = _("hourly station energy")
        ordering = ["-hour", "station"]
        constraints = [
            models.UniqueConstraint(
                fields=["station", "hour"], name="stationenergyhour_station_hour_unique"
            )
        ]

    def __str__(self):
        return f"{self.station_id} {self.hour:%Y-%m-%d %H:00}"
