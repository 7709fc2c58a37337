"""Roaming partners (OCPI parties), the journal of every OCPI exchange, and tariff versions."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .choices import Direction, PartyRole, PartyStatus


class Party(models.Model):
    """A roaming partner: an eMSP, a hub or any other OCPI platform we connect with.

    Tokens, in OCPI's names: token A is the one-time registration token we
    issue (hashed), token C the partner's token to call us after
    registration (hashed), token B the partner's token for us to call them
    (encrypted, since we send it). See roaming/credential_tokens.py.
    """

    name = models.CharField(_("name"), max_length=100)
    country_code = models.CharField(
        _("country code"), max_length=2, help_text=_("ISO 3166-1 alpha-2, e.g. NL.")
    )
    party_id = models.CharField(
        _("party id"), max_length=3, help_text=_("The partner's 3-character OCPI party id.")
    )
    role = models.CharField(_("role"), max_length=5, choices=PartyRole.choices)
    status = models.CharField(
        _("status"), max_length=12, choices=PartyStatus.choices, default=PartyStatus.PENDING
    )
    # What the partner told us about itself in its credentials (OCPI CredentialsRole list).
    roles = models.JSONField(_("roles (as registered)"), default=list, blank=True)
    versions_url = models.URLField(_("their versions URL"), max_length=500, blank=True)
    version = models.CharField(_("OCPI version"), max_length=8, blank=True)
    endpoints = models.JSONField(
        _("their endpoints"),
        default=list,
        blank=True,
        help_text=_("OCPI Endpoint objects of the version in use: identifier, role, url."),
    )
    registration_token_hash = models.CharField(
        _("token A (hash)"), max_length=64, unique=True, null=True, blank=True, editable=False
    )
    incoming_token_hash = models.CharField(
        _("token C (hash)"), max_length=64, unique=True, null=True, blank=True, editable=False
    )
    outgoing_token_encrypted = models.TextField(
        _("token B (encrypted)"), blank=True, editable=False
    )
    registered_at = models.DateTimeField(_("registered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("roaming partner")
        verbose_name_plural = _("roaming partners")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["country_code", "party_id", "role"], name="roaming_party_unique_identity"
            )
        ]

    def __str__(self):
        return f"{self.name} ({self.country_code}*{self.party_id}, {self.role})"

    def endpoint_url(self, identifier: str, role: str) -> str | None:
        """The partner's URL of a module interface, None when they do not offer it."""
        for endpoint in self.endpoints or []:
            if endpoint.get("identifier") == identifier and endpoint.get("role") == role:
                return endpoint.get("url")
        return None


class Exchange(models.Model):
    """One OCPI request and its response, in either direction (the roaming journal).

    Credentials tokens are never written here: the Authorization header is
    left out and a `token` in a credentials body is masked.
    """

    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    party = models.ForeignKey(
        Party,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="exchanges",
        verbose_name=_("partner"),
    )
    method = models.CharField(_("method"), max_length=7)
    url = models.CharField(_("URL"), max_length=1000)
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    ocpi_status_code = models.PositiveIntegerField(_("OCPI status code"), null=True, blank=True)
    request_body = models.TextField(_("request body (excerpt)"), blank=True)
    response_body = models.TextField(_("response body (excerpt)"), blank=True)
    error = models.CharField(
        _("error"),
        max_length=500,
        blank=True,
        help_text=_("Why a call to the partner failed (no answer, no JSON, ...)."),
    )
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    created_at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("OCPI exchange")
        verbose_name_plural = _("OCPI exchanges")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["party", "-created_at"], name="roaming_exchange_party_time")
        ]

    def __str__(self):
        return f"{self.get_direction_display()} {self.method} {self.url} {self.http_status or ''}"


class TariffVersion(models.Model):
    """When a tariff last changed as partners see it (OCPI Tariff.last_updated).

    Billing's tariffs carry no modification time; roaming keeps a
    fingerprint of each tariff's OCPI form and moves `last_updated` when the
    fingerprint changes (roaming.tariffs.tariff_versions_refresh).
    """

    tariff = models.OneToOneField(
        "billing.Tariff", on_delete=models.CASCADE, related_name="+", primary_key=True
    )
    fingerprint = models.CharField(max_length=64)
    last_updated = models.DateTimeField()

    class Meta:
        verbose_name = _("published tariff version")
        verbose_name_plural = _("published tariff versions")

    def __str__(self):
        return f"{self.tariff_id} @ {self.last_updated:%Y-%m-%d %H:%M}"


