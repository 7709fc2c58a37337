"""Disputed sessions in the console: find them, and record an operator's decision.

The decision goes through `transaction_dispute_resolve`, as over the API: the
rules (only an ended session waiting for a decision; energy only with a
correction) live there, and what it refuses is shown as an admin message.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from ..choices import DisputeResolution
from ..selectors import transaction_disputed_q
from ..services.disputes import transaction_dispute_resolve

DISPUTE_WAITING = "waiting"
DISPUTE_RESOLVED = "resolved"


class DisputeFilter(admin.SimpleListFilter):
    title = _("dispute")
    parameter_name = "disputed"

    def lookups(self, request, model_admin):
        return (
            (DISPUTE_WAITING, _("waiting for a decision")),
            (DISPUTE_RESOLVED, _("resolved")),
        )

    def queryset(self, request, queryset):
        if self.value() == DISPUTE_WAITING:
            return queryset.filter(transaction_disputed_q())
        if self.value() == DISPUTE_RESOLVED:
            return queryset.exclude(dispute_resolution="")
        return queryset


class DisputeResolveForm(forms.Form):
    """The decision; `resolution` comes from the button the operator pressed."""

    resolution = forms.ChoiceField(choices=DisputeResolution.choices)
    energy_wh = forms.IntegerField(
        label=_("Corrected energy (Wh)"),
        required=False,
        min_value=0,
        help_text=_("Only to correct: the energy to bill instead of the reported one."),
    )
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Why: kept with the decision."),
    )


class TransactionDisputeMixin:
    """For the transaction admin: the resolve form on a disputed session's page."""

    def has_resolve_permission(self, request, obj=None) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.{get_permission_codename('change', opts)}")

    def get_urls(self):
        urls = [
            path(
                "<path:object_id>/resolve/",
                self.admin_site.admin_view(self.resolve_view),
                name="stations_transaction_resolve",
            )
        ]
        return urls + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        session = self.get_object(request, unquote(object_id))
        context = {**(extra_context or {})}
        if session is not None and session.is_disputed:
            if not self.has_resolve_permission(request, session):
                context["dispute_help"] = _("You may not decide on disputes.")
            elif session.is_open:
                context["dispute_help"] = _(
                    "The session is still running: decide once it has ended."
                )
            else:
                context["dispute_form"] = DisputeResolveForm()
        return super().change_view(request, object_id, form_url, extra_context=context)

    def resolve_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        session = self.get_object(request, unquote(object_id))
        if session is None:
            raise Http404
        if not self.has_resolve_permission(request, session):
            raise PermissionDenied
        form = DisputeResolveForm(request.POST)
        if not form.is_valid():
            for name, errors in form.errors.items():
                label = form.fields[name].label or name
                for error in errors:
                    messages.error(request, f"{label}: {error}")
        else:
            resolution = DisputeResolution(form.cleaned_data["resolution"])
            try:
                transaction_dispute_resolve(
                    transaction_pk=session.pk,
                    resolution=resolution,
                    resolved_by_id=request.user.pk,
                    note=form.cleaned_data["note"],
                    energy_wh=form.cleaned_data["energy_wh"],
                )
            except ValidationError as exc:
                for message in exc.messages:
                    messages.error(request, message)
            else:
                messages.success(
                    request,
                    _("Session %(id)s: %(decision)s.")
                    % {"id": session.pk, "decision": resolution.label},
                )
        return redirect(reverse("admin:stations_transaction_change", args=[session.pk]))
