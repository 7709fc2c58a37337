from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoadManagementConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "loadmanagement"
    verbose_name = _("Load management")
