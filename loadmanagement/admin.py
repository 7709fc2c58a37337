"""The console's load management: a page per site with its limit, live allocation and journal."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms.models import BaseInlineFormSet
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from monitoring.admin_base import ReadOnlyModelAdmin

from . import selectors, services
from .charts import site_chart_svg
from .models import (
    AllocationDecision,
    ChargerFallback,
    ChargerMaxProfile,
    ChargingPriority,
    ConnectorPhase,
    LimitScheduleEntry,
    ProfileClearance,
    SessionAllocation,
    SiteLimit,
    SiteStation,
)
from .tasks import clear_profiles, dispatch_site

DECISIONS_SHOWN = 20


class LimitScheduleInline(admin.TabularInline):
    model = LimitScheduleEntry
    extra = 0
    fields = ("starts_at", "ends_at", "limit_w", "source")


class ChargingPriorityInline(admin.TabularInline):
    model = ChargingPriority
    extra = 0
    fields = ("connector", "tag_group", "priority")
    raw_id_fields = ("connector",)


class SiteStationFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        own = self.instance.station_id
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            station = data.get("station")
            if data.get("DELETE") and station is not None and station.pk == own:
                raise ValidationError(_("The site's own station stays in it."))

    def wanted_station_ids(self) -> list[int]:
        kept = [
            form.cleaned_data["station"].pk
            for form in self.forms
            if getattr(form, "cleaned_data", None)
            and form.cleaned_data.get("station") is not None
            and not form.cleaned_data.get("DELETE")
        ]
        return [self.instance.station_id, *kept]


class SiteStationInline(admin.TabularInline):
    """The stations behind the site's connection; one that leaves has its profiles cleared."""

    model = SiteStation
    formset = SiteStationFormSet
    extra = 0
    fields = ("station", "added_at")
    readonly_fields = ("added_at",)
    raw_id_fields = ("station",)
    verbose_name = _("station sharing the connection")
    verbose_name_plural = _("stations sharing the connection")


@admin.register(SiteLimit)
class SiteLimitAdmin(admin.ModelAdmin):
    list_display = (
        "station",
        "grid_limit_w",
        "phase_current_limit_a",
        "enabled",
        "in_force",
        "station_count",
    )
    list_filter = ("enabled",)
    search_fields = ("station__name", "members__station__name")
    raw_id_fields = ("station",)
    inlines = (SiteStationInline, LimitScheduleInline, ChargingPriorityInline)
    readonly_fields = (
        "in_force",
        "power_chart",
        "current_allocation",
        "charger_profiles",
        "decision_log",
    )
    fieldsets = (
        (None, {"fields": ("station", "enabled")}),
        (
            _("Limits"),
            {
                "fields": (
                    "grid_limit_w",
                    "phase_current_limit_a",
                    "voltage_v",
                    "safety_margin_percent",
                    "in_force",
                )
            },
        ),
        (
            _("Sessions and chargers"),
            {"fields": ("min_current_a", "default_charger_max_w", "fallback_limit_w")},
        ),
        (_("Now"), {"fields": ("power_chart", "current_allocation", "charger_profiles")}),
        (_("Decisions"), {"fields": ("decision_log",)}),
    )

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        # The site's own station names it and stays its first member: not moved.
        return (*fields, "station") if obj is not None else fields

    @admin.display(description=_("stations"))
    def station_count(self, obj):
        return obj.members.count()

    @admin.display(description=_("chargers' profiles"))
    def charger_profiles(self, obj):
        if obj.pk is None:
            return "-"
        fallbacks = {row.charge_point_id: row for row in obj.fallbacks.all()}
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{} W</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    row.charge_point.charge_point_id,
                    row.limit_w,
                    row.get_state_display(),
                    fallbacks[row.charge_point_id].get_state_display()
                    if row.charge_point_id in fallbacks
                    else "-",
                    row.detail,
                )
                for row in obj.max_profiles.select_related("charge_point").order_by(
                    "charge_point__charge_point_id"
                )
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>"
            "</thead><tbody>{}</tbody></table>",
            _("charge point"),
            _("maximum profile"),
            _("charger's answer"),
            _("fallback profile"),
            _("detail"),
            rows,
        )

    @admin.display(description=_("limit in force (W)"))
    def in_force(self, obj):
        if obj.pk is None:
            return "-"
        capacity = selectors.site_capacity(site=obj)
        return capacity.power_w if capacity.power_w is not None else _("no power limit")

    @admin.display(description=_("power, last hours"))
    def power_chart(self, obj):
        if obj.pk is None:
            return "-"
        live = reverse("admin:loadmanagement_sitelimit_live", args=[obj.pk])
        return format_html(
            '{}<p><a href="{}">{}</a></p>',
            site_chart_svg(site=obj),
            live,
            _("Live view (refreshes by itself)"),
        )

    def get_urls(self):
        live = self.admin_site.admin_view(self.live_view)
        return [
            path("<path:object_id>/live/", live, name="loadmanagement_sitelimit_live"),
            *super().get_urls(),
        ]

    def live_view(self, request, object_id):
        """The chart, the allocation and the journal of a site, refreshed by the browser."""
        site = self.get_object(request, object_id)
        if site is None or not self.has_view_permission(request, site):
            raise Http404
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Load management of %(site)s") % {"site": site},
            "site": site,
            "refresh_seconds": settings.LOADMGMT_SWEEP_SECONDS,
            "in_force": self.in_force(site),
            "chart": site_chart_svg(site=site),
            "allocation": self.current_allocation(site),
            "decisions": self.decision_log(site),
        }
        return TemplateResponse(request, "admin/loadmanagement/sitelimit/live.html", context)

    @admin.display(description=_("allocation"))
    def current_allocation(self, obj):
        if obj.pk is None:
            return "-"
        view = selectors.site_allocation(station_id=obj.station_id)
        header = format_html(
            "<p>{}: {} W &middot; {}: {} W</p>",
            _("allocated"),
            view.allocated_w,
            _("measured"),
            "-" if view.measured_w is None else view.measured_w,
        )
        if not view.sessions:
            return format_html("{}<p>{}</p>", header, _("No running sessions."))
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{} / {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    row.transaction_id,
                    row.transaction.charge_point.charge_point_id,
                    row.transaction.connector.connector_id,
                    row.allocated_w,
                    row.current_a,
                    "-" if row.measured_w is None else row.measured_w,
                    row.get_state_display(),
                    row.reason,
                    row.detail,
                )
                for row in view.sessions
            ),
        )
        return format_html(
            "{}<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>"
            "<th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
            header,
            _("transaction"),
            _("charge point / connector"),
            _("allocated (W)"),
            _("A per phase"),
            _("measured (W)"),
            _("charger's answer"),
            _("reason"),
            _("detail"),
            rows,
        )

    @admin.display(description=_("latest decisions"))
    def decision_log(self, obj):
        if obj.pk is None:
            return "-"
        decisions = obj.decisions.order_by("-created_at", "-id")[:DECISIONS_SHOWN]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    d.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                    d.trigger,
                    "-" if d.capacity_w is None else d.capacity_w,
                    d.allocated_w,
                    "-" if d.measured_w is None else d.measured_w,
                    d.summary,
                )
                for d in decisions
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>"
            "<th>{}</th></tr></thead><tbody>{}</tbody></table>",
            _("at"),
            _("trigger"),
            _("capacity (W)"),
            _("allocated (W)"),
            _("measured (W)"),
            _("summary"),
            rows,
        )

    def save_formset(self, request, form, formset, change):
        if formset.model is SiteStation:
            # Through the service: a station that leaves has its profiles cleared.
            services.site_stations_set(
                station_id=form.instance.station_id, station_ids=formset.wanted_station_ids()
            )
            # The change message reads these (what a formset's save() would have set).
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
            return
        super().save_formset(request, form, formset, change)

    def save_related(self, request, form, formsets, change):
        # After the inlines (schedule, priorities): the site is recomputed with all of it.
        super().save_related(request, form, formsets, change)
        station_id = form.instance.station_id
        services.site_recompute(station_id=station_id, trigger=services.Trigger.LIMIT_CHANGED)
        transaction.on_commit(lambda: dispatch_site.delay(station_id))

    def get_deleted_objects(self, objs, request):
        # What goes with a site (its allocations, decisions, profiles' states) is its own
        # bookkeeping, read-only in the console: deleting the site needs only its permission.
        deleted, counts, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected

    def delete_model(self, request, obj):
        # Its chargers are not left throttled: what we installed there is cleared.
        services.site_delete(site_id=obj.pk)
        transaction.on_commit(lambda: clear_profiles.delay())

    def delete_queryset(self, request, queryset):
        for site_id in queryset.values_list("pk", flat=True):
            services.site_delete(site_id=site_id)
        transaction.on_commit(lambda: clear_profiles.delay())


