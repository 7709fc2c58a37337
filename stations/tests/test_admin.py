from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.models import Invoice
from stations.admin import METER_VALUE_INLINE_LIMIT, ChargePointAdmin
from stations.choices import ConnectorStatus, SessionStatus, StopReason
from stations.models import (
    ChargePoint,
    Connector,
    ConnectorStatusLog,
    DataTransferRecord,
    MeterValue,
    OrphanStopTransaction,
    Station,
    Transaction,
)

START = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
PASSWORD = "s3cret-charge-point-key"


def _url(model, view, *args):
    return reverse(f"admin:stations_{model._meta.model_name}_{view}", args=args)


def _make_transaction(connector, *, id_tag="TAG1", minutes=0, stopped=True, **fields):
    start = START + timedelta(minutes=minutes)
    fields.setdefault("status", SessionStatus.ENDED if stopped else SessionStatus.RUNNING)
    return Transaction.objects.create(
        charge_point=connector.charge_point,
        connector=connector,
        id_tag=id_tag,
        meter_start=1000,
        start_timestamp=start,
        meter_stop=13345 if stopped else None,
        stop_timestamp=start + timedelta(hours=1) if stopped else None,
        stop_reason=StopReason.EV_DISCONNECTED if stopped else "",
        energy_wh=12345 if stopped else None,
        **fields,
    )


def _make_meter_value(transaction, *, minutes=0, value="1000"):
    return MeterValue.objects.create(
        charge_point=transaction.charge_point,
        connector=transaction.connector,
        transaction=transaction,
        timestamp=START + timedelta(minutes=minutes),
        value=value,
        numeric_value=Decimal(value),
        measurand="Energy.Active.Import.Register",
        unit="Wh",
        context="Sample.Periodic",
        location="Outlet",
        format="Raw",
    )


@pytest.fixture
def station():
    return Station.objects.create(name="Depot North", city="Bangkok", country="TH")


@pytest.fixture
def charge_point(station):
    cp = ChargePoint(
        charge_point_id="CP-ALPHA",
        station=station,
        vendor="VendorX",
        model="ModelY",
        firmware_version="1.2.3",
        is_online=True,
    )
    cp.set_password(PASSWORD)
    cp.save()
    return cp


@pytest.fixture
def connector(charge_point):
    return Connector.objects.create(
        charge_point=charge_point,
        connector_id=1,
        status=ConnectorStatus.CHARGING,
        status_timestamp=START,
    )


@pytest.fixture
def transaction(connector):
    return _make_transaction(connector)


@pytest.fixture
def history(connector, transaction):
    """One row of every history model."""
    return {
        MeterValue: _make_meter_value(transaction),
        ConnectorStatusLog: ConnectorStatusLog.objects.create(
            connector=connector,
            status=ConnectorStatus.FAULTED,
            error_code="GroundFailure",
            info="leak-detected",
            timestamp=START,
        ),
        OrphanStopTransaction: OrphanStopTransaction.objects.create(
            charge_point=connector.charge_point,
            transaction_id=987654,
            id_tag="ORPHANTAG",
            meter_stop=5000,
            timestamp=START,
            reason="Local",
        ),
        DataTransferRecord: DataTransferRecord.objects.create(
            charge_point=connector.charge_point,
            vendor_id="com.example",
            message_id="Greeting",
            data="hello",
            response_status="Accepted",
        ),
        Transaction: transaction,
    }


def _charge_point_post_data(charge_point, **overrides):
    data = {
        "charge_point_id": charge_point.charge_point_id,
        "station": charge_point.station_id or "",
        "registration_status": charge_point.registration_status,
        "security_profile": charge_point.security_profile,
        "heartbeat_interval": "",
        "new_password": "",
        "connectors-TOTAL_FORMS": "0",
        "connectors-INITIAL_FORMS": "0",
        "connectors-MIN_NUM_FORMS": "0",
        "connectors-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


# --- Pages render ----------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (Station, "Depot North"),
        (ChargePoint, "CP-ALPHA"),
        (Connector, "CP-ALPHA"),
        (Transaction, "TAG1"),
        (MeterValue, "Energy.Active.Import.Register"),
        (ConnectorStatusLog, "leak-detected"),
        (OrphanStopTransaction, "987654"),
        (DataTransferRecord, "com.example"),
    ],
)
def test_changelist_and_change_page_render(admin_client, history, model, expected):
    response = admin_client.get(_url(model, "changelist"))
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1
    assert expected in response.text

    obj = model.objects.get()
    response = admin_client.get(_url(model, "change", obj.pk))
    assert response.status_code == 200
    assert expected in response.text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model", "hit", "miss"),
    [
        (Station, "north", "south"),
        (ChargePoint, "alpha", "beta"),
        (Connector, "CP-ALPHA", "CP-BETA"),
        (MeterValue, "CP-ALPHA", "CP-BETA"),
        (ConnectorStatusLog, "leak", "spark"),
        (OrphanStopTransaction, "987654", "111111"),
        (DataTransferRecord, "example", "nothing"),
    ],
)
def test_search(admin_client, history, model, hit, miss):
    response = admin_client.get(_url(model, "changelist"), {"q": hit})
    assert response.context["cl"].result_count == 1
    response = admin_client.get(_url(model, "changelist"), {"q": miss})
    assert response.context["cl"].result_count == 0


