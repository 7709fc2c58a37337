"""Roaming partners and the OCPI journal in the console."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from monitoring.admin_base import ReadOnlyModelAdmin

from .models import Cdr, Exchange, Party, PushedCopy, RoamingToken, TariffVersion
from .services import party_create, party_delete, party_registration_reopen
from .tasks import pull_tokens, send_cdr


@admin.register(Party)
class PartyAdmin(admin.ModelAdmin):
    list_display = ("name", "country_code", "party_id", "role", "status", "registered_at")
    list_filter = ("status", "role")
    search_fields = ("name", "party_id")
    readonly_fields = (
        "status",
        "roles",
        "versions_url",
        "version",
        "endpoints",
        "registered_at",
        "created_at",
        "updated_at",
    )
    fields = ("name", "country_code", "party_id", "role", *readonly_fields)
    actions = ["reopen_registration", "pull_partner_tokens"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        # A new partner gets its token A here; it is shown once and stored hashed.
        party, token_a = party_create(
            name=obj.name, country_code=obj.country_code, party_id=obj.party_id, role=obj.role
        )
        obj.pk = party.pk
        obj.refresh_from_db()
        self._show_token(request, party, token_a)

    def delete_model(self, request, obj):
        party_delete(party=obj)

    def delete_queryset(self, request, queryset):
        for party in queryset:
            party_delete(party=party)

    @admin.action(description=_("Issue a new token A (the partner registers again)"))
    def reopen_registration(self, request, queryset):
        for party in queryset:
            self._show_token(request, party, party_registration_reopen(party=party))

    @admin.action(description=_("Fetch all tokens from the partner (in the background)"))
    def pull_partner_tokens(self, request, queryset):
        for party in queryset:
            pull_tokens.delay(party.pk)
        self.message_user(
            request, _("Fetching the tokens of %(count)s partners.") % {"count": len(queryset)}
        )

    def _show_token(self, request, party, token_a):
        versions_url = request.build_absolute_uri("/ocpi/versions")
        self.message_user(
            request,
            _(
                "Token A for %(party)s (shown only now): %(token)s. Give it with our versions "
                "URL %(url)s to the partner."
            )
            % {"party": party.name, "token": token_a, "url": versions_url},
            messages.WARNING,
        )


@admin.register(Exchange)
class ExchangeAdmin(ReadOnlyModelAdmin):
    """The journal is a record: read only; old rows may be deleted."""

    deletable = True
    list_display = (
        "created_at",
        "direction",
        "party",
        "method",
        "url",
        "http_status",
        "ocpi_status_code",
        "duration_ms",
    )
    list_filter = ("direction", "party", "http_status")
    search_fields = ("url",)
    date_hierarchy = "created_at"
    list_select_related = ("party",)


@admin.register(TariffVersion)
class TariffVersionAdmin(ReadOnlyModelAdmin):
    list_display = ("tariff", "last_updated")


@admin.register(PushedCopy)
class PushedCopyAdmin(ReadOnlyModelAdmin):
    """What each partner has of our locations and tariffs (pushed or pulled)."""

    list_display = ("party", "module", "object_id", "pushed_at")
    list_filter = ("module", "party")
    search_fields = ("object_id",)
    list_select_related = ("party",)


@admin.register(RoamingToken)
class RoamingTokenAdmin(ReadOnlyModelAdmin):
    """Partners' tokens as they sent them: read only (they own them)."""

    list_display = (
        "uid",
        "type",
        "country_code",
        "party_id",
        "contract_id",
        "valid",
        "whitelist",
        "id_tag",
        "mirror_problem",
        "last_updated",
    )
    list_filter = ("partner", "type", "valid", "whitelist")
    search_fields = ("uid", "contract_id")
    list_select_related = ("id_tag",)


@admin.register(Cdr)
class CdrAdmin(ReadOnlyModelAdmin):
    """CDRs of roaming drivers' sessions: records, read only; unsent ones can be sent now."""

    list_display = (
        "id",
        "partner",
        "transaction",
        "last_updated",
        "sent_at",
        "attempts",
        "last_error",
    )
    list_filter = ("partner", ("sent_at", admin.EmptyFieldListFilter))
    search_fields = ("id",)
    date_hierarchy = "last_updated"
    list_select_related = ("partner",)
    actions = ["send_now"]

    @admin.action(description=_("Send the selected unsent CDRs now"))
    def send_now(self, request, queryset):
        pks = list(queryset.filter(sent_at__isnull=True).values_list("pk", flat=True))
        for pk in pks:
            send_cdr.delay(pk)
        self.message_user(
            request, _("%(count)d CDRs queued for sending.") % {"count": len(pks)}, messages.INFO
        )


# Registered by importing them (their own module, for size).
from . import admin_authorizations  # noqa: E402, F401
