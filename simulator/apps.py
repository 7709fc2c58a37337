from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SimulatorConfig(AppConfig):
    """A tool, not part of the CSMS: installed for its `simulate` command only."""

    name = "simulator"
    verbose_name = _("Charge point simulator")
