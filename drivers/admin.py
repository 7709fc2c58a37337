"""The operator console for users, drivers and their id tags."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .choices import AuthorizationStatus
from .models import Driver, IdTag, User

admin.site.register(User, UserAdmin)


class IdTagInline(admin.TabularInline):
    model = IdTag
    fields = ("id_tag", "status", "expiry_date", "parent", "note")
    autocomplete_fields = ("parent",)
    extra = 0
    show_change_link = True


@admin.register(Driver)
class DriverAdmin(admin.ModelAdmin):
    inlines = (IdTagInline,)
    list_display = ("__str__", "user", "email", "phone", "is_active", "created_at")
    list_filter = ("user__is_active",)
    list_select_related = ("user",)
    search_fields = (
        "user__username",
        "user__email",
        "user__first_name",
        "user__last_name",
        "phone",
        "id_tags__id_tag",
    )
    date_hierarchy = "created_at"
    autocomplete_fields = ("user",)
    readonly_fields = ("created_at",)

    @admin.display(description=_("email"), ordering="user__email")
    def email(self, obj):
        return obj.user.email

    @admin.display(description=_("active"), boolean=True, ordering="user__is_active")
    def is_active(self, obj):
        return obj.user.is_active


@admin.register(IdTag)
class IdTagAdmin(admin.ModelAdmin):
    list_display = ("id_tag", "status", "expiry_date", "driver", "parent", "note", "updated_at")
    list_filter = ("status", "expiry_date")
    list_select_related = ("driver__user", "parent")
    search_fields = (
        "id_tag",
        "note",
        "driver__user__username",
        "driver__user__email",
        "driver__phone",
    )
    date_hierarchy = "created_at"
    autocomplete_fields = ("driver", "parent")
    readonly_fields = ("created_at", "updated_at")
    actions = ("block_selected", "unblock_selected")

    def _set_status(self, request, queryset, status) -> int:
        return queryset.update(status=status, updated_at=timezone.now())

    @admin.action(description=_("Block selected id tags"), permissions=("change",))
    def block_selected(self, request, queryset):
        count = self._set_status(request, queryset, AuthorizationStatus.BLOCKED)
        self.message_user(
            request,
            ngettext("%(count)d id tag blocked.", "%(count)d id tags blocked.", count)
            % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Unblock (accept) selected id tags"), permissions=("change",))
    def unblock_selected(self, request, queryset):
        count = self._set_status(request, queryset, AuthorizationStatus.ACCEPTED)
        self.message_user(
            request,
            ngettext("%(count)d id tag accepted.", "%(count)d id tags accepted.", count)
            % {"count": count},
            messages.SUCCESS,
        )
