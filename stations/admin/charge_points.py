"""Console pages for sites, charge points, connectors and their status."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from firmware.admin_actions import CHARGE_POINT_FILE_ACTIONS
from monitoring import console
from monitoring.admin_base import ReadOnlyInline, ReadOnlyModelAdmin
from monitoring.admin_paginator import LargeTableAdminMixin, related_key_filter
from ocpp_consumer.admin import ChargePointCommandsMixin
from ocpp_consumer.admin_quick import ConnectorCommandsMixin

from ..models import (
    CHARGE_POINT_PASSWORD_MAX_LENGTH,
    CHARGE_POINT_PASSWORD_MIN_LENGTH,
    ChargePoint,
    CompatibilityProfile,
    Connector,
    ConnectorStatusLog,
    Station,
    validate_charge_point_credentials,
)
from ..models.charge_points import REPORTED_BY_CHARGE_POINT
from .base import _changelist_link
from .charge_point_list import (
    ConnectionFilter,
    ConnectorStatusFilter,
    connector_status_badges,
    connectors_prefetch,
)
from .locations import CONNECTOR_PLUG_FIELDS, STATION_FIELDSETS, StationForm
from .registration import ChargePointRegistrationMixin, accept_selected, reject_selected

# --- Stations and charge points -------------------------------------------


@admin.register(Station)
class StationAdmin(admin.ModelAdmin):
    form = StationForm
    fieldsets = STATION_FIELDSETS
    list_display = (
        "name",
        "city",
        "postal_code",
        "country",
        "time_zone",
        "publish",
        "charge_point_count",
    )
    list_filter = ("country", "time_zone", "publish", "parking_type")
    search_fields = ("name", "address", "city", "postal_code")
    date_hierarchy = "created_at"
    readonly_fields = ("created_at",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_charge_point_count=Count("charge_points"))

    @admin.display(description=_("charge points"), ordering="_charge_point_count")
    def charge_point_count(self, obj):
        return obj._charge_point_count


class ChargePointForm(forms.ModelForm):
    """Set or clear the charge point's password; the stored hash is never shown."""

    new_password = forms.CharField(
        label=_("new password"),
        required=False,
        strip=False,
        # The model's bounds, so that the browser limits the input too;
        # ChargePoint.set_password checks the same rule.
        min_length=CHARGE_POINT_PASSWORD_MIN_LENGTH,
        max_length=CHARGE_POINT_PASSWORD_MAX_LENGTH,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False),
        help_text=_(
            "HTTP Basic password of security profile 1, 16 to 40 characters. "
            "Leave empty to keep the current one."
        ),
    )
    clear_password = forms.BooleanField(
        label=_("clear password"),
        required=False,
        help_text=_("Remove the password: the charge point then connects without one."),
    )

    class Meta:
        model = ChargePoint
        fields = ("charge_point_id", "station", "registration_status", "heartbeat_interval")

    def clean(self):
        cleaned_data = super().clean()
        if cleaned_data.get("new_password") and cleaned_data.get("clear_password"):
            raise forms.ValidationError(
                _("Either set a new password or clear it, not both."), code="password_conflict"
            )
        if "security_profile" in cleaned_data and "new_password" not in self.errors:
            self._check_credentials(cleaned_data)
        return cleaned_data

    def _check_credentials(self, cleaned_data) -> None:
        """Refuse, as the API does, a profile the charge point could not sign in with."""
        if cleaned_data.get("clear_password"):
            has_password = False
        else:
            has_password = bool(cleaned_data.get("new_password") or self.instance.password)
        try:
            validate_charge_point_credentials(
                security_profile=cleaned_data["security_profile"], has_password=has_password
            )
        except ValidationError as exc:
            self.add_error("new_password", exc.error_dict["password"])

    def save(self, commit=True):
        charge_point = super().save(commit=False)
        if self.cleaned_data.get("clear_password"):
            charge_point.set_password(None)
        elif self.cleaned_data.get("new_password"):
            charge_point.set_password(self.cleaned_data["new_password"])
        if commit:
            charge_point.save()
            self._save_m2m()
        return charge_point


class ConnectorInline(ReadOnlyInline, admin.TabularInline):
    model = Connector
    fields = (
        "connector_id",
        "status",
        "error_code",
        "info",
        "vendor_error_code",
        "status_timestamp",
        "updated_at",
    )
    readonly_fields = fields


CONNECTION_STATE = (
    "is_online",
    "connection_channel",
    "socket_node",
    "last_boot_at",
    "last_heartbeat",
    "last_seen",
    "connected_at",
    "created_at",
    "updated_at",
)


@admin.register(CompatibilityProfile)
class CompatibilityProfileAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "vendor",
        "model",
        "numbers_as_strings",
        "truncate_long_strings",
        "ignore_unknown_fields",
        "id_tag_suffix",
        "meter_in_kwh",
    )
    search_fields = ("name", "vendor", "model")


