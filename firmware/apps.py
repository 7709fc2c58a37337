from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FirmwareConfig(AppConfig):
    name = "firmware"
    verbose_name = _("Files for charge points (firmware, diagnostics, campaigns)")
