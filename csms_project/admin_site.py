"""The operator console's admin site: the product's name, and pages grouped by task.

Django's admin lists apps alphabetically (Auth Token and Axes first, charge
points far down). An operator thinks in tasks instead: the network, the
sessions on it, the drivers, the money, then history, then administration.
The console index and the navigation sidebar list these groups in that order;
every admin URL (per app and per model) stays what Django makes it.

The site replaces `django.contrib.admin` in INSTALLED_APPS through
`ConsoleAdminConfig`, so that `admin.site` (which every app registers with)
is this site.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.sites import AdminSite
from django.core.signals import setting_changed
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from monitoring.calendars import calendar_apply, intl_calendar


@dataclass(frozen=True)
class Group:
    """A console section: its models, in this order, then unlisted ones of its apps."""

    key: str
    name: str
    models: tuple[str, ...] = ()
    apps: tuple[str, ...] = ()


# The order operators work in. A model is "app_label.model_name"; a model
# registered later and not listed here lands in the group of its app (or in
# Administration), after the listed ones.
GROUPS = (
    Group(
        "network",
        _("Network"),
        models=(
            "stations.station",
            "stations.chargepoint",
            "stations.connector",
            "stations.reservation",
            "stations.chargingprofile",
            "stations.compatibilityprofile",
            "loadmanagement.sitelimit",
            "firmware.firmwareimage",
            "firmware.campaign",
            "devicemodel.variableattribute",
            "devicemodel.displaymessage",
        ),
        apps=("stations", "firmware"),
    ),
    Group(
        "sessions",
        _("Sessions"),
        models=(
            "stations.transaction",
            "stations.metervalue",
            "stations.orphanstoptransaction",
            "stations.evchargingneeds",
            "stations.externalcharginglimit",
            "stations.compositeschedule",
            "loadmanagement.sessionallocation",
        ),
    ),
    Group(
        "drivers",
        _("Drivers"),
        models=(
            "drivers.driver",
            "drivers.idtag",
            "drivers.localauthlist",
            "drivers.contractcertificate",
        ),
        apps=("drivers",),
    ),
    Group(
        "billing",
        _("Billing"),
        models=(
            "billing.tariff",
            "billing.taggroup",
            "billing.invoice",
            "billing.invoiceline",
            "billing.billingfailure",
            "billing.stationenergyhour",
            "billing.invoicesequence",
        ),
        apps=("billing",),
    ),
    Group(
        "roaming",
        _("Roaming"),
        models=(
            "roaming.party",
            "roaming.roamingtoken",
            "roaming.cdr",
            "roaming.exchange",
            "roaming.tariffversion",
        ),
        apps=("roaming",),
    ),
    # What charge points reported and what the system did: looked up, not worked in.
    Group(
        "history",
        _("Operations and history"),
        models=(
            "ocpp_consumer.command",
            "ocpp_consumer.journalentry",
            "stations.connectorstatuslog",
            "stations.securityevent",
            "devicemodel.deviceevent",
            "devicemodel.bootrecord",
            "devicemodel.resetrecord",
            "devicemodel.devicereport",
            "devicemodel.monitoringreport",
            "devicemodel.variablemonitor",
            "devicemodel.networkprofile",
            "devicemodel.customerinformation",
            "stations.datatransferrecord",
            "firmware.uploadedfile",
            "events.outboxmessage",
            "loadmanagement.allocationdecision",
            "loadmanagement.chargerfallback",
            "loadmanagement.chargermaxprofile",
            "loadmanagement.profileclearance",
            "monitoring.node",
        ),
        apps=("ocpp_consumer", "devicemodel", "events", "monitoring"),
    ),
    Group(
        "administration",
        _("Administration"),
        models=("drivers.user", "auth.group", "authtoken.tokenproxy"),
    ),
)
FALLBACK_GROUP = "administration"
# Records other packages keep and register with an editable admin (Save
# buttons on pages with nothing to save): shown read-only. Deleting stays
# possible (deleting an access attempt unlocks a locked-out user).
THIRD_PARTY_RECORDS = ("axes.accessattempt", "axes.accesslog", "axes.accessfailurelog")


def _group_of(model_key: str) -> str:
    for group in GROUPS:
        if model_key in group.models:
            return group.key
    app_label = model_key.partition(".")[0]
    for group in GROUPS:
        if app_label in group.apps:
            return group.key
    return FALLBACK_GROUP


def _position(group: Group, model: dict) -> tuple:
    key = model["_key"]
    listed = group.models.index(key) if key in group.models else len(group.models)
    return (listed, str(model["name"]).lower())


class ConsoleAdminSite(AdminSite):
    # The product's name (README), in one place: header, browser title, login page.
    site_header = _("CSMS")
    site_title = _("CSMS console")
    index_title = _("Operations console")

    def each_context(self, request):
        context = super().each_context(request)
        # base_site.html puts it on <body data-calendar>, for the pages' scripts.
        context["console_calendar"] = intl_calendar(settings.CONSOLE_CALENDAR)
        return context

    def get_app_list(self, request, app_label=None):
        """The index and the sidebar: task groups; an app's own page: that app, as Django has it."""
        if app_label is not None:
            return super().get_app_list(request, app_label)
        grouped: dict[str, list[dict]] = {group.key: [] for group in GROUPS}
        for app in self._build_app_dict(request).values():
            for model in app["models"]:
                key = f"{app['app_label']}.{model['object_name'].lower()}"
                model["_key"] = key
                grouped[_group_of(key)].append(model)
        index_url = reverse("admin:index", current_app=self.name)
        app_list = []
        for group in GROUPS:
            models = sorted(grouped[group.key], key=lambda model, g=group: _position(g, model))
            if not models:
                continue
            first = models[0]["object_name"].lower()
            app_list.append(
                {
                    "name": group.name,
                    "app_label": group.key,
                    # An anchor on the index (the first model's row): a group has
                    # no page of its own, and a URL without "#" would be
                    # "contained" in every console path and mark every group current.
                    "app_url": f"{index_url}#{group.key}-{first}",
                    "has_module_perms": True,
                    "models": models,
                }
            )
        return app_list


class ConsoleAdminConfig(AdminConfig):
    """`django.contrib.admin` with the console's site as `admin.site`."""

    default_site = "csms_project.admin_site.ConsoleAdminSite"

    def ready(self):
        super().ready()
        _records_read_only(self.module.site)
        calendar_apply(settings.CONSOLE_CALENDAR)
        setting_changed.connect(_calendar_changed, dispatch_uid="console-calendar")


def _records_read_only(site) -> None:
    from monitoring.admin_base import ReadOnlyAdminMixin

    for label in THIRD_PARTY_RECORDS:
        try:
            model = apps.get_model(label)
        except LookupError:  # the package is not installed
            continue
        model_admin = site._registry.get(model)
        if model_admin is None or isinstance(model_admin, ReadOnlyAdminMixin):
            continue
        read_only = type(
            type(model_admin).__name__,
            (ReadOnlyAdminMixin, type(model_admin)),
            {"deletable": True, "__module__": __name__},
        )
        site.unregister(model)
        site.register(model, read_only)


def _calendar_changed(*, setting, value, **kwargs):
    """Tests that override CONSOLE_CALENDAR see its effect (and its end)."""
    if setting == "CONSOLE_CALENDAR":
        calendar_apply(value if value is not None else "gregorian")
