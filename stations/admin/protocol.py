"""Console pages for reservations, smart charging and security events."""

from django.contrib import admin

from monitoring.admin_base import ReadOnlyInline, ReadOnlyModelAdmin

from ..models import (
    ChargingProfile,
    ChargingSchedulePeriod,
    CompositeSchedule,
    Reservation,
    SecurityEvent,
)

# --- Reservations and smart charging ----------------------------------------


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyModelAdmin):
    list_display = (
        "reservation_id",
        "charge_point",
        "connector_id",
        "id_tag",
        "parent_id_tag",
        "expiry_date",
        "status",
        "transaction",
    )
    list_filter = ("status",)
    list_select_related = ("charge_point",)
    search_fields = ("=reservation_id", "id_tag", "charge_point__charge_point_id")
    date_hierarchy = "expiry_date"


class ChargingSchedulePeriodInline(ReadOnlyInline, admin.TabularInline):
    model = ChargingSchedulePeriod
    fields = ("start_period", "limit", "number_phases")
    readonly_fields = fields


@admin.register(ChargingProfile)
class ChargingProfileAdmin(ReadOnlyModelAdmin):
    inlines = (ChargingSchedulePeriodInline,)
    list_display = (
        "charge_point",
        "connector_id",
        "charging_profile_id",
        "purpose",
        "stack_level",
        "kind",
        "charging_rate_unit",
        "limit_source",
        "installed_at",
        "cleared_at",
    )
    list_filter = (
        "purpose",
        "kind",
        "limit_source",
        ("cleared_at", admin.EmptyFieldListFilter),
    )
    list_select_related = ("charge_point",)
    search_fields = ("charge_point__charge_point_id", "=charging_profile_id")


@admin.register(CompositeSchedule)
class CompositeScheduleAdmin(ReadOnlyModelAdmin):
    list_display = ("charge_point", "connector_id", "schedule_start", "fetched_at")
    list_select_related = ("charge_point",)
    search_fields = ("charge_point__charge_point_id",)


@admin.register(SecurityEvent)
class SecurityEventAdmin(ReadOnlyModelAdmin):
    list_display = (
        "received_at",
        "charge_point",
        "claimed_id",
        "origin",
        "event_type",
        "critical",
        "tech_info",
        "source_address",
    )
    list_filter = ("critical", "origin", "event_type")
    list_select_related = ("charge_point",)
    search_fields = ("charge_point__charge_point_id", "claimed_id", "event_type", "source_address")
    date_hierarchy = "received_at"
