from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = _("Monitoring")

    def ready(self):
        from . import (
            debug_safety,
            signals,  # noqa: F401 - connects the Celery hooks
        )

        debug_safety.install()  # a small query log with DEBUG on (long-lived processes)
