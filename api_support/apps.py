from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiSupportConfig(AppConfig):
    """Plumbing shared by the REST API of every app: roles, throttling, idempotency."""

    name = "api_support"
    verbose_name = _("API support")
    default_auto_field = "django.db.models.BigAutoField"
