import hashlib

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower, Upper
from django.utils.translation import gettext_lazy as _

from .choices import AuthorizationStatus


class UserManager(DjangoUserManager):
    def get_by_natural_key(self, username):
        """Sign in with the username in any case ("Alice" is alice).

        The exact spelling first: an installation from before usernames
        ignored case may still hold "alice" next to "ALICE" (the migration
        then leaves the index out); such an ambiguous spelling finds no one.
        """
        try:
            return self.get(username=username)
        except self.model.DoesNotExist:
            matches = list(self.filter(username__iexact=username)[:2])
            if len(matches) != 1:
                raise
            return matches[0]


# The account constraints; their errors belong to these fields.
USERNAME_CONSTRAINT = "user_username_ci_unique"
EMAIL_CONSTRAINT = "user_email_ci_unique"
_CONSTRAINT_FIELDS = {"username_taken": "username", "email_taken": "email"}


class User(AbstractUser):
    """The project's user: operators (staff) and drivers (app users) alike.

    Usernames and e-mail addresses are unique ignoring case: "ALICE" cannot
    sign up next to "alice", and two accounts never share an address (it is
    how a person is told apart and reached). A blank e-mail is allowed for
    any number of accounts.
    """

    deleted_at = models.DateTimeField(
        _("account deleted at"),
        null=True,
        blank=True,
        help_text=_(
            "Set when the person deleted their account: the row stays, anonymised, "
            "so that their sessions and invoices keep an owner."
        ),
    )

    objects = UserManager()

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.UniqueConstraint(
                Lower("username"),
                name=USERNAME_CONSTRAINT,
                violation_error_code="username_taken",
                violation_error_message=_(
                    "A user with that username already exists (usernames ignore case)."
                ),
            ),
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name=EMAIL_CONSTRAINT,
                violation_error_code="email_taken",
                violation_error_message=_("An account with this e-mail address exists."),
            ),
        ]

    def validate_constraints(self, exclude=None):
        """The account constraints' errors under their field, as the forms show them."""
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as exc:
            errors: dict[str, list] = {}
            for field, messages in exc.error_dict.items():
                for error in messages:
                    errors.setdefault(_CONSTRAINT_FIELDS.get(error.code, field), []).append(error)
            raise ValidationError(errors) from exc


