"""The HTTP pages of monitoring: health, readiness, metrics, dashboard, cluster, languages."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.models import BillingFailure
from monitoring.models import Node, NodeKind
from monitoring.selectors import dashboard_snapshot
from stations.choices import DisputeResolution, SessionStatus
from stations.models import ChargePoint, Connector, Transaction

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/dashboard/"


def make_node(node_id, *, alive=True, kind=NodeKind.ASGI, **fields):
    now = timezone.now()
    seen = now if alive else now - timedelta(hours=2)
    return Node.objects.create(
        node_id=node_id,
        kind=kind,
        hostname="host-a",
        pid=4242,
        started_at=seen,
        last_seen=seen,
        **fields,
    )


@pytest.fixture
def network():
    """Two charge points: one online charging, one offline with a fault."""
    online = ChargePoint.objects.create(
        charge_point_id="CP-ON", is_online=True, connection_channel="specific.abc123!x1"
    )
    offline = ChargePoint.objects.create(charge_point_id="CP-OFF")
    Connector.objects.create(charge_point=online, connector_id=1, status="Charging")
    Connector.objects.create(charge_point=online, connector_id=2, status="Available")
    Connector.objects.create(
        charge_point=offline,
        connector_id=1,
        status="Faulted",
        error_code="GroundFailure",
        info="leak-42",
        status_timestamp=timezone.now(),
    )
    Transaction.objects.create(
        charge_point=online,
        connector=online.connectors.get(connector_id=1),
        id_tag="T1",
        meter_start=0,
        start_timestamp=timezone.now() - timedelta(hours=1),
    )
    make_node("asgi-a", channel_prefix="abc123")
    make_node("asgi-gone", alive=False)
    return online, offline


# --- health and readiness -------------------------------------------------------------


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_each_component_with_latency(client):
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert set(body["components"]) == {"database", "channel_layer", "broker", "workers", "outbox"}
    required = [c for c in body["components"].values() if c["required"]]
    assert len(required) == 3 and all(c["ok"] and c["latency_ms"] >= 0 for c in required)


def test_readyz_names_the_failing_component(client):
    async def broken():
        raise ConnectionError("refused")

    with mock.patch.dict("monitoring.checks.CHECKS", {"broker": broken}):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["broker"]
    assert "refused" in body["components"]["broker"]["error"]


# --- dashboard -------------------------------------------------------------------------


def test_dashboard_shows_counts_grid_and_faults(staff_client, network):
    response = staff_client.get(DASHBOARD)
    assert response.status_code == 200
    summary = response.context["snapshot"]["summary"]
    assert summary["charge_points"] == {"online": 1, "offline": 1, "total": 2}
    assert summary["open_transactions"] == 1
    assert summary["connectors"]["Charging"] == 1 and summary["connectors"]["Faulted"] == 1
    assert summary["nodes"] == {"alive": 1, "dead": 1}
    html = response.text
    assert 'id="count-online">1<' in html
    assert 'id="count-open-transactions">1<' in html
    assert f'data-cp="{network[0].pk}"' in html
    assert 'data-status="Charging"' in html
    assert "host-a:4242" in html  # the node holding CP-ON's socket
    assert "leak-42" in html and "Ground failure" in html  # the fault
    assert "/ws/dashboard/" in html
    assert "monitoring/dashboard.js" in html


def test_dashboard_counts_energy_today(staff_client, network):
    online, _ = network
    now = timezone.now()
    Transaction.objects.create(
        charge_point=online,
        connector=online.connectors.get(connector_id=2),
        id_tag="T2",
        status=SessionStatus.ENDED,
        meter_start=1000,
        start_timestamp=now - timedelta(minutes=30),
        stop_timestamp=now - timedelta(minutes=1),
        meter_stop=13500,
        energy_wh=12500,
    )
    # Figures in doubt are not counted: waiting for a decision, or voided.
    for number, resolution in enumerate(["", DisputeResolution.VOIDED]):
        Transaction.objects.create(
            charge_point=online,
            connector=online.connectors.get(connector_id=2),
            id_tag=f"D{number}",
            status=SessionStatus.ENDED,
            meter_start=0,
            start_timestamp=now - timedelta(minutes=20 + number),
            stop_timestamp=now - timedelta(minutes=2),
            meter_stop=9_000_000,
            energy_wh=9_000_000,
            disputed_at=now,
            dispute_resolution=resolution,
        )
    response = staff_client.get(DASHBOARD)
    assert response.context["snapshot"]["summary"]["energy_today_wh"] == 12500
    assert 'id="count-energy-today">12.5<' in response.text


def test_dashboard_counts_what_waits_for_an_operator_with_links(staff_client, network):
    online, _ = network
    now = timezone.now()
    connector = online.connectors.get(connector_id=2)

    def ended(id_tag, **fields):
        return Transaction.objects.create(
            charge_point=online,
            connector=connector,
            id_tag=id_tag,
            status=SessionStatus.ENDED,
            meter_start=0,
            start_timestamp=now - timedelta(hours=2),
            stop_timestamp=now - timedelta(hours=1),
            energy_wh=100,
            **fields,
        )

    for number in range(3):
        ended(f"W{number}", disputed_at=now, dispute_reason="Register went backwards.")
    ended("DECIDED", disputed_at=now, dispute_resolution=DisputeResolution.ACCEPTED)
    Transaction.objects.create(  # a refused start: never stopped, never running
        charge_point=online,
        connector=connector,
        id_tag="REFUSED",
        status=SessionStatus.REFUSED,
        meter_start=0,
        start_timestamp=now,
    )
    for number, resolved in enumerate([False, False, True]):
        BillingFailure.objects.create(
            transaction=ended(f"F{number}"),
            error="No tariff applies.",
            first_failed_at=now,
            last_failed_at=now,
            resolved_at=now if resolved else None,
        )
    snapshot = dashboard_snapshot()
    summary = snapshot["summary"]
    assert summary["open_transactions"] == 1  # the running one of the network, not the refused
    assert summary["disputed_sessions"] == 3
    assert summary["billing_failures_unresolved"] == 2

    disputed_list = snapshot["links"]["disputed_sessions"]
    failures_list = snapshot["links"]["billing_failures_unresolved"]
    running_list = snapshot["links"]["running_sessions"]
    html = staff_client.get(DASHBOARD).text
    assert 'id="count-disputed-sessions">3<' in html
    assert 'id="count-billing-failures">2<' in html
    assert f'href="{disputed_list.replace("&", "&amp;")}"' in html
    assert f'href="{failures_list}"' in html
    assert f'href="{running_list}"' in html


def test_dashboard_links_list_what_was_counted(admin_client, network):
    online, _ = network
    now = timezone.now()
    connector = online.connectors.get(connector_id=2)
    waiting = Transaction.objects.create(
        charge_point=online,
        connector=connector,
        id_tag="WAIT",
        status=SessionStatus.ENDED,
        meter_start=0,
        start_timestamp=now - timedelta(hours=2),
        stop_timestamp=now - timedelta(hours=1),
        energy_wh=100,
        disputed_at=now,
    )
    failure = BillingFailure.objects.create(
        transaction=waiting, error="x", first_failed_at=now, last_failed_at=now
    )
    BillingFailure.objects.create(
        transaction=Transaction.objects.get(id_tag="T1"),
        error="y",
        first_failed_at=now,
        last_failed_at=now,
        resolved_at=now,
    )
    links = dashboard_snapshot()["links"]

    def listed(url):
        response = admin_client.get(url)
        assert response.status_code == 200
        return [row.pk for row in response.context["cl"].result_list]

    assert listed(links["disputed_sessions"]) == [waiting.pk]
    assert listed(links["billing_failures_unresolved"]) == [failure.pk]
    assert listed(links["running_sessions"]) == [Transaction.objects.get(id_tag="T1").pk]


def test_dashboard_needs_staff(client, django_user_model, network):
    response = client.get(DASHBOARD)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    driver = django_user_model.objects.create_user(username="driver", password="x")
    client.force_login(driver)
    response = client.get(DASHBOARD)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_admin_index_links_the_dashboard_and_the_cluster(staff_client):
    response = staff_client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert DASHBOARD in response.text
    assert reverse("admin:monitoring_node_changelist") in response.text


def test_node_list_shows_live_and_dead_nodes(admin_client, network):
    url = reverse("admin:monitoring_node_changelist")
    response = admin_client.get(url)
    assert response.status_code == 200
    assert {n.node_id for n in response.context["cl"].result_list} == {"asgi-a", "asgi-gone"}
    alive = admin_client.get(url, {"state": "alive"}).context["cl"].result_list
    dead = admin_client.get(url, {"state": "dead"}).context["cl"].result_list
    assert [n.node_id for n in alive] == ["asgi-a"]
    assert [n.node_id for n in dead] == ["asgi-gone"]
    assert admin_client.get(reverse("admin:monitoring_node_add")).status_code == 403


# --- languages -----------------------------------------------------------------------


def test_language_switcher_turns_the_console_thai(staff_client):
    page = staff_client.get(reverse("admin:index"))
    assert 'action="/i18n/setlang/"' in page.text
    response = staff_client.post(
        "/i18n/setlang/", {"language": "th", "next": DASHBOARD}, HTTP_REFERER=DASHBOARD
    )
    assert response.status_code == 302 and response["Location"] == DASHBOARD
    thai = staff_client.get(DASHBOARD)
    assert thai.text.count('lang="th"') == 1
    assert "แดชบอร์ดเครือข่าย" in thai.text  # "Network dashboard"
    assert "ธุรกรรมที่เปิดอยู่" in thai.text  # "open transactions"
    staff_client.post("/i18n/setlang/", {"language": "en", "next": DASHBOARD})
    assert "Network dashboard" in staff_client.get(DASHBOARD).text


def test_language_switcher_is_on_the_login_page(client):
    assert 'name="language"' in client.get("/admin/login/").text


def test_thai_catalog_is_complete_and_compiled():
    """Every project string extracted so far has a Thai translation, and the .mo is built."""
    import shutil
    import subprocess

    from csms_project.testing import BASE_DIR

    po = BASE_DIR / "locale" / "th" / "LC_MESSAGES" / "django.po"
    assert po.with_suffix(".mo").is_file()
    if shutil.which("msgfmt") is None:
        pytest.skip("gettext's msgfmt is not installed")
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(po)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "untranslated" not in result.stderr and "fuzzy" not in result.stderr, result.stderr
