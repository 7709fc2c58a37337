from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OcppConsumerConfig(AppConfig):
    name = "ocpp_consumer"
    verbose_name = _("OCPP protocol")
