"""The console's admin site: the product's name, pages grouped by task, every URL kept."""

import inspect
import re

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone, translation

from api_support.testing import make_charge_point
from csms_project.admin_site import GROUPS, ConsoleAdminSite
from stations.models import ChargePoint

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _language_restored():
    """LocaleMiddleware leaves a request's language active in the thread: undo it."""
    language = translation.get_language()
    yield
    translation.activate(language)


GROUP_NAMES = [
    "Network",
    "Sessions",
    "Drivers",
    "Billing",
    "Roaming",
    "Operations and history",
    "Administration",
]


def captions(html: str) -> list[str]:
    """The group names of the app list, in page order."""
    return re.findall(r'<a href="[^"]*" class="section"[^>]*>([^<]+)</a>', html)


def position(html: str, text: str) -> int:
    index = html.find(text)
    assert index >= 0, text
    return index


def test_admin_site_is_the_console():
    assert isinstance(admin.site, ConsoleAdminSite)


def test_index_lists_groups_in_task_order(admin_client):
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert captions(html) == GROUP_NAMES
    # The dashboard link stays first; Auth Token and Axes come last.
    dashboard = position(html, 'id="dashboard-link"')
    charge_points = position(html, reverse("admin:stations_chargepoint_changelist"))
    transactions = position(html, reverse("admin:stations_transaction_changelist"))
    invoices = position(html, reverse("admin:billing_invoice_changelist"))
    journal = position(html, reverse("admin:ocpp_consumer_journalentry_changelist"))
    tokens = position(html, reverse("admin:authtoken_tokenproxy_changelist"))
    axes = position(html, reverse("admin:axes_accessattempt_changelist"))
    assert dashboard < charge_points < transactions < invoices < journal < tokens
    assert journal < axes


def test_groups_list_models_in_the_operators_order(admin_user, rf):
    request = rf.get("/admin/")
    request.user = admin_user
    groups = {app["app_label"]: app for app in admin.site.get_app_list(request)}
    network = [model["object_name"] for model in groups["network"]["models"]]
    assert network[:4] == ["Station", "ChargePoint", "Connector", "Reservation"]
    assert len(network) <= 12  # sessions start near the top of the page
    sessions = [model["object_name"] for model in groups["sessions"]["models"]]
    assert sessions[0] == "Transaction"
    administration = {model["object_name"] for model in groups["administration"]["models"]}
    assert {"User", "Group", "TokenProxy", "AccessAttempt"} <= administration
    # A group links to its place on the index: no group is "current" everywhere.
    assert all("#" in app["app_url"] for app in groups.values())


def test_every_registered_model_is_in_exactly_one_group(admin_user, rf):
    request = rf.get("/admin/")
    request.user = admin_user
    listed = [model["model"] for app in admin.site.get_app_list(request) for model in app["models"]]
    assert sorted(listed, key=str) == sorted(admin.site._registry, key=str)
    assert len(listed) == len(set(listed))
    assert [group.key for group in GROUPS][-1] == "administration"


def test_app_pages_and_changelists_keep_their_urls(admin_client):
    """Django's own URLs: an app's page lists that app; every list opens."""
    response = admin_client.get(reverse("admin:app_list", kwargs={"app_label": "stations"}))
    assert response.status_code == 200
    assert reverse("admin:stations_chargepoint_changelist") in response.content.decode()
    for model in admin.site._registry:
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        assert admin_client.get(url).status_code == 200, url


def test_header_title_and_logo_name_the_product(admin_client):
    html = admin_client.get(reverse("admin:stations_chargepoint_changelist")).content.decode()
    assert "Django administration" not in html
    assert "Django site admin" not in html
    site_name = re.search(r'<div id="site-name">(.*?)</div>', html, re.S).group(1)
    assert "CSMS" in site_name
    assert "console/logo.svg" in site_name
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
    assert title.strip().endswith("| CSMS console")
    assert 'rel="icon"' in html
    # The sidebar lists the same groups.
    assert captions(html) == GROUP_NAMES


def test_login_page_names_the_product(client):
    html = client.get(reverse("admin:login")).content.decode()
    assert "Django administration" not in html
    assert "console/logo.svg" in html
    assert re.search(r"<title>[^<]*CSMS console</title>", html)
    assert "Sign in to the CSMS console" in html


def test_index_title(admin_client):
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert "<title>Operations console | CSMS console</title>" in html


def test_logo_is_served(client):
    response = client.get("/static/console/logo.svg")
    assert response.status_code == 200
    assert b"<svg" in b"".join(response.streaming_content)


def test_language_switch_applies_django_and_project_translations(admin_client):
    """Strings Django translates itself, and ours, follow the console's language switch."""
    charge_point = make_charge_point("CP-TH", is_online=True)
    ChargePoint.objects.filter(pk=charge_point.pk).update(last_heartbeat=timezone.now())
    admin_client.post(reverse("set_language"), {"language": "th", "next": "/admin/"})
    html = admin_client.get(reverse("admin:stations_chargepoint_changelist")).content.decode()
    assert '<html lang="th"' in html
    assert "ตัวกรอง" in html  # Django's "Filter"
    page = reverse("admin:stations_chargepoint_change", args=[charge_point.pk])
    html = admin_client.get(page).content.decode()
    # "(0 minutes ago)": "%(time)s ago" is ours; "0 minutes" is Django's, whose
    # Thai catalog spells it "%d minute" (old): django_strings lists it for ours.
    assert "ที่แล้ว)" in html


def test_django_strings_missing_from_djangos_thai_catalog_are_ours_to_translate():
    from csms_project import django_strings

    # What makemessages reads: the module's text.
    source = inspect.getsource(django_strings)
    for msgid in (
        "Show counts",
        "Start typing to filter…",
        "By %(filter_title)s",
        "%(num)d minute",
    ):
        assert f'"{msgid}"' in source, msgid