# --- Charge point password -------------------------------------------------


@pytest.mark.django_db
def test_charge_point_page_never_shows_the_hash(admin_client, charge_point):
    response = admin_client.get(_url(ChargePoint, "change", charge_point.pk))
    assert response.status_code == 200
    assert charge_point.password
    assert charge_point.password not in response.text
    assert 'name="password"' not in response.text
    assert 'name="new_password"' in response.text
    assert 'name="clear_password"' in response.text


@pytest.mark.django_db
def test_has_password_column(charge_point):
    model_admin = ChargePointAdmin(ChargePoint, admin.site)
    other = ChargePoint.objects.create(charge_point_id="CP-NOPASS")
    assert "has_password" in model_admin.list_display
    assert model_admin.has_password(charge_point) is True
    assert model_admin.has_password(other) is False


@pytest.mark.django_db
def test_new_password_is_hashed(admin_client, charge_point):
    new = "another-key-0123456789"
    response = admin_client.post(
        _url(ChargePoint, "change", charge_point.pk),
        _charge_point_post_data(charge_point, new_password=new),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    charge_point.refresh_from_db()
    assert charge_point.password.startswith("pbkdf2_sha256_cp$")
    assert new not in charge_point.password
    assert charge_point.check_password(new)
    assert not charge_point.check_password(PASSWORD)


@pytest.mark.django_db
def test_blank_password_keeps_the_current_one(admin_client, charge_point):
    before = charge_point.password
    response = admin_client.post(
        _url(ChargePoint, "change", charge_point.pk),
        _charge_point_post_data(charge_point, heartbeat_interval="60"),
    )
    assert response.status_code == 302
    charge_point.refresh_from_db()
    assert charge_point.heartbeat_interval == 60
    assert charge_point.password == before
    assert charge_point.check_password(PASSWORD)


@pytest.mark.django_db
def test_clear_password_removes_it(admin_client, charge_point):
    response = admin_client.post(
        _url(ChargePoint, "change", charge_point.pk),
        _charge_point_post_data(charge_point, clear_password="on"),
    )
    assert response.status_code == 302
    charge_point.refresh_from_db()
    assert charge_point.password == ""
    assert not charge_point.check_password(PASSWORD)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "extra",
    [
        {"new_password": "x" * 15},
        {"new_password": "x" * 41},
        {"new_password": "x" * 20, "clear_password": "on"},
    ],
    ids=["too-short", "too-long", "set-and-clear"],
)
def test_invalid_password_input_is_refused(admin_client, charge_point, extra):
    before = charge_point.password
    response = admin_client.post(
        _url(ChargePoint, "change", charge_point.pk),
        _charge_point_post_data(charge_point, **extra),
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    charge_point.refresh_from_db()
    assert charge_point.password == before


@pytest.mark.django_db
def test_add_charge_point_with_password(admin_client, station):
    response = admin_client.post(
        _url(ChargePoint, "add"),
        {
            "charge_point_id": "CP-NEW",
            "station": station.pk,
            "registration_status": "Pending",
            "security_profile": 1,
            "heartbeat_interval": "",
            "new_password": "0123456789abcdef",
            "connectors-TOTAL_FORMS": "0",
            "connectors-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    created = ChargePoint.objects.get(charge_point_id="CP-NEW")
    assert created.check_password("0123456789abcdef")


@pytest.mark.django_db
def test_reported_fields_are_read_only(admin_client, charge_point):
    response = admin_client.post(
        _url(ChargePoint, "change", charge_point.pk),
        _charge_point_post_data(charge_point, vendor="Hacked", is_online="", firmware_version="0"),
    )
    assert response.status_code == 302
    charge_point.refresh_from_db()
    assert charge_point.vendor == "VendorX"
    assert charge_point.firmware_version == "1.2.3"
    assert charge_point.is_online is True


@pytest.mark.django_db
def test_connector_status_is_read_only(admin_client, connector):
    response = admin_client.post(
        _url(Connector, "change", connector.pk),
        {"status": ConnectorStatus.AVAILABLE, "info": "changed"},
    )
    assert response.status_code == 302
    connector.refresh_from_db()
    assert connector.status == ConnectorStatus.CHARGING
    assert connector.info == ""


# --- Transactions ----------------------------------------------------------


@pytest.mark.django_db
def test_transaction_columns(admin_client, transaction):
    invoice = Invoice.objects.create(
        number="2024-000001",
        transaction=transaction,
        currency="EUR",
        energy_wh=12345,
        net_total=Decimal("3.70"),
        vat_total=Decimal("0.70"),
        total=Decimal("4.40"),
    )
    response = admin_client.get(_url(Transaction, "changelist"))
    assert "12.345" in response.text
    assert reverse("admin:billing_invoice_change", args=[invoice.pk]) in response.text
    assert "2024-000001" in response.text

    response = admin_client.get(_url(Transaction, "change", transaction.pk))
    assert reverse("admin:billing_invoice_change", args=[invoice.pk]) in response.text


@pytest.mark.django_db
def test_transaction_search_by_id_tag_and_charge_point(admin_client, connector):
    first = _make_transaction(connector, id_tag="ALICE")
    second = _make_transaction(connector, id_tag="BOB", minutes=90)
    url = _url(Transaction, "changelist")

    def found(term):
        return {t.pk for t in admin_client.get(url, {"q": term}).context["cl"].result_list}

    assert found(str(second.pk)) == {second.pk}
    assert found("alice") == {first.pk}
    assert found("cp-alpha") == {first.pk, second.pk}
    assert found("nobody") == set()


@pytest.mark.django_db
def test_transaction_status_filter(admin_client, connector):
    closed = _make_transaction(connector, id_tag="DONE")
    running = _make_transaction(connector, id_tag="RUNNING", minutes=90, stopped=False)
    refused = _make_transaction(
        connector, id_tag="REFUSED", minutes=200, stopped=False, status=SessionStatus.REFUSED
    )
    url = _url(Transaction, "changelist")

    def listed(status):
        response = admin_client.get(url, {"status__exact": status})
        return {t.pk for t in response.context["cl"].result_list}

    assert listed("running") == {running.pk}
    assert listed("ended") == {closed.pk}
    assert listed("refused") == {refused.pk}


@pytest.mark.django_db
def test_transaction_fields_are_read_only(admin_client, transaction):
    response = admin_client.post(
        _url(Transaction, "change", transaction.pk),
        {
            "id_tag": "FORGED",
            "meter_stop": "999999",
            "meter_values-TOTAL_FORMS": "0",
            "meter_values-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 403
    transaction.refresh_from_db()
    assert transaction.id_tag == "TAG1"
    assert transaction.meter_stop == 13345


@pytest.mark.django_db
def test_transaction_page_limits_meter_values(admin_client, transaction):
    for minute in range(METER_VALUE_INLINE_LIMIT + 5):
        _make_meter_value(transaction, minutes=minute, value=str(1000 + minute))
    response = admin_client.get(_url(Transaction, "change", transaction.pk))
    assert response.status_code == 200
    (formset,) = [
        inline.formset
        for inline in response.context["inline_admin_formsets"]
        if inline.formset.model is MeterValue
    ]
    shown = [form.instance.value for form in formset.forms]
    assert len(shown) == METER_VALUE_INLINE_LIMIT
    assert shown[0] == str(1000 + METER_VALUE_INLINE_LIMIT + 4)  # latest first
    assert f"transaction__id__exact={transaction.pk}" in response.text


# --- History is read-only --------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "model",
    [Transaction, MeterValue, ConnectorStatusLog, OrphanStopTransaction, DataTransferRecord],
)
def test_history_refuses_add(admin_client, model):
    assert admin_client.get(_url(model, "add")).status_code == 403
    assert admin_client.post(_url(model, "add"), {}).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize(
    "model",
    [Transaction, MeterValue, ConnectorStatusLog, OrphanStopTransaction, DataTransferRecord],
)
def test_history_refuses_change_and_delete(admin_client, history, model):
    obj = history[model]
    assert admin_client.post(_url(model, "change", obj.pk), {}).status_code == 403
    assert admin_client.post(_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=obj.pk).exists()


# --- No N+1 queries --------------------------------------------------------


def _changelist_queries(client, model) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(_url(model, "changelist")).status_code == 200
    return len(queries)


@pytest.mark.django_db
@pytest.mark.parametrize("model", [Transaction, MeterValue, ConnectorStatusLog, ChargePoint])
def test_changelist_queries_do_not_grow_with_rows(admin_client, history, model):
    few = _changelist_queries(admin_client, model)
    for number in range(2, 6):
        site = Station.objects.create(name=f"Site {number}")
        cp = ChargePoint.objects.create(charge_point_id=f"CP-{number}", station=site)
        connector = Connector.objects.create(charge_point=cp, connector_id=1)
        tx = _make_transaction(connector, id_tag=f"T{number}")
        _make_meter_value(tx)
        running = _make_transaction(connector, id_tag=f"R{number}", minutes=90, stopped=False)
        _make_meter_value(running, minutes=95, value="5000")
        ConnectorStatusLog.objects.create(connector=connector, status="Available", error_code="")
    assert _changelist_queries(admin_client, model) == few


@pytest.mark.django_db
@pytest.mark.parametrize("model", [Station, ChargePoint, Connector])
def test_add_page_renders(admin_client, model):
    assert admin_client.get(_url(model, "add")).status_code == 200
