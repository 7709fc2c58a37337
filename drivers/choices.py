from django.db import models
from django.utils.translation import gettext_lazy as _


class AuthorizationStatus(models.TextChoices):
    """OCPP 1.6 AuthorizationStatus values an operator can give a tag."""

    ACCEPTED = "Accepted", _("Accepted")
    BLOCKED = "Blocked", _("Blocked")
    EXPIRED = "Expired", _("Expired")
    INVALID = "Invalid", _("Invalid")
