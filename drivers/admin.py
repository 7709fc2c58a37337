"""The operator console for users, drivers and their id tags."""

from asgiref.sync import async_to_sync
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from monitoring.admin_base import ReadOnlyAdminMixin
from ocpp_consumer.admin import report_outcome, send_each
from ocpp_consumer.local_lists import local_list_payloads
from stations.models import ChargePoint

from .choices import AuthorizationStatus
from .models import ContractCertificate, DeviceToken, Driver, IdTag, LocalAuthList, User
from .services import device_token_revoke


@admin.register(User)
class AccountAdmin(UserAdmin):
    """Django's user admin, plus when a person deleted their account (API `DELETE me/`)."""

    fieldsets = (*UserAdmin.fieldsets, (_("Account deletion"), {"fields": ("deleted_at",)}))
    readonly_fields = ("deleted_at",)


@admin.register(DeviceToken)
class DeviceTokenAdmin(admin.ModelAdmin):
    """The devices signed in to each account: operators see them and sign one out.

    Tokens are made by signing in; the console never sees a key, only its
    first characters.
    """

    list_display = (
        "name",
        "user",
        "key_prefix",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), "created_at")
    list_select_related = ("user",)
    search_fields = ("name", "key_prefix", "user__username", "user__email")
    date_hierarchy = "created_at"
    fields = (
        "user",
        "name",
        "key_prefix",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    readonly_fields = (
        "user",
        "key_prefix",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    actions = ("revoke_selected",)

    def has_add_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Sign out the selected devices"), permissions=("change",))
    def revoke_selected(self, request, queryset):
        count = 0
        for device in queryset.filter(revoked_at__isnull=True):
            device_token_revoke(device=device)
            count += 1
        self.message_user(
            request,
            ngettext("%(count)d device signed out.", "%(count)d devices signed out.", count)
            % {"count": count},
            messages.SUCCESS,
        )


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


@admin.register(ContractCertificate)
class ContractCertificateAdmin(admin.ModelAdmin):
    """Plug & Charge contracts: revoke one here and the next Authorize refuses it."""

    list_display = ("emaid", "driver", "status", "serial_number", "created_at")
    list_filter = ("status",)
    list_select_related = ("driver__user",)
    search_fields = ("emaid", "serial_number", "driver__user__username", "driver__user__email")
    autocomplete_fields = ("driver",)
    readonly_fields = ("created_at",)


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
    actions = ("block_selected", "unblock_selected", "send_to_local_lists")

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

    @admin.action(
        description=_("Send to charge points' local authorization lists"),
        permissions=("change",),
    )
    def send_to_local_lists(self, request, queryset):
        """Intermediate page: choose charge points and how; then send SendLocalList."""
        form = LocalListForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            charge_points = list(form.cleaned_data["charge_points"])
            payloads = local_list_payloads(
                charge_point_pks=[cp.pk for cp in charge_points],
                selected=list(queryset),
                mode=form.cleaned_data["mode"],
            )
            jobs = [(cp.charge_point_id, "SendLocalList", payloads[cp.pk]) for cp in charge_points]
            for charge_point_id, outcome in async_to_sync(send_each)(jobs, request.user.pk):
                report_outcome(request, charge_point_id, outcome)
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Send id tags to local authorization lists"),
            "form": form,
            "queryset": queryset,
            "action": "send_to_local_lists",
        }
        return TemplateResponse(request, "admin/drivers/idtag/local_list.html", context)


class LocalListForm(forms.Form):
    charge_points = forms.ModelMultipleChoiceField(
        label=_("charge points"), queryset=ChargePoint.objects.order_by("charge_point_id")
    )
    mode = forms.ChoiceField(
        label=_("how"),
        choices=[
            ("add", _("add these tags (Differential)")),
            ("remove", _("remove these tags (Differential)")),
            ("replace", _("replace the whole list with these tags (Full)")),
        ],
    )


@admin.register(LocalAuthList)
class LocalAuthListAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What each charge point's list holds; only accepted SendLocalList updates change it."""

    deletable = True  # forget a list our records got wrong: the next update starts at 1
    list_display = ("charge_point", "version", "reported_version", "reported_at", "updated_at")
    list_select_related = ("charge_point",)
    search_fields = ("charge_point__charge_point_id",)
    filter_horizontal = ("id_tags",)
