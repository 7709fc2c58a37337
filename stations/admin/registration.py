"""The console's side of an operator's decision on a charge point: accept or reject.

Unknown charge points register themselves as Pending and wait for one click:
the changelist says how many wait (with a link to them), the "Accept" and
"Reject" actions decide for a selection, and the change page has both as
buttons. Each decision goes through `chargepoint_registration_set`, then the
command path tells a connected charge point (its consumer re-reads the
registration; a TriggerMessage(BootNotification) makes it boot now).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ocpp_consumer.commands import Requester
from ocpp_consumer.commands.registration import RegistrationNotice, registrations_changed_sync

from ..choices import RegistrationStatus
from ..services.registration import chargepoint_registration_set, chargepoints_awaiting_acceptance

DECISIONS = {"accept": RegistrationStatus.ACCEPTED, "reject": RegistrationStatus.REJECTED}


def notice_text(notice: RegistrationNotice | None) -> str:
    """What telling the charge point achieved, in one line for the operator."""
    if notice is None:
        return _("not connected: it learns the decision when it next boots")
    if notice.error is not None:
        return _("asking it to boot again failed (%(error)s); it learns at its next boot") % {
            "error": notice.error
        }
    answer = (notice.trigger.response or {}).get("status", notice.trigger.status)
    return _("asked to boot again now (TriggerMessage: %(answer)s)") % {"answer": answer}


def registration_decide(request, *, charge_point_pks: list[int], status: str) -> None:
    """Record the decision for each charge point, then tell the connected ones."""
    with transaction.atomic():
        decided = [
            chargepoint_registration_set(charge_point_pk=pk, status=status).charge_point_id
            for pk in charge_point_pks
        ]
    registration_report(request, charge_point_ids=decided, status=status)


def registration_report(request, *, charge_point_ids: list[str], status: str) -> None:
    """Tell the connected charge points of a decision recorded; one message each."""
    notices = registrations_changed_sync(
        charge_point_ids=charge_point_ids,
        requester=Requester(user_id=request.user.pk),
        source="admin",
    )
    label = RegistrationStatus(status).label
    for charge_point_id, notice in notices:
        level = messages.WARNING if notice is not None and notice.error else messages.SUCCESS
        messages.add_message(request, level, f"{charge_point_id}: {label}; {notice_text(notice)}")


@admin.action(description=gettext_lazy("Accept: put in service"), permissions=("change",))
def accept_selected(modeladmin, request, queryset):
    pks = list(queryset.values_list("pk", flat=True))
    registration_decide(request, charge_point_pks=pks, status=RegistrationStatus.ACCEPTED)


@admin.action(description=gettext_lazy("Reject: refuse its messages"), permissions=("change",))
def reject_selected(modeladmin, request, queryset):
    pks = list(queryset.values_list("pk", flat=True))
    registration_decide(request, charge_point_pks=pks, status=RegistrationStatus.REJECTED)


def awaiting_banner() -> str:
    """A link to the Pending charge points, saying how many wait; "" when none does."""
    count = chargepoints_awaiting_acceptance().count()
    if not count:
        return ""
    url = reverse("admin:stations_chargepoint_changelist")
    return format_html(
        '<a href="{}?registration_status__exact={}">{}</a>',
        url,
        RegistrationStatus.PENDING,
        _("%(count)d charge point(s) await acceptance") % {"count": count},
    )


class ChargePointRegistrationMixin:
    """Accept/Reject: the banner, the column, the bulk actions and the change page buttons."""

    def get_urls(self):
        urls = [
            path(
                "<path:object_id>/registration/<str:decision>/",
                self.admin_site.admin_view(self.registration_view),
                name="stations_chargepoint_registration",
            )
        ]
        return urls + super().get_urls()

    def registration_view(self, request, object_id, decision):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        charge_point = self.get_object(request, object_id)
        if charge_point is None or decision not in DECISIONS:
            raise Http404
        if not self.has_change_permission(request, charge_point):
            raise PermissionDenied
        registration_decide(request, charge_point_pks=[charge_point.pk], status=DECISIONS[decision])
        return redirect(reverse("admin:stations_chargepoint_change", args=[charge_point.pk]))

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "awaiting_acceptance": awaiting_banner()}
        return super().changelist_view(request, extra_context=extra_context)

    @admin.display(description=gettext_lazy("registration"), ordering="registration_status")
    def registration(self, obj):
        if obj.registration_status == RegistrationStatus.PENDING:
            return format_html(
                '<strong class="registration-pending">{}</strong>',
                _("Pending: awaiting acceptance"),
            )
        return obj.get_registration_status_display()

    def save_model(self, request, obj, form, change):
        """A status chosen in the form is a decision too: the service records it."""
        status = obj.registration_status
        decided = change and "registration_status" in form.changed_data
        if decided:
            obj.registration_status = form.initial["registration_status"]
        super().save_model(request, obj, form, change)
        if decided:
            chargepoint_registration_set(charge_point_pk=obj.pk, status=status)
            obj.registration_status = status
            # After the commit: the consumer and the charge point's boot read it.
            transaction.on_commit(
                lambda: registration_report(
                    request, charge_point_ids=[obj.charge_point_id], status=status
                )
            )
