"""Console pages for what OCPP 2.0.1 stations report about smart charging.

Limits set outside the CSMS (grid operator, energy manager) and what EVs
ask for are the stations' to report: shown read-only.
"""

from django.contrib import admin

from monitoring.admin_base import ReadOnlyModelAdmin

from ..models import EVChargingNeeds, ExternalChargingLimit


@admin.register(ExternalChargingLimit)
class ExternalChargingLimitAdmin(ReadOnlyModelAdmin):
    list_display = (
        "charge_point",
        "connector_id",
        "source",
        "is_grid_critical",
        "reported_at",
        "cleared_at",
    )
    list_filter = ("source", ("cleared_at", admin.EmptyFieldListFilter))
    list_select_related = ("charge_point",)
    search_fields = ("charge_point__charge_point_id",)


@admin.register(EVChargingNeeds)
class EVChargingNeedsAdmin(ReadOnlyModelAdmin):
    list_display = (
        "charge_point",
        "connector_id",
        "transaction",
        "requested_energy_transfer",
        "departure_time",
        "updated_at",
    )
    list_filter = ("requested_energy_transfer",)
    list_select_related = ("charge_point", "transaction")
    search_fields = ("charge_point__charge_point_id",)
    raw_id_fields = ("transaction",)
