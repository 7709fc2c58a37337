from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StationsConfig(AppConfig):
    name = "stations"
    verbose_name = _("Stations and charging")

    def ready(self):
        from django.db.models.signals import post_migrate

        from .charge_point_id_index import chargepoint_id_index_after_migrate

        # Creates the case-insensitive id index once legacy look-alike pairs are resolved.
        post_migrate.connect(chargepoint_id_index_after_migrate, sender=self)
