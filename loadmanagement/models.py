"""Site load management: a station's grid limit, priorities, and the allocation in force.

The allocation (one row per running session, one per charge point for the
fallback profile) is stored so that the API and the console read it, and so
that a restarted CSMS re-sends what it had decided.
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from stations.models import ChargePoint, Connector, Station, Transaction


class SendState(models.TextChoices):
    """Where a profile stands with its charger."""

    PENDING = "pending", _("to send")
    ACCEPTED = "accepted", _("accepted")
    REJECTED = "rejected", _("rejected")
    NO_ANSWER = "no_answer", _("no answer")
    UNSUPPORTED = "unsupported", _("no smart charging")


# A charger in these states may draw its full power: it is counted at that.
UNCONTROLLED_STATES = (SendState.REJECTED, SendState.NO_ANSWER, SendState.UNSUPPORTED)


class LimitSource(models.TextChoices):
    OPERATOR = "operator", _("operator")
    EMS = "ems", _("energy management system")


class SiteLimit(models.Model):
    """The grid connection of a station and how its power is shared."""

    station = models.OneToOneField(
        Station, on_delete=models.CASCADE, related_name="site_limit", verbose_name=_("station")
    )
    grid_limit_w = models.PositiveIntegerField(
        _("grid limit (W)"),
        null=True,
        blank=True,
        help_text=_("The power the site's connection allows. Empty: no power limit."),
    )
    phase_current_limit_a = models.PositiveIntegerField(
        _("current limit per phase (A)"),
        null=True,
        blank=True,
        help_text=_("The main fuse per phase. Empty: only the power limit applies."),
    )
    voltage_v = models.PositiveIntegerField(
        _("phase voltage (V)"),
        default=230,
        validators=[MinValueValidator(100), MaxValueValidator(400)],
    )
    safety_margin_percent = models.DecimalField(
        _("safety margin (%)"),
        max_digits=4,
        decimal_places=1,
        default=Decimal("5.0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("50"))],
        help_text=_("Kept free below the limits (meter tolerances, loads we do not see)."),
    )
    min_current_a = models.DecimalField(
        _("minimum current per session (A)"),
        max_digits=4,
        decimal_places=1,
        default=Decimal("6.0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("32"))],
        help_text=_("Below this an EV stops charging: a session that cannot get it waits."),
    )
    default_charger_max_w = models.PositiveIntegerField(
        _("charger maximum when unknown (W)"),
        default=22_080,
        help_text=_(
            "For connectors without a maximum power: what such a charger may draw "
            "(and is counted at when it does not follow its profile)."
        ),
    )
    fallback_limit_w = models.PositiveIntegerField(
        _("fallback limit per connector (W)"),
        null=True,
        blank=True,
        help_text=_(
            "The TxDefaultProfile every charger keeps when it loses the CSMS. Empty: "
            "the site's limit divided by its connectors."
        ),
    )
    enabled = models.BooleanField(
        _("managed"),
        default=True,
        help_text=_("Off: no profiles are sent; the limit is kept."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("site limit")
        verbose_name_plural = _("site limits")
        ordering = ["station__name"]

    def __str__(self):
        return str(self.station)

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        # The site's own station is always its first member (the group's name).
        SiteStation.objects.get_or_create(station_id=self.station_id, defaults={"site": self})

    def clean(self):
        if self.station_id is not None:
            other = (
                SiteStation.objects.filter(station_id=self.station_id)
                .exclude(site_id=self.pk)
                .select_related("site__station")
                .first()
            )
            if other is not None:
                raise ValidationError(
                    {
                        "station": _("This station already belongs to the site of %(site)s.")
                        % {"site": other.site}
                    }
                )
        if self.fallback_limit_w is not None and self.grid_limit_w is not None:
            if self.fallback_limit_w > self.grid_limit_w:
                raise ValidationError(
                    {"fallback_limit_w": _("The fallback cannot exceed the grid limit.")}
                )


class SiteStation(models.Model):
    """A station behind a site's grid connection: a site may feed several stations."""

    site = models.ForeignKey(
        SiteLimit, on_delete=models.CASCADE, related_name="members", verbose_name=_("site")
    )
    station = models.ForeignKey(
        Station, on_delete=models.CASCADE, related_name="+", verbose_name=_("station")
    )
    added_at = models.DateTimeField(_("added at"), auto_now_add=True)

    class Meta:
        verbose_name = _("station of the site")
        verbose_name_plural = _("stations of the site")
        ordering = ["added_at", "pk"]
        constraints = [
            # One grid connection per station: two sites sharing it would each give it all.
            models.UniqueConstraint(
                fields=["station"],
                name="loadmgmt_station_in_one_site",
                violation_error_message=_("This station already belongs to another site."),
            )
        ]

    def __str__(self):
        return str(self.station)

    def clean(self):
        if self.station_id is None or self.site_id is None:
            return
        owner = SiteLimit.objects.filter(station_id=self.station_id).exclude(pk=self.site_id)
        if owner.exists():
            raise ValidationError(
                {"station": _("This station has a site of its own: delete that site first.")}
            )