class RoamingToken(models.Model):
    """A partner's driver token (OCPI Token) as the partner pushed it or we pulled it.

    An RFID token that may be whitelisted is mirrored into an id tag
    (`id_tag`), so that our chargers authorize it like any other, with the
    domain unaware of roaming (roaming.tokens explains the rules).
    """

    # Not "party": party_id is the token's OCPI party id.
    partner = models.ForeignKey(
        Party, on_delete=models.CASCADE, related_name="tokens", verbose_name=_("partner")
    )
    country_code = models.CharField(_("country code"), max_length=2)
    party_id = models.CharField(_("party id"), max_length=3)
    uid = models.CharField(_("uid"), max_length=36)
    type = models.CharField(_("type"), max_length=12)
    contract_id = models.CharField(_("contract id"), max_length=36)
    issuer = models.CharField(_("issuer"), max_length=64)
    valid = models.BooleanField(_("valid"))
    whitelist = models.CharField(_("whitelist"), max_length=16)
    last_updated = models.DateTimeField(_("last updated (by the partner)"))
    data = models.JSONField(_("token object"), help_text=_("The OCPI Token as last received."))
    id_tag = models.OneToOneField(
        "drivers.IdTag",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="roaming_token",
        verbose_name=_("id tag"),
    )
    mirror_problem = models.CharField(
        _("not usable at chargers because"), max_length=200, blank=True
    )
    received_at = models.DateTimeField(_("received at"), auto_now=True)

    class Meta:
        verbose_name = _("roaming token")
        verbose_name_plural = _("roaming tokens")
        ordering = ["country_code", "party_id", "uid"]
        constraints = [
            models.UniqueConstraint(
                fields=["country_code", "party_id", "uid", "type"],
                name="roaming_token_unique_identity",
            )
        ]

    def __str__(self):
        return f"{self.country_code}*{self.party_id} {self.type} {self.uid}"


class Cdr(models.Model):
    """A charge detail record sent (or to be sent) to the partner whose driver charged.

    Stored before the first POST, with its final body: a retry sends the
    same CDR (same id), never a second one (roaming.cdrs explains the
    guarantee). One per invoiced session.
    """

    id = models.CharField(_("CDR id"), max_length=36, primary_key=True)
    # A partner deleted later leaves its CDRs (they are billing records), without it.
    partner = models.ForeignKey(
        Party,
        on_delete=models.SET_NULL,
        null=True,
        related_name="cdrs",
        verbose_name=_("partner"),
    )
    transaction = models.OneToOneField(
        "stations.Transaction",
        on_delete=models.PROTECT,
        related_name="roaming_cdr",
        verbose_name=_("session"),
    )
    body = models.JSONField(_("CDR object"), help_text=_("The OCPI CDR, as sent."))
    last_updated = models.DateTimeField(_("last updated"), db_index=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    location_url = models.CharField(
        _("URL at the partner"),
        max_length=1000,
        blank=True,
        help_text=_("The Location the partner answered the POST with."),
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("CDR")
        verbose_name_plural = _("CDRs")
        ordering = ["-last_updated"]
        indexes = [
            models.Index(
                fields=["last_updated"],
                condition=models.Q(sent_at__isnull=True),
                name="roaming_cdr_unsent",
            )
        ]

    def __str__(self):
        return f"CDR {self.id} ({self.partner_id})"


class RoamingReservation(models.Model):
    """A partner's reservation (OCPI RESERVE_NOW) and the one we made for it at a charger.

    OCPI forbids passing the partner's reservation_id to the charger: the
    charger gets our own number (`ocpp_reservation_id`, unique across the
    network like every stations.Reservation), so no partner can replace or
    cancel another's reservation. What became of it at the charger
    (accepted, used, expired, cancelled) is the stations.Reservation of
    that number.
    """

    partner = models.ForeignKey(
        Party, on_delete=models.CASCADE, related_name="reservations", verbose_name=_("partner")
    )
    # The eMSP the reservation belongs to (its token's owner; behind a hub, one of many).
    country_code = models.CharField(_("country code"), max_length=2)
    party_id = models.CharField(_("party id"), max_length=3)
    reservation_id = models.CharField(_("their reservation id"), max_length=36)
    ocpp_reservation_id = models.PositiveIntegerField(_("our reservation id"), unique=True)
    charge_point = models.ForeignKey(
        "stations.ChargePoint",
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("charge point"),
    )
    connector_id = models.PositiveIntegerField(_("connector id"), help_text=_("0: any connector"))
    token = models.ForeignKey(
        RoamingToken,
        on_delete=models.SET_NULL,
        null=True,
        related_name="reservations",
        verbose_name=_("token"),
    )
    authorization_reference = models.CharField(
        _("authorization reference"), max_length=36, blank=True
    )
    expiry_date = models.DateTimeField(_("expires"))
    received_at = models.DateTimeField(
        _("received at"), help_text=_("When the partner last sent RESERVE_NOW for it.")
    )

    class Meta:
        verbose_name = _("roaming reservation")
        verbose_name_plural = _("roaming reservations")
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "country_code", "party_id", "reservation_id"],
                name="roaming_reservation_unique_identity",
            )
        ]

    def __str__(self):
        ours = self.ocpp_reservation_id
        return f"{self.country_code}*{self.party_id} {self.reservation_id} → #{ours}"


