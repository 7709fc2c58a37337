"""The cluster view: every registered process, alive or dead (read-only)."""

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .admin_base import ReadOnlyAdminMixin
from .models import Node, alive_cutoff


class AliveFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return (("alive", _("alive")), ("dead", _("dead")))

    def queryset(self, request, queryset):
        alive = {"stopped_at__isnull": True, "last_seen__gte": alive_cutoff()}
        if self.value() == "alive":
            return queryset.filter(**alive)
        if self.value() == "dead":
            return queryset.exclude(**alive)
        return queryset


@admin.register(Node)
class NodeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    deletable = True  # operators may remove a dead node before it is pruned
    list_display = (
        "node_id",
        "state",
        "kind",
        "hostname",
        "pid",
        "connected_charge_points",
        "dashboard_watchers",
        "started_at",
        "last_seen",
        "stopped_at",
    )
    list_filter = (AliveFilter, "kind", "hostname")
    search_fields = ("node_id", "hostname", "=pid", "channel_prefix")
    ordering = ("stopped_at", "-last_seen")

    @admin.display(description=_("state"))
    def state(self, obj):
        now = timezone.now()
        if obj.is_alive(now):
            return format_html('<span class="badge badge-online">{}</span>', _("alive"))
        label = _("stopped") if obj.stopped_at else _("dead")
        return format_html('<span class="badge badge-offline">{}</span>', label)