def device_token_hash(key: str) -> str:
    """What is stored of an API token: its SHA-256 (keys are random, no salt needed)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


# Characters of a key kept in clear, to tell devices apart in lists.
DEVICE_TOKEN_PREFIX_LENGTH = 8


class DeviceToken(models.Model):
    """The API token of one signed-in device (a phone, a script) of a user.

    Each sign-in creates one, so that signing out on one phone leaves the
    others signed in. Only a hash of the key is stored: a copy of the database
    signs no one in. A token expires `API_TOKEN_TTL_DAYS` after its last use
    (sliding); one without `expires_at` (a token issued before device sign-in,
    e.g. an operator's script token) never does. Revoked tokens are kept for
    the record until the user's devices are listed without them.
    """

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="device_tokens", verbose_name=_("user")
    )
    name = models.CharField(_("device name"), max_length=100)
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True, editable=False)
    key_prefix = models.CharField(
        _("key prefix"), max_length=DEVICE_TOKEN_PREFIX_LENGTH, editable=False
    )
    created_at = models.DateTimeField(_("signed in at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    expires_at = models.DateTimeField(
        _("expires at"), null=True, blank=True, help_text=_("Empty: never expires.")
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("device token")
        verbose_name_plural = _("device tokens")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.key_prefix}…)"

    def is_usable(self, now) -> bool:
        """Neither revoked nor expired at `now`."""
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class Driver(models.Model):
    """The profile of a person who charges, usually through the mobile app."""

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, related_name="driver", verbose_name=_("user")
    )
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("driver")
        verbose_name_plural = _("drivers")

    def __str__(self):
        return self.user.get_full_name() or self.user.get_username()


# OCPP idToken is a CiString20: at most 20 characters, compared ignoring case.
ID_TAG_MAX_LENGTH = 20


def validate_idtag_parent(*, tag_pk: int | None, parent_pk: int | None) -> None:
    """Refuse a tag as its own parent (the API and the admin both check this)."""
    if tag_pk is not None and parent_pk == tag_pk:
        raise ValidationError(_("An id tag cannot be its own parent."), code="own_parent")


class IdTag(models.Model):
    """An RFID card or app token (OCPP idToken, CiString20)."""

    id_tag = models.CharField(_("id tag"), max_length=ID_TAG_MAX_LENGTH)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=AuthorizationStatus.choices,
        default=AuthorizationStatus.ACCEPTED,
    )
    expiry_date = models.DateTimeField(_("expiry date"), null=True, blank=True)
    parent = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent id tag"),
    )
    driver = models.ForeignKey(
        Driver,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="id_tags",
        verbose_name=_("driver"),
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("id tag")
        verbose_name_plural = _("id tags")
        ordering = ["id_tag"]
        constraints = [
            # CiString: "ABC" and "abc" are the same tag. full_clean (the admin)
            # and the API check it with this constraint and its message.
            models.UniqueConstraint(
                Upper("id_tag"),
                name="idtag_id_tag_ci_unique",
                violation_error_code="id_tag_taken",
                violation_error_message=_(
                    "An id tag with this value exists (id tags ignore case)."
                ),
            ),
        ]
        indexes = [
            # Incremental sync: the API's ?updated_since= and cursor pages.
            models.Index(fields=["updated_at", "id"], name="idtag_updated_id_idx"),
            # The list's order (the case-insensitive unique index does not serve it).
            models.Index(fields=["id_tag", "id"], name="idtag_id_tag_id_idx"),
        ]

    def __str__(self):
        return self.id_tag

    def clean(self):
        super().clean()
        try:
            validate_idtag_parent(tag_pk=self.pk, parent_pk=self.parent_id)
        except ValidationError as exc:
            raise ValidationError({"parent": exc.error_list}) from exc


class LocalAuthList(models.Model):
    """A charge point's local authorization list as we last had it accepted.

    `id_tags` and `version` change only when the charge point accepts a
    SendLocalList; `reported_version` is what GetLocalListVersion answered.
    """

    charge_point = models.OneToOneField(
        "stations.ChargePoint",
        on_delete=models.CASCADE,
        related_name="local_auth_list",
        verbose_name=_("charge point"),
    )
    version = models.IntegerField(_("version accepted"), default=0)
    reported_version = models.IntegerField(_("version reported"), null=True, blank=True)
    reported_at = models.DateTimeField(_("reported at"), null=True, blank=True)
    id_tags = models.ManyToManyField(
        IdTag, related_name="local_auth_lists", blank=True, verbose_name=_("id tags")
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("local authorization list")
        verbose_name_plural = _("local authorization lists")

    def __str__(self):
        return f"{self.charge_point} v{self.version}"


class ContractCertificateStatus(models.TextChoices):
    VALID = "valid", _("valid")
    REVOKED = "revoked", _("revoked")
    EXPIRED = "expired", _("expired")
    CANCELLED = "cancelled", _("contract cancelled")


class ContractCertificate(models.Model):
    """An ISO 15118 contract certificate (Plug & Charge) of a driver, known by its hash data.

    A vehicle authorizes with its eMAID and the hash data of this certificate
    (OCPP 2.0.1 Authorize iso15118CertificateHashData); hashes and serial are
    stored as lower-case hex.
    """

    driver = models.ForeignKey(
        Driver,
        on_delete=models.CASCADE,
        related_name="contract_certificates",
        verbose_name=_("driver"),
    )
    emaid = models.CharField(_("eMAID"), max_length=36, db_index=True)
    issuer_name_hash = models.CharField(_("issuer name hash"), max_length=128)
    issuer_key_hash = models.CharField(_("issuer key hash"), max_length=128)
    serial_number = models.CharField(_("serial number"), max_length=40)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=ContractCertificateStatus.choices,
        default=ContractCertificateStatus.VALID,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("contract certificate")
        verbose_name_plural = _("contract certificates")
        constraints = [
            models.UniqueConstraint(
                fields=["issuer_name_hash", "issuer_key_hash", "serial_number"],
                name="contract_certificate_identity",
            )
        ]

    def __str__(self):
        return self.emaid

    def save(self, *args, **kwargs):
        self.issuer_name_hash = self.issuer_name_hash.strip().lower()
        self.issuer_key_hash = self.issuer_key_hash.strip().lower()
        self.serial_number = self.serial_number.strip().lower()
        super().save(*args, **kwargs)
