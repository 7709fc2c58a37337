from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class Tariff(models.Model):
    """A price list. The most specific one in force applies to a session.

    Specificity: a charge point's tariff beats its station's, which beats the
    default tariff; among equals, the higher priority wins.
    """

    name = models.CharField(_("name"), max_length=100)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    price_per_kwh = models.DecimalField(
        _("price per kWh (net)"),
        max_digits=10,
        decimal_places=4,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
    )
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
    is_default = models.BooleanField(_("default tariff"), default=False)
    priority = models.IntegerField(_("priority"), default=0)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("tariff")
        verbose_name_plural = _("tariffs")
        ordering = ["-priority", "name"]

    def __str__(self):
        return f"{self.name} ({self.price_per_kwh} {self.currency}/kWh)"


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

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-issued_at", "-id"]

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
