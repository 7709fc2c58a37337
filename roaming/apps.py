from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RoamingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "roaming"
    verbose_name = _("Roaming (OCPI)")

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from drivers.remote_authorities import remote_authority_register

        from .models import Party, RoamingToken
        from .realtime import realtime_timeout_seconds, token_realtime_refresh
        from .realtime_candidates import idtag_may_be_asked, realtime_candidates_drop_on_write

        # Partners' tokens that want real-time authorization are asked about before
        # a charger's request is decided (roaming.realtime).
        remote_authority_register(
            "roaming",
            token_realtime_refresh,
            timeout_seconds=realtime_timeout_seconds(),
            may_decide=idtag_may_be_asked,
        )
        for model in (RoamingToken, Party):
            for signal in (post_save, post_delete):
                signal.connect(
                    realtime_candidates_drop_on_write,
                    sender=model,
                    dispatch_uid="roaming-realtime-candidates",
                )