@admin.register(SessionAllocation)
class SessionAllocationAdmin(ReadOnlyModelAdmin):
    list_display = (
        "transaction",
        "site",
        "allocated_w",
        "current_a",
        "measured_w",
        "state",
        "reason",
        "sent_at",
    )
    list_filter = ("state", "reason")
    list_select_related = ("site__station",)
    raw_id_fields = ("transaction",)


@admin.register(ChargerFallback)
class ChargerFallbackAdmin(ReadOnlyModelAdmin):
    list_display = ("charge_point", "site", "limit_w", "state", "sent_at", "detail")
    list_filter = ("state",)
    list_select_related = ("charge_point", "site__station")


@admin.register(ChargerMaxProfile)
class ChargerMaxProfileAdmin(ReadOnlyModelAdmin):
    list_display = ("charge_point", "site", "limit_w", "phases", "state", "sent_at", "detail")
    list_filter = ("state",)
    list_select_related = ("charge_point", "site__station")


@admin.register(ProfileClearance)
class ProfileClearanceAdmin(ReadOnlyModelAdmin):
    list_display = (
        "created_at",
        "charge_point",
        "site_name",
        "reason",
        "profile_ids",
        "state",
        "sent_at",
        "detail",
    )
    list_filter = ("state", "reason")
    list_select_related = ("charge_point",)


@admin.register(ConnectorPhase)
class ConnectorPhaseAdmin(admin.ModelAdmin):
    """The phase a one-phase connector is wired to (load management counts it there only)."""

    list_display = ("connector", "phase")
    list_filter = ("phase",)
    raw_id_fields = ("connector",)
    search_fields = ("connector__charge_point__charge_point_id",)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        station_id = obj.connector.charge_point.station_id
        if station_id is not None and selectors.site_limit_get(station_id=station_id):
            services.site_recompute(station_id=station_id, trigger=services.Trigger.LIMIT_CHANGED)
            transaction.on_commit(lambda: dispatch_site.delay(station_id))


@admin.register(AllocationDecision)
class AllocationDecisionAdmin(ReadOnlyModelAdmin):
    list_display = (
        "created_at",
        "site",
        "trigger",
        "capacity_w",
        "allocated_w",
        "measured_w",
        "over_limit",
        "summary",
    )
    list_filter = ("trigger", "over_limit")
    list_select_related = ("site__station",)
    date_hierarchy = "created_at"