class ConnectorPhase(models.Model):
    """The phase a one-phase connector is wired to, so it loads only that one."""

    connector = models.OneToOneField(
        Connector,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="load_phase",
        verbose_name=_("connector"),
    )
    phase = models.PositiveSmallIntegerField(
        _("phase"),
        choices=[(1, "L1"), (2, "L2"), (3, "L3")],
        help_text=_("Only for one-phase connectors; three-phase ones load all three."),
    )

    class Meta:
        verbose_name = _("connector phase")
        verbose_name_plural = _("connector phases")

    def __str__(self):
        return f"{self.connector}: L{self.phase}"


class TimedEntry(models.Model):
    """A site's value for a while, from `starts_at` until `ends_at` (excluded).

    The tables of such entries (the limit schedule, the time-of-use signal)
    are replaced from now on as a whole (services.timed_entries_replace).
    Each concrete table keeps its own site relation, constraint and index
    names (ends_after_start, site_end_index): its migrations stay as they are.
    """

    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["starts_at"]

    def clean(self):
        super().clean()
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": _("Must be after starts_at.")})


def ends_after_start(name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")), name=name)


def site_end_index(name: str) -> models.Index:
    """Entries of a site not yet over: what a replacement deletes and the engine reads."""
    return models.Index(fields=["site", "ends_at"], name=name)


class LimitScheduleEntry(TimedEntry):
    """A lower limit for a while: a planned schedule, or an energy manager's signal."""

    site = models.ForeignKey(
        SiteLimit, on_delete=models.CASCADE, related_name="schedule", verbose_name=_("site")
    )
    limit_w = models.PositiveIntegerField(_("limit (W)"))
    source = models.CharField(
        _("source"), max_length=16, choices=LimitSource.choices, default=LimitSource.OPERATOR
    )

    class Meta(TimedEntry.Meta):
        verbose_name = _("limit schedule entry")
        verbose_name_plural = _("limit schedule")
        constraints = [ends_after_start("loadmgmt_schedule_ends_after_start")]
        indexes = [site_end_index("loadmgmt_schedule_end_idx")]

    def __str__(self):
        return f"{self.limit_w} W {self.starts_at:%Y-%m-%d %H:%M}"


class ChargingPriority(models.Model):
    """A higher share for a connector, or for drivers of an id tag group (e.g. a fleet)."""

    site = models.ForeignKey(
        SiteLimit, on_delete=models.CASCADE, related_name="priorities", verbose_name=_("site")
    )
    connector = models.ForeignKey(
        Connector,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("connector"),
    )
    tag_group = models.ForeignKey(
        "billing.TagGroup",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("id tag group"),
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"), default=1, help_text=_("Higher first; sessions without one have 0.")
    )

    class Meta:
        verbose_name = _("charging priority")
        verbose_name_plural = _("charging priorities")
        ordering = ["-priority"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(connector__isnull=False) | models.Q(tag_group__isnull=False),
                name="loadmgmt_priority_names_connector_or_group",
            )
        ]

    def __str__(self):
        return f"{self.priority}: {self.connector or self.tag_group}"

    def clean(self):
        if self.connector_id is None and self.tag_group_id is None:
            raise ValidationError(_("Name a connector, an id tag group, or both."))


