"""Console pages: firmware images, received files, campaigns with progress and report."""

from __future__ import annotations

import csv

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from monitoring.admin_base import ReadOnlyAdminMixin, ReadOnlyModelAdmin
from stations.models import ChargePoint

from . import selectors, services
from .models import Campaign, CampaignTarget, FirmwareImage, UploadedFile


@admin.register(FirmwareImage)
class FirmwareImageAdmin(admin.ModelAdmin):
    list_display = ("version", "vendor", "model", "filename", "size", "sha256", "created_at")
    search_fields = ("version", "vendor", "model", "sha256")
    readonly_fields = ("size", "sha256", "md5", "uploaded_by", "created_at")
    fields = (
        "file",
        "version",
        "vendor",
        "model",
        "signing_certificate",
        "signature",
        "notes",
        *readonly_fields,
    )

    def save_model(self, request, obj, form, change):
        if not change:
            obj.uploaded_by = request.user
        super().save_model(request, obj, form, change)
        if "file" in form.changed_data or not obj.sha256:
            services.firmware_image_checksums(image=obj)


@admin.register(UploadedFile)
class UploadedFileAdmin(ReadOnlyModelAdmin):
    """Diagnostics and logs charge points sent; staff download them here."""

    deletable = True
    list_display = ("charge_point", "kind", "original_name", "size", "received_at", "download")
    list_filter = ("kind", ("charge_point", admin.RelatedOnlyFieldListFilter))
    search_fields = ("charge_point__charge_point_id", "original_name", "sha256")
    readonly_fields = ("download",)

    @admin.display(description=_("download"))
    def download(self, obj):
        url = reverse("admin:firmware_uploadedfile_download", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Download"))

    def get_urls(self):
        view = self.admin_site.admin_view(self.download_view)
        return [
            path("<int:pk>/download/", view, name="firmware_uploadedfile_download")
        ] + super().get_urls()

    def download_view(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        upload = get_object_or_404(UploadedFile, pk=pk)
        name = upload.original_name.rsplit("/", 1)[-1] or upload.file.name.rsplit("/", 1)[-1]
        return FileResponse(upload.file.open("rb"), as_attachment=True, filename=name)


class CampaignForm(forms.ModelForm):
    charge_points = forms.ModelMultipleChoiceField(
        queryset=ChargePoint.objects.order_by("charge_point_id"),
        widget=FilteredSelectMultiple(_("charge points"), is_stacked=False),
        label=_("charge points"),
    )

    class Meta:
        model = Campaign
        fields = ("name", "image", "max_parallel", "max_attempts", "target_timeout_minutes")


class CampaignTargetInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CampaignTarget
    extra = 0
    can_delete = False
    fields = ("charge_point", "state", "last_status", "attempts", "sent_at", "progressed_at")
    readonly_fields = fields


@admin.action(description=_("Pause (no new wave)"), permissions=["change"])
def pause_campaigns(modeladmin, request, queryset):
    done = sum(
        services.campaign_pause(campaign_pk=pk) for pk in queryset.values_list("pk", flat=True)
    )
    messages.info(request, _("%(n)d campaign(s) paused.") % {"n": done})


@admin.action(description=_("Resume"), permissions=["change"])
def resume_campaigns(modeladmin, request, queryset):
    done = sum(
        services.campaign_resume(campaign_pk=pk) for pk in queryset.values_list("pk", flat=True)
    )
    messages.info(request, _("%(n)d campaign(s) resumed.") % {"n": done})


@admin.action(description=_("Abort (skip charge points not yet sent)"), permissions=["change"])
def abort_campaigns(modeladmin, request, queryset):
    done = sum(
        services.campaign_abort(campaign_pk=pk) for pk in queryset.values_list("pk", flat=True)
    )
    messages.warning(request, _("%(n)d campaign(s) aborted.") % {"n": done})


REPORT_COLUMNS = ("campaign", "image", "charge_point", "ocpp_version", "state", "last_status")
REPORT_COLUMNS += ("attempts", "sent_at", "progressed_at")


@admin.action(description=_("Report (CSV)"), permissions=["view"])
def campaign_report_csv(modeladmin, request, queryset):
    """One line per target: what the operator hands on after a rollout."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="firmware-campaigns.csv"'
    writer = csv.writer(response)
    writer.writerow(REPORT_COLUMNS)
    targets = CampaignTarget.objects.filter(campaign__in=queryset).select_related(
        "campaign__image", "charge_point"
    )
    for target in targets:
        writer.writerow(
            [
                target.campaign.name,
                target.campaign.image.version,
                target.charge_point.charge_point_id,
                target.charge_point.ocpp_version,
                target.state,
                target.last_status,
                target.attempts,
                target.sent_at.isoformat() if target.sent_at else "",
                target.progressed_at.isoformat() if target.progressed_at else "",
            ]
        )
    return response


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    """Create a campaign with its charge points; then watch it and pause, resume or abort it."""

    form = CampaignForm
    list_display = ("name", "image", "status", "max_parallel", "progress", "created_at")
    list_filter = ("status",)
    actions = [pause_campaigns, resume_campaigns, abort_campaigns, campaign_report_csv]
    inlines = (CampaignTargetInline,)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:  # The targets of a campaign are fixed once it exists.
            return forms.modelform_factory(
                Campaign, fields=("name", "max_parallel", "max_attempts", "target_timeout_minutes")
            )
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            fields = ["name", "image", "charge_points", "max_parallel", "max_attempts"]
            return [(None, {"fields": [*fields, "target_timeout_minutes"]})]
        fields = ["name", "image", "status", "progress", "max_parallel", "max_attempts"]
        return [(None, {"fields": [*fields, "target_timeout_minutes", "finished_at"]})]

    def get_readonly_fields(self, request, obj=None):
        return ("image", "status", "progress", "finished_at") if obj else ()

    def get_inlines(self, request, obj):
        return self.inlines if obj else ()

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        created = services.campaign_create(
            name=obj.name,
            image_pk=obj.image_id,
            charge_point_pks=[cp.pk for cp in form.cleaned_data["charge_points"]],
            max_parallel=obj.max_parallel,
            max_attempts=obj.max_attempts,
            target_timeout_minutes=obj.target_timeout_minutes,
            created_by_pk=request.user.pk,
        )
        obj.pk = created.pk
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        if change:
            super().save_related(request, form, formsets, change)

    @admin.display(description=_("progress"))
    def progress(self, obj):
        counts = selectors.campaign_progress(campaign_pk=obj.pk)
        return format_html_join(", ", "{}: {}", ((k, v) for k, v in counts.items() if v))
