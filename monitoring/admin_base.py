"""Read-only console pages, defined once for every app's admin.

What charge points report and what the system writes (history, invoices,
the node registry) is shown to operators, never added or edited by hand.
This module imports nothing but Django, so any admin module can use it
without pulling in another app's console.
"""

from django.contrib import admin

# submit_row's switches (django.contrib.admin.templatetags.admin_modify).
NO_SAVE_BUTTONS = {
    "show_save": False,
    "show_save_and_continue": False,
    "show_save_and_add_another": False,
}


def all_field_names(model) -> tuple[str, ...]:
    return tuple(field.name for field in model._meta.concrete_fields)


class ReadOnlyAdminMixin:
    """Mix into a ModelAdmin or an inline: operators look; nobody adds or edits.

    Nobody deletes either, unless `deletable` is set (e.g. to clear out rows
    that no longer matter); then the usual delete permission applies.
    """

    deletable = False
    save_as = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return self.deletable and super().has_delete_permission(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Django hides Save when nothing is editable, but shows it again as
        # soon as one inline counts as editable: on a page nobody edits, no
        # "Save", "Save and continue editing" or "Save and add another", ever.
        extra_context = {**(extra_context or {}), **NO_SAVE_BUTTONS}
        return super().change_view(request, object_id, form_url, extra_context=extra_context)


class ReadOnlyModelAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """A read-only page: every stored field, plus the admin's own readonly_fields."""

    def get_readonly_fields(self, request, obj=None):
        return all_field_names(self.model) + tuple(self.readonly_fields)


class ReadOnlyInline(ReadOnlyAdminMixin):
    """Mix into an inline to list related rows, each linked to its own page."""

    extra = 0
    can_delete = False
    show_change_link = True
