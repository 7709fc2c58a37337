"""Django admin strings that Django's own Thai catalog leaves untranslated.

The console shows them on every page ("Show counts", "Start typing to
filter…", "By connection"). Django looks a string up in the project's
catalog (LOCALE_PATHS) before its own, so translating them in
locale/th/LC_MESSAGES/django.po is enough. Listed here so that
`manage.py makemessages` puts them into that catalog; nothing imports this
module. Django 5.2's Thai catalog already translates the rest of what the
console shows from Django ("Close", "Filter", "0 minutes", ...).
"""

from django.utils.translation import gettext_noop, ngettext_lazy

DJANGO_ADMIN_STRINGS = (
    # Lists and their filters.
    gettext_noop("Show counts"),
    gettext_noop("Hide counts"),
    gettext_noop("Clear all filters"),
    gettext_noop("By %(filter_title)s"),
    gettext_noop("Empty"),
    gettext_noop("Not empty"),
    # The navigation sidebar and the page frame.
    gettext_noop("Start typing to filter…"),
    gettext_noop("Filter navigation items"),
    gettext_noop("Toggle navigation"),
    gettext_noop("Sidebar"),
    gettext_noop("Breadcrumbs"),
    gettext_noop("Skip to main content"),
    gettext_noop("Toggle theme (current theme: auto)"),
    gettext_noop("Toggle theme (current theme: light)"),
    gettext_noop("Toggle theme (current theme: dark)"),
    # The index and its app list.
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
    gettext_noop("Added:"),
    gettext_noop("Changed:"),
    gettext_noop("Deleted:"),
    gettext_noop("You don’t have permission to view or edit anything."),
    # Forms, login and errors.
    gettext_noop("Error:"),
    gettext_noop("Yes, I’m sure"),
    gettext_noop("Forgotten your login credentials?"),
    gettext_noop("Set password"),
    gettext_noop("Enable password-based authentication"),
    gettext_noop("Disable password-based authentication"),
    gettext_noop(
        "This object doesn’t have a change history. It probably wasn’t added via this admin site."
    ),
    gettext_noop("We’re sorry, but the requested page could not be found."),
    # django.utils.timesince (the "(3 minutes ago)" of the console's badges):
    # Django's Thai catalog has these under their old "%d minute" spelling.
    ngettext_lazy("%(num)d year", "%(num)d years", "num"),
    ngettext_lazy("%(num)d month", "%(num)d months", "num"),
    ngettext_lazy("%(num)d week", "%(num)d weeks", "num"),
    ngettext_lazy("%(num)d day", "%(num)d days", "num"),
    ngettext_lazy("%(num)d hour", "%(num)d hours", "num"),
    ngettext_lazy("%(num)d minute", "%(num)d minutes", "num"),
)
