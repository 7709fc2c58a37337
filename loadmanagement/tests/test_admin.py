"""The console's site page: limit, allocation per session, chart and decision log."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from api_support.testing import make_charge_point, make_session
from loadmanagement import services
from loadmanagement.models import AllocationDecision, SiteLimit
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
    }
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert SiteLimit.objects.get().grid_limit_w == 9000
    latest = AllocationDecision.objects.latest("created_at")
    assert latest.capacity_w == 9000
    assert latest.allocated_w <= 9000


def test_the_lists_render(admin_client, site):
    for name in ("sitelimit", "sessionallocation", "chargerfallback", "allocationdecision"):
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
