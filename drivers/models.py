from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _

from .choices import AuthorizationStatus


class User(AbstractUser):
    """The project's user: operators (staff) and drivers (app users) alike."""

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"


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


class IdTag(models.Model):
    """An RFID card or app token (OCPP idToken, CiString20)."""

    id_tag = models.CharField(_("id tag"), max_length=20)
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
            # CiString: "ABC" and "abc" are the same tag.
            models.UniqueConstraint(Upper("id_tag"), name="idtag_id_tag_ci_unique"),
        ]

    def __str__(self):
        return self.id_tag


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
