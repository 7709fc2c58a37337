from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DriversConfig(AppConfig):
    name = "drivers"
    verbose_name = _("Drivers and id tags")

    def ready(self):
        from django.db.models.signals import post_migrate

        from .account_indexes import account_indexes_after_migrate

        # Creates the case-insensitive account indexes once legacy duplicates are resolved.
        post_migrate.connect(account_indexes_after_migrate, sender=self)
