"""The transaction chart (server-rendered SVG) and the charge point badges."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from xml.etree import ElementTree

import pytest
from django.urls import reverse
from django.utils import timezone

from monitoring.charts import nice_ticks, transaction_chart_data, transaction_chart_svg
from monitoring.models import Node, NodeKind
from stations.models import ChargePoint, Connector, MeterValue, Transaction

pytestmark = pytest.mark.django_db

START = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def session():
    cp = ChargePoint.objects.create(charge_point_id="CP-CHART")
    connector = Connector.objects.create(charge_point=cp, connector_id=1, status="Charging")
    return Transaction.objects.create(
        charge_point=cp, connector=connector, id_tag="T", meter_start=10_000, start_timestamp=START
    )


def reading(tx, minutes, value, measurand="Energy.Active.Import.Register", unit="Wh"):
    MeterValue.objects.create(
        charge_point=tx.charge_point,
        connector=tx.connector,
        transaction=tx,
        timestamp=START + timedelta(minutes=minutes),
        value=str(value),
        numeric_value=Decimal(str(value)),
        measurand=measurand,
        unit=unit,
        context="Sample.Periodic",
        location="Outlet",
        format="Raw",
    )


def polyline_points(svg: str, css: str) -> list[tuple[float, float]]:
    root = ElementTree.fromstring(svg)
    (line,) = [e for e in root.iter() if e.tag.endswith("polyline") and e.get("class") == css]
    return [tuple(map(float, pair.split(","))) for pair in line.get("points").split()]


def test_nice_ticks():
    assert nice_ticks(9.3) == [0, 2, 4, 6, 8, 10]
    assert nice_ticks(22) == [0, 5, 10, 15, 20, 25]
    assert nice_ticks(0) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(11.4, intervals=3) == [0, 5, 10, 15]  # shares the other axis' grid


def test_energy_from_the_register_and_power_derived_from_it(session):
    reading(session, 30, 15_500)  # 5.5 kWh in 30 min: 11 kW
    reading(session, 60, 21_000)  # 5.5 kWh more: 11 kW
    data = transaction_chart_data(transaction=session)
    assert [(round((at - START).total_seconds() / 60), kwh) for at, kwh in data.energy_kwh] == [
        (0, 0.0),
        (30, 5.5),
        (60, 11.0),
    ]
    assert data.power_derived
    assert {round(kw, 3) for _at, kw in data.power_kw} == {11.0}


def test_measured_power_in_watts_is_shown_in_kilowatts(session):
    reading(session, 10, 12_000)
    reading(session, 10, 7400, measurand="Power.Active.Import", unit="W")
    reading(session, 20, 3700, measurand="Power.Active.Import", unit="W")
    data = transaction_chart_data(transaction=session)
    assert not data.power_derived
    assert [kw for _at, kw in data.power_kw] == [7.4, 3.7]


def test_stopped_session_ends_at_its_billed_energy(session):
    reading(session, 30, 14_000)
    Transaction.objects.filter(pk=session.pk).update(
        stop_timestamp=START + timedelta(hours=1), meter_stop=18_000, energy_wh=8000
    )
    session.refresh_from_db()
    data = transaction_chart_data(transaction=session)
    assert data.energy_kwh[-1] == (START + timedelta(hours=1), 8.0)


def test_svg_draws_energy_rising_left_to_right(session):
    reading(session, 30, 15_000)
    reading(session, 60, 20_000)
    svg = str(transaction_chart_svg(transaction=session))
    energy = polyline_points(svg, "energy")
    assert [x for x, _y in energy] == sorted(x for x, _y in energy)
    assert energy[0][1] > energy[-1][1]  # SVG y grows downwards: the line rises
    assert polyline_points(svg, "power")
    assert all(30 <= y <= 250 for _x, y in energy)  # inside the plot area
    assert "Energy (kWh)" in svg and "Power (kW, from energy)" in svg


def test_svg_without_readings_says_so(session):
    svg = str(transaction_chart_svg(transaction=session))
    assert "No meter values yet." in svg
    assert "<polyline" not in svg


def test_transaction_page_shows_the_chart(admin_client, session):
    reading(session, 15, 12_500)
    response = admin_client.get(reverse("admin:stations_transaction_change", args=[session.pk]))
    assert response.status_code == 200
    assert re.search(r'<svg class="meter-chart"[^>]*role="img"', response.text)
    assert 'class="energy"' in response.text


def test_charge_point_page_shows_badges_heartbeat_and_node(admin_client):
    now = timezone.now()
    node = Node.objects.create(
        node_id="asgi-box-1", kind=NodeKind.ASGI, hostname="box", pid=321,
        channel_prefix="feed42", started_at=now, last_seen=now,
    )  # fmt: skip
    cp = ChargePoint.objects.create(
        charge_point_id="CP-BADGE", is_online=True, connection_channel="specific.feed42!abc",
        last_heartbeat=now - timedelta(minutes=3),
    )  # fmt: skip
    Connector.objects.create(
        charge_point=cp, connector_id=1, status="Faulted", error_code="GroundFailure"
    )
    Connector.objects.create(charge_point=cp, connector_id=2, status="Charging")
    response = admin_client.get(reverse("admin:stations_chargepoint_change", args=[cp.pk]))
    html = response.text
    assert 'class="badge badge-online"' in html
    assert 'data-connector="1" data-status="Faulted"' in html and "Ground failure" in html
    assert 'data-connector="2" data-status="Charging"' in html
    assert "3\xa0minutes ago" in html
    assert reverse("admin:monitoring_node_change", args=[node.pk]) in html
    assert "box:321" in html


def test_offline_charge_point_has_no_node(admin_client):
    cp = ChargePoint.objects.create(charge_point_id="CP-DARK")
    html = admin_client.get(reverse("admin:stations_chargepoint_change", args=[cp.pk])).text
    assert 'class="badge badge-offline"' in html
    assert "no heartbeat yet" in html