class RoamingAuthorization(models.Model):
    """An authorization the partner gave for a token (OCPI authorization_reference's source).

    A real-time authorization answer (AuthorizationInfo) or a START_SESSION
    command. Bound to the session it started when that session begins, so
    that the Session and the CDR carry the partner's authorization_reference.
    """

    class Source(models.TextChoices):
        # The OCPI AuthMethod of a session it starts.
        AUTH_REQUEST = "AUTH_REQUEST", _("real-time authorization")
        COMMAND = "COMMAND", _("START_SESSION command")

    token = models.ForeignKey(
        RoamingToken,
        on_delete=models.CASCADE,
        related_name="authorizations",
        verbose_name=_("token"),
    )
    charge_point = models.ForeignKey(
        "stations.ChargePoint",
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("charge point"),
    )
    source = models.CharField(_("source"), max_length=12, choices=Source.choices)
    allowed = models.CharField(
        _("allowed"), max_length=12, help_text=_("OCPI AllowedType: ALLOWED, BLOCKED, ...")
    )
    authorization_reference = models.CharField(
        _("authorization reference"), max_length=36, blank=True
    )
    created_at = models.DateTimeField(_("at"), auto_now_add=True)
    transaction = models.OneToOneField(
        "stations.Transaction",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="roaming_authorization",
        verbose_name=_("session"),
    )

    class Meta:
        verbose_name = _("roaming authorization")
        verbose_name_plural = _("roaming authorizations")
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["token", "charge_point", "-created_at"],
                name="roaming_authorization_recent",
            )
        ]

    def __str__(self):
        return f"{self.token} {self.allowed} {self.authorization_reference}"


class PushedCopy(models.Model):
    """What a partner last received of one of our locations or tariffs (its Receiver's copy).

    The data push (roaming.data_push) compares it with what the partner
    would see now and sends only the difference; it also remembers what was
    sent, so that a station or tariff that is gone later can still be
    withdrawn (a Location PUT with its EVSEs REMOVED, a Tariff DELETE).
    Written only after the partner accepted the push: a failed push is
    found again by the next run.
    """

    party = models.ForeignKey(
        Party, on_delete=models.CASCADE, related_name="pushed_copies", verbose_name=_("partner")
    )
    module = models.CharField(_("module"), max_length=10)  # "locations" or "tariffs"
    object_id = models.CharField(_("object id"), max_length=36)
    body = models.JSONField(_("object"), help_text=_("The OCPI object as the partner has it."))
    pushed_at = models.DateTimeField(_("pushed at"))

    class Meta:
        verbose_name = _("pushed copy")
        verbose_name_plural = _("pushed copies")
        constraints = [
            models.UniqueConstraint(
                fields=["party", "module", "object_id"], name="roaming_pushed_copy_unique"
            )
        ]

    def __str__(self):
        return f"{self.module} {self.object_id} -> {self.party_id}"