class SentProfile(models.Model):
    """A profile we send a charger: where it stands with the charger, and the CALL that sent it."""

    state = models.CharField(
        _("state"), max_length=16, choices=SendState.choices, default=SendState.PENDING
    )
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    command_id = models.BigIntegerField(_("command"), null=True, blank=True)
    detail = models.CharField(_("detail"), max_length=255, blank=True)

    class Meta:
        abstract = True

    @property
    def controlled(self) -> bool:
        return self.state not in UNCONTROLLED_STATES


class SessionAllocation(SentProfile):
    """The power a running session is allowed now, and whether its charger took it."""

    transaction = models.OneToOneField(
        Transaction,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="allocation",
        verbose_name=_("transaction"),
    )
    site = models.ForeignKey(
        SiteLimit, on_delete=models.CASCADE, related_name="allocations", verbose_name=_("site")
    )
    allocated_w = models.PositiveIntegerField(_("allocated (W)"), default=0)
    current_a = models.DecimalField(_("allocated (A)"), max_digits=6, decimal_places=1, default=0)
    measured_w = models.PositiveIntegerField(_("measured (W)"), null=True, blank=True)
    max_w = models.PositiveIntegerField(_("charger maximum (W)"), default=0)
    phases = models.PositiveSmallIntegerField(_("phases"), default=3)
    priority = models.PositiveSmallIntegerField(_("priority"), default=0)
    reason = models.CharField(_("reason"), max_length=16, blank=True)
    # What the charger has: the limit last sent (its answer: SentProfile).
    sent_limit = models.DecimalField(
        _("sent limit"), max_digits=10, decimal_places=1, null=True, blank=True
    )
    sent_unit = models.CharField(_("unit"), max_length=1, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("session allocation")
        verbose_name_plural = _("session allocations")
        ordering = ["site", "transaction"]

    def __str__(self):
        return f"{self.transaction_id}: {self.allocated_w} W"


class ChargerFallback(SentProfile):
    """The TxDefaultProfile a charger keeps for when it loses the CSMS."""

    charge_point = models.OneToOneField(
        ChargePoint,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="load_fallback",
        verbose_name=_("charge point"),
    )
    site = models.ForeignKey(
        SiteLimit, on_delete=models.CASCADE, related_name="fallbacks", verbose_name=_("site")
    )
    limit_w = models.PositiveIntegerField(_("limit per connector (W)"))

    class Meta:
        verbose_name = _("fallback profile")
        verbose_name_plural = _("fallback profiles")

    def __str__(self):
        return f"{self.charge_point_id}: {self.limit_w} W"


class ChargerMaxProfile(SentProfile):
    """The ChargePointMaxProfile (2.0.1: ChargingStationMaxProfile) capping a whole charger.

    At most what the site can ever give it, so that a charger with several
    connectors stays under the site's limit even if its session profiles are lost.
    """

    charge_point = models.OneToOneField(
        ChargePoint,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="load_max_profile",
        verbose_name=_("charge point"),
    )
    site = models.ForeignKey(
        SiteLimit, on_delete=models.CASCADE, related_name="max_profiles", verbose_name=_("site")
    )
    limit_w = models.PositiveIntegerField(_("limit of the charger (W)"))
    # The same cap in amperes per phase, for chargers that take amperes; 1 phase for a
    # charger whose connectors are all one-phase.
    current_a = models.DecimalField(_("limit (A)"), max_digits=6, decimal_places=1, default=0)
    phases = models.PositiveSmallIntegerField(_("phases"), default=3)

    class Meta:
        verbose_name = _("charger maximum profile")
        verbose_name_plural = _("charger maximum profiles")

    def __str__(self):
        return f"{self.charge_point_id}: {self.limit_w} W"


class ClearState(models.TextChoices):
    PENDING = "pending", _("to send")
    CLEARED = "cleared", _("cleared")
    UNKNOWN = "unknown", _("none installed")
    REJECTED = "rejected", _("rejected")
    NO_ANSWER = "no_answer", _("no answer")


class ProfileClearance(models.Model):
    """Profiles we installed on a charger, to clear: its site was switched off or deleted,
    or its station left the site. Kept after the site is gone (the journal of it)."""

    charge_point = models.ForeignKey(
        ChargePoint,
        on_delete=models.CASCADE,
        related_name="load_clearances",
        verbose_name=_("charge point"),
    )
    # The chargingProfileId of every profile we installed there.
    profile_ids = models.JSONField(_("profile ids"), default=list)
    reason = models.CharField(_("reason"), max_length=32)
    site_name = models.CharField(_("site"), max_length=255, blank=True)
    state = models.CharField(
        _("state"), max_length=16, choices=ClearState.choices, default=ClearState.PENDING
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    # One ClearChargingProfile per id: {"<id>": "Accepted" | "Unknown" | an error}.
    answers = models.JSONField(_("answers"), default=dict)
    detail = models.CharField(_("detail"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("profile clearance")
        verbose_name_plural = _("profile clearances")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state"], name="loadmgmt_clearance_state_idx")]

    def __str__(self):
        return f"{self.charge_point_id}: {self.profile_ids} ({self.state})"


class AllocationDecision(models.Model):
    """One recomputation of a site: why, what it allowed, what was drawn (the journal)."""

    site = models.ForeignKey(
        SiteLimit, on_delete=models.CASCADE, related_name="decisions", verbose_name=_("site")
    )
    created_at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    trigger = models.CharField(_("trigger"), max_length=32)
    capacity_w = models.PositiveIntegerField(_("capacity (W)"), null=True, blank=True)
    allocated_w = models.PositiveIntegerField(_("allocated (W)"), default=0)
    uncontrolled_w = models.PositiveIntegerField(_("uncontrolled (W)"), default=0)
    measured_w = models.PositiveIntegerField(_("measured (W)"), null=True, blank=True)
    over_limit = models.BooleanField(_("over the limit"), default=False)
    # [{"transaction", "allocated_w", "measured_w", "reason", "state"}, ...]
    sessions = models.JSONField(_("sessions"), default=list)
    summary = models.CharField(_("summary"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("allocation decision")
        verbose_name_plural = _("allocation decisions")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["site", "-created_at"], name="loadmgmt_decision_site_idx")]

    def __str__(self):
        return f"{self.site} {self.created_at:%H:%M:%S} {self.trigger}"


class SignalKind(models.TextChoices):
    PRICE = "price", _("price per kWh")
    CARBON = "carbon", _("gCO2 per kWh")


class TouSignalEntry(TimedEntry):
    """A price or carbon intensity for a while: flexible sessions charge when it is low."""

    site = models.ForeignKey(
        SiteLimit, on_delete=models.CASCADE, related_name="tou_signal", verbose_name=_("site")
    )
    value = models.DecimalField(_("value"), max_digits=12, decimal_places=4)
    kind = models.CharField(
        _("kind"), max_length=8, choices=SignalKind.choices, default=SignalKind.PRICE
    )
    source = models.CharField(
        _("source"), max_length=16, choices=LimitSource.choices, default=LimitSource.EMS
    )

    class Meta(TimedEntry.Meta):
        verbose_name = _("time-of-use signal entry")
        verbose_name_plural = _("time-of-use signal")
        constraints = [ends_after_start("loadmgmt_tou_ends_after_start")]
        indexes = [site_end_index("loadmgmt_tou_end_idx")]

    def __str__(self):
        return f"{self.value} {self.starts_at:%Y-%m-%d %H:%M}"


class FlexibilitySource(models.TextChoices):
    DRIVER = "driver", _("driver app")


class SessionFlexibility(models.Model):
    """When a driver leaves and how much energy the session should have delivered by then."""

    transaction = models.OneToOneField(
        Transaction,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="flexibility",
        verbose_name=_("transaction"),
    )
    departure_at = models.DateTimeField(_("departure time"))
    energy_wh = models.PositiveIntegerField(_("energy wanted (Wh)"))
    source = models.CharField(
        _("source"),
        max_length=16,
        choices=FlexibilitySource.choices,
        default=FlexibilitySource.DRIVER,
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("session flexibility")
        verbose_name_plural = _("session flexibilities")

    def __str__(self):
        return f"{self.transaction_id}: {self.energy_wh} Wh by {self.departure_at:%H:%M}"
