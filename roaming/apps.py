from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RoamingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "roaming"
    verbose_name = _("Roaming (OCPI)")
