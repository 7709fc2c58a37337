"""Sites, charge points, their connectors and what they report about themselves."""

from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from ..choices import ChargePointErrorCode, ConnectorStatus, OcppVersion, RegistrationStatus
from .location_data import (
    AC_ONLY_STANDARDS,
    COUNTRY_CODE,
    DC_ONLY_STANDARDS,
    EVSE_ID,
    EVSE_ID_MAX_LENGTH,
    IMAGES_HELP,
    MAX_AMPERAGE,
    MAX_VOLTAGE,
    OPENING_TIMES_HELP,
    PARTY_ID,
    ConnectorFormat,
    ConnectorStandard,
    Facility,
    ParkingType,
    PowerType,
    facilities_clean,
    images_clean,
    opening_times_clean,
)
from .validators import (
    CHARGE_POINT_ID_MAX_LENGTH,
    validate_charge_point_id,
    validate_charge_point_password,
)

CHARGE_POINT_KEY_HASHER = "pbkdf2_sha256_cp"

# What a charge point reports about itself: read-only for operators and apps.
REPORTED_BY_CHARGE_POINT = (
    "vendor",
    "model",
    "charge_point_serial_number",
    "charge_box_serial_number",
    "firmware_version",
    "iccid",
    "imsi",
    "meter_type",
    "meter_serial_number",
    "firmware_status",
    "firmware_status_at",
    "diagnostics_status",
    "diagnostics_status_at",
    "log_status",
    "log_status_at",
)


