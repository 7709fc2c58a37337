"""The console's site page: limit, allocation per session, chart and decision log."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from api_support.testing import make_charge_point, make_session
from loadmanagement import services
from loadmanagement.models import (
    AllocationDecision,
    ProfileClearance,
    SessionAllocation,
    SiteLimit,
)
from stations.models import Station

pytestmark = pytest.mark.django_db


@pytest.fixture
def site():
    station = Station.objects.create(name="Console depot")
    cp = make_charge_point("ADM-1", station=station, connectors={1: "Charging", 2: "Charging"})
    cp.connectors.update(max_power_w=11_040)
    make_session(cp, "A", connector_id=1, start=timezone.now() - timedelta(minutes=30))
    make_session(cp, "B", connector_id=2, start=timezone.now() - timedelta(minutes=20))
    services.site_limit_set(station_id=station.pk, grid_limit_w=12_000)
    return station.site_limit


def test_the_site_page_shows_the_allocation_chart_and_decisions(admin_client, site):
    response = admin_client.get(reverse("admin:loadmanagement_sitelimit_change", args=[site.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert '<svg class="site-chart"' in page
    assert 'class="allocated"' in page and 'class="limit"' in page
    assert "ADM-1 / 1" in page and "ADM-1 / 2" in page
    assert "limit_changed" in page
    assert "2 charging, 0 waiting" in page


def test_an_operator_sets_a_limit_in_the_console_and_the_site_is_recomputed(admin_client, site):
    url = reverse("admin:loadmanagement_sitelimit_change", args=[site.pk])
    form = {
        "station": site.station_id,
        "enabled": "on",
        "grid_limit_w": "9000",
        "voltage_v": "230",
        "safety_margin_percent": "0",
        "min_current_a": "6.0",
        "default_charger_max_w": "22080",
        "schedule-TOTAL_FORMS": "0",
        "schedule-INITIAL_FORMS": "0",
        "priorities-TOTAL_FORMS": "0",
        "priorities-INITIAL_FORMS": "0",
        **members_form(site),
    }
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert SiteLimit.objects.get().grid_limit_w == 9000
    latest = AllocationDecision.objects.latest("created_at")
    assert latest.capacity_w == 9000
    assert latest.allocated_w <= 9000


def members_form(site, *more_station_ids, delete=()):
    """The inline of the stations sharing the connection: the present ones, and more."""
    members = list(site.members.order_by("added_at", "pk"))
    form = {
        "members-TOTAL_FORMS": str(len(members) + len(more_station_ids)),
        "members-INITIAL_FORMS": str(len(members)),
    }
    for index, member in enumerate(members):
        form[f"members-{index}-id"] = str(member.pk)
        form[f"members-{index}-site"] = str(site.pk)
        form[f"members-{index}-station"] = str(member.station_id)
        if member.station_id in delete:
            form[f"members-{index}-DELETE"] = "on"
    for offset, station_id in enumerate(more_station_ids, len(members)):
        form[f"members-{offset}-site"] = str(site.pk)
        form[f"members-{offset}-station"] = str(station_id)
    return form


def test_the_lists_render(admin_client, site):
    for name in (
        "sitelimit",
        "sessionallocation",
        "chargerfallback",
        "chargermaxprofile",
        "profileclearance",
        "connectorphase",
        "allocationdecision",
    ):
        response = admin_client.get(reverse(f"admin:loadmanagement_{name}_changelist"))
        assert response.status_code == 200, name


def test_the_live_view_refreshes_itself_and_shows_the_chart(admin_client, site):
    change = admin_client.get(reverse("admin:loadmanagement_sitelimit_change", args=[site.pk]))
    live_url = reverse("admin:loadmanagement_sitelimit_live", args=[site.pk])
    assert live_url in change.content.decode()
    page = admin_client.get(live_url).content.decode()
    assert '<meta http-equiv="refresh" content="30">' in page
    assert '<svg class="site-chart"' in page and "ADM-1 / 2" in page
    assert (
        admin_client.get(reverse("admin:loadmanagement_sitelimit_live", args=[999])).status_code
        == 404
    )


def change_form(site, **fields):
    return {
        "enabled": "on",
        "grid_limit_w": str(site.grid_limit_w),
        "voltage_v": "230",
        "safety_margin_percent": "5",
        "min_current_a": "6.0",
        "default_charger_max_w": "22080",
        "schedule-TOTAL_FORMS": "0",
        "schedule-INITIAL_FORMS": "0",
        "priorities-TOTAL_FORMS": "0",
        "priorities-INITIAL_FORMS": "0",
        **fields,
    }


def test_an_operator_groups_stations_on_the_site_page(admin_client, site):
    annex = Station.objects.create(name="Console annex")
    cp = make_charge_point("ADM-2", station=annex, connectors={1: "Charging"})
    cp.connectors.update(max_power_w=11_040)
    make_session(cp, "C", connector_id=1, start=timezone.now() - timedelta(minutes=10))
    url = reverse("admin:loadmanagement_sitelimit_change", args=[site.pk])
    response = admin_client.post(url, change_form(site, **members_form(site, annex.pk)))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert list(site.members.values_list("station_id", flat=True)) == [site.station_id, annex.pk]
    page = admin_client.get(url).content.decode()
    assert "ADM-2 / 1" in page  # the annex's session is shared the site's power
    assert SessionAllocation.objects.filter(site=site).count() == 3
    # The annex leaves: the profile its charger took is to be cleared.
    SessionAllocation.objects.update(sent_at=timezone.now())
    response = admin_client.post(url, change_form(site, **members_form(site, delete=(annex.pk,))))
    assert response.status_code == 302
    assert list(site.members.values_list("station_id", flat=True)) == [site.station_id]
    assert ProfileClearance.objects.get(charge_point=cp).profile_ids == [70_001]
    assert SessionAllocation.objects.filter(site=site).count() == 2


def test_a_station_of_another_site_is_refused_on_the_site_page(admin_client, site):
    other = Station.objects.create(name="Elsewhere")
    services.site_limit_set(station_id=other.pk, grid_limit_w=5_000)
    url = reverse("admin:loadmanagement_sitelimit_change", args=[site.pk])
    response = admin_client.post(url, change_form(site, **members_form(site, other.pk)))
    assert response.status_code == 200
    assert "This station has a site of its own" in response.content.decode()
    assert site.members.count() == 1


def test_deleting_a_site_in_the_console_clears_its_profiles(admin_client, site):
    SessionAllocation.objects.update(sent_at=timezone.now())
    url = reverse("admin:loadmanagement_sitelimit_delete", args=[site.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not SiteLimit.objects.exists()
    cleared = ProfileClearance.objects.get()
    assert cleared.reason == "site_deleted" and cleared.profile_ids == [70_001, 70_002]
