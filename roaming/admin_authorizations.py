"""Partners' reservations and authorizations in the console: records, read only."""

from __future__ import annotations

from django.contrib import admin

from monitoring.admin_base import ReadOnlyModelAdmin

from .models import RoamingAuthorization, RoamingReservation


@admin.register(RoamingReservation)
class RoamingReservationAdmin(ReadOnlyModelAdmin):
    """The partner's reservation id and ours at the charger (Stations → Reservations)."""

    list_display = (
        "reservation_id",
        "partner",
        "country_code",
        "party_id",
        "ocpp_reservation_id",
        "charge_point",
        "connector_id",
        "expiry_date",
        "received_at",
    )
    list_filter = ("partner",)
    search_fields = ("reservation_id", "=ocpp_reservation_id")
    list_select_related = ("partner", "charge_point")


@admin.register(RoamingAuthorization)
class RoamingAuthorizationAdmin(ReadOnlyModelAdmin):
    """Real-time authorization answers and START_SESSION references of partners."""

    list_display = (
        "created_at",
        "token",
        "charge_point",
        "source",
        "allowed",
        "authorization_reference",
        "transaction",
    )
    list_filter = ("source", "allowed")
    search_fields = ("authorization_reference", "token__uid")
    date_hierarchy = "created_at"
    list_select_related = ("token", "charge_point")
