"""The dashboard at network scale: cheap query shapes, the same answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django import forms
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.reports import energy_delivered_since_wh, energy_delivered_wh
from monitoring.grid import GridForm, GridQuery, grid_page
from stations.choices import ConnectorStatus, DisputeResolution, SessionStatus
from stations.models import ChargePoint, Connector, Station, Transaction

pytestmark = pytest.mark.django_db


def _plain_select(form: GridForm) -> str:
    """The station field as Django's template-rendered Select writes it."""
    field = form.fields["station"]
    field.widget = forms.Select(choices=field.choices)
    html = str(form["station"])
    return "\n".join(line for line in html.splitlines() if line.strip())


@pytest.mark.parametrize("picked", [None, "mine", "not-a-number"])
def test_station_select_writes_the_markup_of_djangos_select(picked):
    mine = Station.objects.create(name='A & B "<depot>"')
    Station.objects.create(name="Zeta")
    data = None if picked is None else {"station": str(mine.pk) if picked == "mine" else picked}
    fast, plain = GridForm(data), GridForm(data)
    if data:
        fast.is_valid(), plain.is_valid()
    html = str(fast["station"])
    assert html == _plain_select(plain)
    assert "A &amp; B &quot;&lt;depot&gt;&quot;" in html
    assert (f'value="{mine.pk}" selected' in html) == (picked == "mine")


def test_station_filter_still_validates_against_the_stations():
    station = Station.objects.create(name="Depot")
    assert GridForm({"station": str(station.pk)}).is_valid()
    form = GridForm({"station": str(station.pk + 1)})
    assert not form.is_valid() and "station" in form.errors


def test_energy_of_several_periods_is_each_periods_energy_in_two_queries():
    now = timezone.now()
    charge_point = ChargePoint.objects.create(charge_point_id="CP-S1")
    for connector_id in (1, 2):
        Connector.objects.create(charge_point=charge_point, connector_id=connector_id)

    def ended(energy_wh, stop, **fields):
        return Transaction.objects.create(
            charge_point=charge_point,
            connector=charge_point.connectors.get(connector_id=1),
            id_tag=f"TAG-{energy_wh}",
            status=fields.pop("status", SessionStatus.ENDED),
            meter_start=0,
            start_timestamp=stop - timedelta(hours=1),
            stop_timestamp=stop,
            energy_wh=energy_wh,
            **fields,
        )

    ended(1_000, now - timedelta(hours=1))
    ended(20_000, now - timedelta(days=3))
    ended(300_000, now - timedelta(days=40))
    ended(5, now - timedelta(hours=1), status=SessionStatus.REFUSED)
    ended(7, now - timedelta(hours=1), disputed_at=now)
    ended(9, now - timedelta(hours=1), disputed_at=now, dispute_resolution=DisputeResolution.VOIDED)
    starts = (now - timedelta(hours=2), now - timedelta(days=10), now - timedelta(days=100))

    with CaptureQueriesContext(connection) as queries:
        together = energy_delivered_since_wh(since=starts)
    assert together == [1_000, 21_000, 321_000]
    assert together == [energy_delivered_wh(since=start) for start in starts]
    assert len(queries) == 2
    assert energy_delivered_since_wh(since=()) == []


def test_grid_page_is_the_order_of_attention_without_correlated_subqueries():
    for name, online, status in (
        ("CP-C", True, ConnectorStatus.AVAILABLE),
        ("CP-B", True, ConnectorStatus.CHARGING),
        ("CP-A", False, ConnectorStatus.AVAILABLE),
        ("CP-D", True, ConnectorStatus.FAULTED),
    ):
        charge_point = ChargePoint.objects.create(charge_point_id=name, is_online=online)
        Connector.objects.create(charge_point=charge_point, connector_id=1, status=status)

    with CaptureQueriesContext(connection) as queries:
        page = grid_page(GridQuery(), per_page=3)
    assert [cp.charge_point_id for cp in page.charge_points] == ["CP-D", "CP-B", "CP-C"]
    assert [cp.attention for cp in page.charge_points] == [0, 1, 2]
    assert page.count == 4 and page.num_pages == 2
    # EXISTS per row, repeated in the ORDER BY, set off PostgreSQL's JIT (most of a second).
    assert not any("EXISTS" in query["sql"] for query in queries)
    assert [
        cp.charge_point_id for cp in grid_page(GridQuery(page=2), per_page=3).charge_points
    ] == ["CP-A"]
