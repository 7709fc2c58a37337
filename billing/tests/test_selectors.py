"""Which tariff applies (connector and id tag group scopes), and the CSV rows."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing.models import Invoice, TagGroup, Tariff
from billing.selectors import (
    INVOICE_CSV_HEADER,
    TRANSACTION_CSV_HEADER,
    invoice_export_rows,
    tariff_in_force,
    transaction_export_rows,
)
from drivers.models import IdTag
from stations.choices import SessionStatus
from stations.models import ChargePoint, Connector, Station, Transaction

pytestmark = pytest.mark.django_db

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def station():
    return Station.objects.create(name="Main street")


@pytest.fixture
def charge_point(station):
    return ChargePoint.objects.create(charge_point_id="CP-1", station=station)


def make_session(charge_point, *, connector_id=1, tag=None, start=T0, stopped=True):
    connector, _ = Connector.objects.get_or_create(
        charge_point=charge_point, connector_id=connector_id
    )
    return Transaction.objects.create(
        charge_point=charge_point,
        connector=connector,
        id_tag=tag.id_tag if tag else "ANON",
        tag=tag,
        status=SessionStatus.ENDED if stopped else SessionStatus.RUNNING,
        meter_start=0,
        start_timestamp=start,
        meter_stop=5000 if stopped else None,
        stop_timestamp=start + timedelta(hours=1) if stopped else None,
        energy_wh=5000 if stopped else None,
    )


def test_connector_beats_charge_point(charge_point):
    on_one = make_session(charge_point, connector_id=1)
    on_two = make_session(charge_point, connector_id=2)
    cp_tariff = Tariff.objects.create(name="CP", charge_point=charge_point, priority=9)
    fast = Tariff.objects.create(name="DC", connector=on_two.connector)
    assert tariff_in_force(transaction=on_one) == cp_tariff
    assert tariff_in_force(transaction=on_two) == fast


def test_tag_group_beats_location_and_needs_membership(charge_point):
    staff = IdTag.objects.create(id_tag="STAFF-1")
    visitor = IdTag.objects.create(id_tag="VISITOR")
    employees = TagGroup.objects.create(name="Employees")
    employees.id_tags.add(staff)
    connector_tariff = Tariff.objects.create(
        name="Connector",
        connector=Connector.objects.create(charge_point=charge_point, connector_id=1),
    )
    free = Tariff.objects.create(name="Employees free", tag_group=employees)
    assert tariff_in_force(transaction=make_session(charge_point, tag=staff)) == free
    assert tariff_in_force(transaction=make_session(charge_point, tag=visitor)) == (
        connector_tariff
    )
    assert tariff_in_force(transaction=make_session(charge_point)) == connector_tariff


def test_a_parent_tag_in_the_group_covers_its_children(charge_point):
    fleet = IdTag.objects.create(id_tag="FLEET")
    card = IdTag.objects.create(id_tag="FLEET-CARD-7", parent=fleet)
    group = TagGroup.objects.create(name="Fleet customers")
    group.id_tags.add(fleet)
    fleet_tariff = Tariff.objects.create(name="Fleet", tag_group=group)
    assert tariff_in_force(transaction=make_session(charge_point, tag=card)) == fleet_tariff


def test_combined_scopes_must_all_match(charge_point, station):
    staff = IdTag.objects.create(id_tag="STAFF-1")
    group = TagGroup.objects.create(name="Employees")
    group.id_tags.add(staff)
    elsewhere = Station.objects.create(name="Elsewhere")
    group_here = Tariff.objects.create(name="Staff here", tag_group=group, station=station)
    Tariff.objects.create(name="Staff elsewhere", tag_group=group, station=elsewhere, priority=5)
    group_anywhere = Tariff.objects.create(name="Staff anywhere", tag_group=group, priority=99)
    session = make_session(charge_point, tag=staff)
    assert tariff_in_force(transaction=session) == group_here
    group_here.delete()
    assert tariff_in_force(transaction=session) == group_anywhere


def test_a_tariff_without_scope_applies_only_as_default(charge_point):
    Tariff.objects.filter(is_default=True).delete()
    Tariff.objects.create(name="Unscoped", priority=100)
    assert tariff_in_force(transaction=make_session(charge_point)) is None


def _invoice(session, number, *, issued_at):
    invoice = Invoice.objects.create(
        number=number,
        transaction=session,
        currency="EUR",
        energy_wh=session.energy_wh,
        net_total=Decimal("1.00"),
        vat_total=Decimal("0.19"),
        total=Decimal("1.19"),
    )
    Invoice.objects.filter(pk=invoice.pk).update(issued_at=issued_at)
    return invoice


def test_export_rows_by_date_range_and_station(charge_point):
    other_cp = ChargePoint.objects.create(
        charge_point_id="CP-2", station=Station.objects.create(name="Other")
    )
    may = make_session(charge_point)
    june = make_session(charge_point, start=T0 + timedelta(days=31))
    elsewhere = make_session(other_cp)
    open_one = make_session(charge_point, start=T0 + timedelta(hours=3), stopped=False)
    _invoice(may, "2024-000001", issued_at=T0 + timedelta(hours=2))
    _invoice(june, "2024-000002", issued_at=T0 + timedelta(days=31, hours=2))
    _invoice(elsewhere, "2024-000003", issued_at=T0 + timedelta(hours=2))

    may_range = dict(start=T0 - timedelta(hours=10), end=T0 + timedelta(days=30))
    rows = list(invoice_export_rows(**may_range, station_id=charge_point.station_id))
    assert [row[0] for row in rows] == ["2024-000001"]
    assert dict(zip(INVOICE_CSV_HEADER, rows[0], strict=True)) | {"issued_at": None} == {
        "number": "2024-000001",
        "issued_at": None,
        "transaction": may.pk,
        "station": "Main street",
        "charge_point": "CP-1",
        "id_tag": "ANON",
        "start": "2024-05-01T10:00:00+00:00",
        "stop": "2024-05-01T11:00:00+00:00",
        "energy_wh": 5000,
        "currency": "EUR",
        "net_total": Decimal("1.00"),
        "vat_total": Decimal("0.19"),
        "total": Decimal("1.19"),
    }
    assert [row[0] for row in invoice_export_rows()] == [
        "2024-000001",
        "2024-000003",
        "2024-000002",
    ]

    sessions = list(transaction_export_rows(**may_range, station_id=charge_point.station_id))
    assert [row[0] for row in sessions] == [may.pk, open_one.pk]
    by_name = [dict(zip(TRANSACTION_CSV_HEADER, row, strict=True)) for row in sessions]
    assert (by_name[0]["invoice"], by_name[0]["total"]) == ("2024-000001", Decimal("1.19"))
    assert (by_name[1]["stop"], by_name[1]["invoice"], by_name[1]["energy_wh"]) == ("", "", "")
