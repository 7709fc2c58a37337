"""The outbox in the console: what is still undelivered, why, and a retry."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from monitoring.admin_base import ReadOnlyModelAdmin

from .models import OutboxMessage
from .relay import outbox_retry_now


class PendingFilter(admin.SimpleListFilter):
    title = _("delivery")
    parameter_name = "delivery"

    def lookups(self, request, model_admin):
        return (
            ("pending", _("pending")),
            ("failing", _("failing")),
            ("handled", _("handled")),
            ("expired", _("expired")),
        )

    def queryset(self, request, queryset):
        value = self.value()
        if value == "pending":
            return queryset.filter(handled_at__isnull=True)
        if value == "failing":
            return queryset.filter(handled_at__isnull=True, attempts__gt=0)
        if value == "handled":
            return queryset.filter(handled_at__isnull=False, expired=False)
        if value == "expired":
            return queryset.filter(expired=True)
        return queryset


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyModelAdmin):
    list_display = (
        "id",
        "kind",
        "subscriber",
        "created_at",
        "handled_at",
        "attempts",
        "next_attempt_at",
        "short_error",
    )
    list_filter = (PendingFilter, "subscriber", "kind")
    search_fields = ("=id", "last_error")
    date_hierarchy = "created_at"
    actions = ("retry_now",)
    show_full_result_count = False

    @admin.display(description=_("last error"))
    def short_error(self, obj):
        return obj.last_error[:120]

    @admin.action(description=_("Retry the selected undelivered events now"), permissions=["view"])
    def retry_now(self, request, queryset):
        count = outbox_retry_now(message_ids=queryset.values_list("pk", flat=True))
        self.message_user(
            request,
            ngettext("%(count)d event is due again.", "%(count)d events are due again.", count)
            % {"count": count},
            messages.SUCCESS,
        )
