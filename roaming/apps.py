from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RoamingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "roaming"
    verbose_name = _("Roaming (OCPI)")

    def ready(self):
        from drivers.remote_authorities import remote_authority_register

        from .realtime import realtime_timeout_seconds, token_realtime_refresh

        # Partners' tokens that want real-time authorization are asked about before
        # a charger's request is decided (roaming.realtime).
        remote_authority_register(
            "roaming", token_realtime_refresh, timeout_seconds=realtime_timeout_seconds()
        )