@admin.register(ChargePoint)
class ChargePointAdmin(ChargePointRegistrationMixin, ChargePointCommandsMixin, admin.ModelAdmin):
    form = ChargePointForm
    inlines = (ConnectorInline,)
    change_list_template = "admin/stations/chargepoint/change_list.html"
    actions = [
        accept_selected,
        reject_selected,
        *ChargePointCommandsMixin.actions,
        *CHARGE_POINT_FILE_ACTIONS,
    ]
    list_display = (
        "charge_point_id",
        "station",
        "registration",
        "is_online",
        "connector_statuses",
        "has_password",
        "vendor",
        "model",
        "firmware_version",
        "last_heartbeat",
        "last_seen",
    )
    list_filter = (
        "registration_status",
        ConnectorStatusFilter,
        ConnectionFilter,
        # Set by the links from a station; never lists every station of the network.
        related_key_filter("station", title=_("station")),
        "vendor",
    )
    list_select_related = ("station",)
    search_fields = (
        "charge_point_id",
        "vendor",
        "model",
        "charge_point_serial_number",
        "charge_box_serial_number",
        "station__name",
    )
    date_hierarchy = "created_at"
    autocomplete_fields = ("station",)
    readonly_fields = (
        ("has_password", "status_badges")
        + REPORTED_BY_CHARGE_POINT
        + CONNECTION_STATE
        + ("recent_commands", "known_configuration")
    )
    fieldsets = (
        (_("Status"), {"fields": ("status_badges",)}),
        (None, {"fields": ("charge_point_id", "station", "registration_status")}),
        (_("Security"), {"fields": ("security_profile",)}),
        (_("Protocol"), {"fields": ("heartbeat_interval", "compatibility_profile")}),
        (_("Password"), {"fields": ("has_password", "new_password", "clear_password")}),
        (_("Reported by the charge point"), {"fields": REPORTED_BY_CHARGE_POINT}),
        (_("Connection"), {"fields": CONNECTION_STATE}),
        (_("Commands"), {"fields": ("recent_commands",)}),
        (_("Configuration"), {"fields": ("known_configuration",), "classes": ("collapse",)}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(connectors_prefetch())

    @admin.display(description=_("connectors"))
    def connector_statuses(self, obj):
        return connector_status_badges(obj)

    @admin.display(description=_("has password"), boolean=True)
    def has_password(self, obj):
        return bool(obj.password)

    @admin.display(description=_("status"))
    def status_badges(self, obj):
        return console.chargepoint_badges(obj)

    @admin.display(description=_("node holding the socket"))
    def socket_node(self, obj):
        return console.socket_node(obj)


@admin.register(Connector)
class ConnectorAdmin(ConnectorCommandsMixin, admin.ModelAdmin):
    # Not __str__: it shows the charge point's primary key, not its OCPP id.
    list_display = (
        "charge_point",
        "connector_id",
        "status",
        "error_code",
        "info",
        "status_timestamp",
    )
    list_display_links = ("charge_point", "connector_id")
    list_filter = ("status", "error_code", "standard", "power_type")
    list_select_related = ("charge_point",)
    search_fields = ("charge_point__charge_point_id", "info", "vendor_error_code", "evse_id")
    fieldsets = (
        (None, {"fields": ("charge_point", "connector_id")}),
        (
            _("Plug (shown on the map and to roaming partners)"),
            {"fields": CONNECTOR_PLUG_FIELDS},
        ),
        (
            _("Status"),
            {
                "fields": (
                    "status",
                    "error_code",
                    "info",
                    "vendor_id",
                    "vendor_error_code",
                    "status_timestamp",
                    "evse_connector_statuses",
                    "updated_at",
                    "status_history",
                )
            },
        ),
    )
    date_hierarchy = "status_timestamp"
    autocomplete_fields = ("charge_point",)
    readonly_fields = (
        "status",
        "error_code",
        "info",
        "vendor_id",
        "vendor_error_code",
        "status_timestamp",
        "updated_at",
        "status_history",
    )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        return ("charge_point", "connector_id") + self.readonly_fields

    @admin.display(description=_("status history"))
    def status_history(self, obj):
        if obj.pk is None:
            return None
        return _changelist_link(
            "stations_connectorstatuslog", f"connector__id__exact={obj.pk}", _("Show")
        )


@admin.register(ConnectorStatusLog)
class ConnectorStatusLogAdmin(LargeTableAdminMixin, ReadOnlyModelAdmin):
    list_display = (
        "received_at",
        "charge_point",
        "connector_number",
        "status",
        "error_code",
        "info",
        "vendor_error_code",
        "timestamp",
    )
    list_filter = ("status", "error_code")
    list_select_related = ("connector__charge_point",)
    search_fields = ("connector__charge_point__charge_point_id", "info", "vendor_error_code")
    date_hierarchy = "received_at"

    @admin.display(description=_("charge point"), ordering="connector__charge_point")
    def charge_point(self, obj):
        return obj.connector.charge_point

    @admin.display(description=_("connector id"), ordering="connector__connector_id")
    def connector_number(self, obj):
        return obj.connector.connector_id