class Station(models.Model):
    """A site: one address with one or more charge points."""

    name = models.CharField(_("name"), max_length=200)
    address = models.CharField(_("address"), max_length=300, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    latitude = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    # What a driver needs to find and use the site, as OCPI Locations carry it.
    publish = models.BooleanField(
        _("published"),
        default=True,
        help_text=_(
            "Shown on the map to everyone, drivers and apps signed in or not (OCPI publish). "
            "Off: only operators see the station."
        ),
    )
    opening_times = models.JSONField(
        _("opening times"), null=True, blank=True, help_text=OPENING_TIMES_HELP
    )
    charging_when_closed = models.BooleanField(
        _("charging when closed"),
        default=True,
        help_text=_("Sessions go on outside the opening times (e.g. a garage closed at night)."),
    )
    facilities = models.JSONField(
        _("facilities"),
        default=list,
        blank=True,
        help_text=format_lazy(
            "{} {}",
            _('OCPI Facility values as a JSON list, e.g. ["CAFE", "WIFI"]. Allowed:'),
            ", ".join(Facility.values),
        ),
    )
    parking_type = models.CharField(
        _("parking type"), max_length=20, choices=ParkingType.choices, blank=True
    )
    images = models.JSONField(_("images"), default=list, blank=True, help_text=IMAGES_HELP)
    directions = models.CharField(
        _("directions"),
        max_length=512,
        blank=True,
        help_text=_("How to reach the chargers from the address, as plain text."),
    )
    operator_name = models.CharField(
        _("operator name"),
        max_length=100,
        blank=True,
        help_text=_("Who runs the site, as drivers should read it."),
    )
    operator_website = models.URLField(_("operator website"), blank=True)
    operator_phone = models.CharField(
        _("support phone"),
        max_length=32,
        blank=True,
        help_text=_("Where a driver calls for help at this site, e.g. +31 30 123 4567."),
    )
    operator_email = models.EmailField(_("support e-mail"), blank=True)
    party_country_code = models.CharField(
        _("operator country code"),
        max_length=2,
        blank=True,
        help_text=_(
            "ISO 3166-1 alpha-2 country of the operator id (OCPI country_code), e.g. NL. "
            "With the party id it makes the EVSE ids (NL*ABC*E...)."
        ),
    )
    party_id = models.CharField(
        _("operator party id"),
        max_length=3,
        blank=True,
        help_text=_("The operator's 3-character id (OCPI party_id, eMI3 operator id), e.g. ABC."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("station")
        verbose_name_plural = _("stations")
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        """Check the location data and store it in canonical form (one place: console and API)."""
        super().clean()
        errors: dict[str, list] = {}
        for name, cleaner in (
            ("opening_times", opening_times_clean),
            ("facilities", facilities_clean),
            ("images", images_clean),
        ):
            try:
                setattr(self, name, cleaner(getattr(self, name)))
            except ValidationError as exc:
                errors[name] = exc.error_list
        self.party_country_code = (self.party_country_code or "").upper()
        self.party_id = (self.party_id or "").upper()
        if self.party_country_code and not COUNTRY_CODE.fullmatch(self.party_country_code):
            errors["party_country_code"] = [_("Use the ISO 3166-1 alpha-2 code, e.g. NL.")]
        if self.party_id and not PARTY_ID.fullmatch(self.party_id):
            errors["party_id"] = [_("Use 3 letters or digits, e.g. ABC.")]
        if bool(self.party_country_code) != bool(self.party_id) and not errors.keys() & {
            "party_country_code",
            "party_id",
        }:
            missing = "party_id" if self.party_country_code else "party_country_code"
            errors[missing] = [_("Give both the operator country code and the party id.")]
        if errors:
            raise ValidationError(errors)


class CompatibilityProfile(models.Model):
    """Named relaxations of strict OCPP for chargers whose firmware needs them.

    A charge point uses the profile set on it, else the first profile whose
    vendor (and model, when given) match what it reported at boot. Without a
    profile every frame is checked strictly against the OCPP 1.6 schemas.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    vendor = models.CharField(
        _("vendor"), max_length=20, blank=True, help_text=_("Applies to this vendor's chargers.")
    )
    model = models.CharField(
        _("model"), max_length=20, blank=True, help_text=_("Empty: every model of the vendor.")
    )
    numbers_as_strings = models.BooleanField(
        _("numbers as strings"),
        default=False,
        help_text=_("Accept a JSON number where the schema wants a string."),
    )
    truncate_long_strings = models.BooleanField(
        _("truncate long strings"),
        default=False,
        help_text=_("Cut optional strings longer than allowed instead of refusing them."),
    )
    ignore_unknown_fields = models.BooleanField(
        _("ignore unknown fields"),
        default=False,
        help_text=_("Drop fields the schema does not know instead of refusing the message."),
    )
    id_tag_suffix = models.CharField(
        _("id tag suffix to strip"),
        max_length=20,
        blank=True,
        help_text=_("Removed from the end of every idTag the charger sends (e.g. a reader id)."),
    )
    meter_in_kwh = models.BooleanField(
        _("meterStart/meterStop in kWh"),
        default=False,
        help_text=_("The charger reports meterStart and meterStop in kWh, not Wh."),
    )

    class Meta:
        verbose_name = _("compatibility profile")
        verbose_name_plural = _("compatibility profiles")
        ordering = ["name"]

    def __str__(self):
        return self.name


class ChargePoint(models.Model):
    """A charge point, known by the identity in its OCPP WebSocket URL."""

    charge_point_id = models.CharField(
        _("charge point id"),
        max_length=CHARGE_POINT_ID_MAX_LENGTH,
        unique=True,
        validators=[validate_charge_point_id],
    )
    station = models.ForeignKey(
        Station,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="charge_points",
        verbose_name=_("station"),
    )
    password = models.CharField(
        _("password hash"),
        max_length=200,
        blank=True,
        help_text=_("HTTP Basic password (security profile 1); stored only as a hash."),
    )
    security_profile = models.PositiveSmallIntegerField(
        _("security profile"),
        choices=[
            (0, _("0: no authentication")),
            (1, _("1: HTTP Basic over plain WebSocket")),
            (2, _("2: TLS + HTTP Basic")),
            (3, _("3: TLS with client certificate")),
        ],
        default=0,
        help_text=_(
            "The charge point must connect with this profile, never a lower one. "
            "Profiles 1 and 2 sign in with the password; profile 3 with a client "
            "certificate. A password set here is required at any profile below 3."
        ),
    )
    ocpp_version = models.CharField(
        _("OCPP version"),
        max_length=8,
        choices=OcppVersion.choices,
        default=OcppVersion.V16,
        help_text=_("The version it spoke on its last connection (negotiated at the handshake)."),
    )
    ocpp_version_preferred = models.CharField(
        _("preferred OCPP version"),
        max_length=8,
        choices=OcppVersion.choices,
        blank=True,
        help_text=_(
            "Blank: the newest version the charge point offers. Set to keep a charger "
            "that offers both on the one it works best with."
        ),
    )
    registration_status = models.CharField(
        _("registration status"),
        max_length=16,
        choices=RegistrationStatus.choices,
        default=RegistrationStatus.ACCEPTED,
        help_text=_("How the next BootNotification is answered."),
    )
    compatibility_profile = models.ForeignKey(
        CompatibilityProfile,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="charge_points",
        verbose_name=_("compatibility profile"),
        help_text=_("Empty: a profile matching its vendor/model, else strict."),
    )
    heartbeat_interval = models.PositiveIntegerField(
        _("heartbeat interval (s)"),
        null=True,
        blank=True,
        help_text=_("Empty: the OCPP_HEARTBEAT_INTERVAL setting."),
    )
    # What the charge point reports in BootNotification.
    vendor = models.CharField(_("vendor"), max_length=20, blank=True)
    model = models.CharField(_("model"), max_length=20, blank=True)
    charge_point_serial_number = models.CharField(
        _("charge point serial number"), max_length=25, blank=True
    )
    charge_box_serial_number = models.CharField(
        _("charge box serial number"), max_length=25, blank=True
    )
    firmware_version = models.CharField(_("firmware version"), max_length=50, blank=True)
    iccid = models.CharField(_("ICCID"), max_length=20, blank=True)
    imsi = models.CharField(_("IMSI"), max_length=20, blank=True)
    meter_type = models.CharField(_("meter type"), max_length=25, blank=True)
    meter_serial_number = models.CharField(_("meter serial number"), max_length=25, blank=True)
    # Firmware Management profile: the latest status notifications.
    firmware_status = models.CharField(_("firmware status"), max_length=32, blank=True)
    firmware_status_at = models.DateTimeField(_("firmware status at"), null=True, blank=True)
    diagnostics_status = models.CharField(_("diagnostics status"), max_length=32, blank=True)
    diagnostics_status_at = models.DateTimeField(_("diagnostics status at"), null=True, blank=True)
    log_status = models.CharField(_("log upload status"), max_length=32, blank=True)
    log_status_at = models.DateTimeField(_("log upload status at"), null=True, blank=True)
    # Connection state.
    is_online = models.BooleanField(_("online"), default=False)
    connection_channel = models.CharField(
        _("connection channel"),
        max_length=200,
        blank=True,
        help_text=_("Channel-layer name of the consumer holding the socket."),
    )
    last_boot_at = models.DateTimeField(_("last boot"), null=True, blank=True)
    last_heartbeat = models.DateTimeField(_("last heartbeat"), null=True, blank=True)
    last_seen = models.DateTimeField(_("last seen"), null=True, blank=True)
    connected_at = models.DateTimeField(_("connected at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("charge point")
        verbose_name_plural = _("charge points")
        ordering = ["charge_point_id"]
        constraints = [
            # One identity, one charge point: operators read "CP-A" and
            # "cp-a" as the same charger. full_clean (admin, API, auto-
            # registration) checks it with this message; the database index
            # closes the race between two registrations (see migration 0011
            # for installations that already hold such pairs).
            models.UniqueConstraint(
                Lower("charge_point_id"),
                name="chargepoint_charge_point_id_ci_unique",
                violation_error_code="charge_point_id_taken",
                violation_error_message=_(
                    "A charge point with this id exists (charge point ids ignore case)."
                ),
            ),
        ]
        # Incremental sync: the API's ?updated_since= and cursor pages.
        indexes = [models.Index(fields=["updated_at", "id"], name="chargepoint_updated_id_idx")]

    def __str__(self):
        return self.charge_point_id

    def set_password(self, raw_password: str | None) -> None:
        """Store the hash of a new password; None or "" removes the password.

        Raises ValidationError (on "password") for a length the charge point
        could not sign in with, whoever sets it: API, admin or key rotation.
        """
        if raw_password:
            try:
                validate_charge_point_password(raw_password)
            except ValidationError as exc:
                raise ValidationError({"password": exc.error_list}) from exc
        self.password = (
            make_password(raw_password, hasher=CHARGE_POINT_KEY_HASHER) if raw_password else ""
        )

    def check_password(self, raw_password: str) -> bool:
        return bool(self.password) and check_password(raw_password, self.password)

    @property
    def is_accepted(self) -> bool:
        """True once the charge point booted and the operator accepts it."""
        return (
            self.last_boot_at is not None
            and self.registration_status == RegistrationStatus.ACCEPTED
        )


class Connector(models.Model):
    """A connector; connector 0 stands for the charge point as a whole."""

    charge_point = models.ForeignKey(
        ChargePoint,
        on_delete=models.CASCADE,
        related_name="connectors",
        verbose_name=_("charge point"),
    )
    connector_id = models.PositiveIntegerField(_("connector id"))
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=ConnectorStatus.choices,
        default=ConnectorStatus.UNAVAILABLE,
    )
    error_code = models.CharField(
        _("error code"),
        max_length=24,
        choices=ChargePointErrorCode.choices,
        default=ChargePointErrorCode.NO_ERROR,
    )
    info = models.CharField(_("info"), max_length=50, blank=True)
    vendor_id = models.CharField(_("vendor id"), max_length=255, blank=True)
    vendor_error_code = models.CharField(_("vendor error code"), max_length=50, blank=True)
    status_timestamp = models.DateTimeField(_("status timestamp"), null=True, blank=True)
    max_power_w = models.PositiveIntegerField(
        _("maximum power (W)"),
        null=True,
        blank=True,
        help_text=_(
            "What this connector can deliver at most; sessions reporting more energy than "
            "this power allows in their time are disputed. Empty: "
            "CONNECTOR_DEFAULT_MAX_POWER_W."
        ),
    )
    evse_connector_statuses = models.JSONField(
        _("statuses of its plugs (OCPP 2.0.1)"),
        default=dict,
        blank=True,
        help_text=_(
            "For an OCPP 2.0.1 EVSE (this connector's id is the EVSE id): the last status "
            "of each of its connectors, by connector id. The EVSE's status is derived from them."
        ),
    )
    # What the plug is, as OCPI Connectors carry it (for a 2.0.1 EVSE: its plug).
    standard = models.CharField(
        _("plug standard"),
        max_length=24,
        choices=ConnectorStandard.choices,
        blank=True,
        help_text=_("OCPI ConnectorType, e.g. IEC_62196_T2 (Type 2) or IEC_62196_T2_COMBO (CCS)."),
    )
    format = models.CharField(
        _("plug format"), max_length=8, choices=ConnectorFormat.choices, blank=True
    )
    power_type = models.CharField(
        _("power type"), max_length=16, choices=PowerType.choices, blank=True
    )
    max_voltage = models.PositiveIntegerField(
        _("maximum voltage (V)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_VOLTAGE)],
        help_text=_("Line to neutral for three-phase AC."),
    )
    max_amperage = models.PositiveIntegerField(
        _("maximum current (A)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_AMPERAGE)],
    )
    evse_id = models.CharField(
        _("EVSE id"),
        max_length=EVSE_ID_MAX_LENGTH,
        blank=True,
        help_text=_(
            "The eMI3 EVSE id printed on the charger, e.g. NL*ABC*E12345*1. Empty: made "
            "from the station's operator country code and party id, the charge point id "
            "and the connector id."
        ),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("connector")
        verbose_name_plural = _("connectors")
        ordering = ["charge_point", "connector_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["charge_point", "connector_id"],
                name="connector_charge_point_connector_id_unique",
            )
        ]

    def __str__(self):
        return f"{self.charge_point.charge_point_id}/{self.connector_id}"

    def clean(self):
        """Check the plug description: an EVSE id eMI3 accepts, a standard's power type."""
        super().clean()
        errors: dict[str, list] = {}
        self.evse_id = (self.evse_id or "").upper()
        if self.evse_id and not EVSE_ID.fullmatch(self.evse_id):
            errors["evse_id"] = [
                _("Use an eMI3 EVSE id: country, operator id, E and the outlet id, e.g. NL*ABC*E1.")
            ]
        if self.standard and self.power_type:
            dc_only = self.standard in DC_ONLY_STANDARDS
            if dc_only != (self.power_type == PowerType.DC) and (
                dc_only or self.standard in AC_ONLY_STANDARDS
            ):
                errors["power_type"] = [
                    _("A %(standard)s plug delivers %(current)s only.")
                    % {
                        "standard": ConnectorStandard(self.standard).label,
                        "current": "DC" if dc_only else "AC",
                    }
                ]
        if errors:
            raise ValidationError(errors)


class ConnectorStatusLog(models.Model):
    """Every StatusNotification, as received: the connector's status history."""

    connector = models.ForeignKey(
        Connector,
        on_delete=models.CASCADE,
        related_name="status_log",
        verbose_name=_("connector"),
    )
    status = models.CharField(_("status"), max_length=16, choices=ConnectorStatus.choices)
    error_code = models.CharField(
        _("error code"), max_length=24, choices=ChargePointErrorCode.choices
    )
    info = models.CharField(_("info"), max_length=50, blank=True)
    vendor_id = models.CharField(_("vendor id"), max_length=255, blank=True)
    vendor_error_code = models.CharField(_("vendor error code"), max_length=50, blank=True)
    timestamp = models.DateTimeField(_("timestamp"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        verbose_name = _("status notification")
        verbose_name_plural = _("status notifications")
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["connector", "-received_at"], name="statuslog_connector_idx"),
            models.Index(fields=["-received_at", "-id"], name="statuslog_received_idx"),
        ]

    def __str__(self):
        return f"{self.connector} {self.status}"


class DataTransferRecord(models.Model):
    """A DataTransfer received from a charge point, and how it was answered.

    The one place its data is stored (the message journal keeps a reference
    to a long one); data over OCPP_DATA_TRANSFER_MAX_BYTES is not kept, its
    size and hash are.
    """

    charge_point = models.ForeignKey(
        ChargePoint,
        on_delete=models.CASCADE,
        related_name="data_transfers",
        verbose_name=_("charge point"),
    )
    unique_id = models.CharField(
        _("unique id"),
        max_length=100,
        blank=True,
        help_text=_("The CALL's uniqueId: its frames in the message journal."),
    )
    vendor_id = models.CharField(_("vendor id"), max_length=255)
    message_id = models.CharField(_("message id"), max_length=50, blank=True)
    data = models.TextField(_("data"), blank=True)
    data_bytes = models.PositiveIntegerField(
        _("data size (bytes)"), default=0, help_text=_("The size of the data as received.")
    )
    data_sha256 = models.CharField(_("data SHA-256"), max_length=64, blank=True)
    data_omitted = models.BooleanField(
        _("data not kept"),
        default=False,
        help_text=_("The data was over the size limit: refused, only its size and hash kept."),
    )
    response_status = models.CharField(_("response status"), max_length=20)
    response_data = models.TextField(_("response data"), blank=True)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        verbose_name = _("data transfer")
        verbose_name_plural = _("data transfers")
        ordering = ["-received_at"]
        indexes = [
            # The rate limit counts a charge point's recent records; the purge
            # deletes by age.
            models.Index(fields=["charge_point", "-received_at"], name="datatransfer_cp_time_idx"),
            models.Index(fields=["received_at"], name="datatransfer_received_idx"),
        ]

    def __str__(self):
        return f"{self.vendor_id}/{self.message_id}"


class ConfigurationKey(models.Model):
    """A configuration key as the charge point last reported it (GetConfiguration)."""

    charge_point = models.ForeignKey(
        ChargePoint,
        on_delete=models.CASCADE,
        related_name="configuration",
        verbose_name=_("charge point"),
    )
    key = models.CharField(_("key"), max_length=50)
    value = models.CharField(_("value"), max_length=500, blank=True, null=True)
    readonly = models.BooleanField(_("read-only"), default=False)
    is_known = models.BooleanField(
        _("known to the charge point"),
        default=True,
        help_text=_("False when the charge point listed the key as unknown."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("configuration key")
        verbose_name_plural = _("configuration keys")
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(
                fields=["charge_point", "key"], name="configurationkey_cp_key_unique"
            )
        ]

    def __str__(self):
        return self.key
