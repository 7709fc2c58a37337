"""Services of the stations app, against the database."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db.models.query import QuerySet

from drivers.choices import AuthorizationStatus
from drivers.models import IdTag
from stations.choices import EnergySource, RegistrationStatus, StopReason
from stations.models import (
    ChargePoint,
    Connector,
    ConnectorStatusLog,
    DataTransferRecord,
    MeterValue,
    OrphanStopTransaction,
    Transaction,
)
from stations.services import (
    BootInfo,
    ChargePointUnknown,
    chargepoint_boot,
    chargepoint_connect,
    chargepoint_create,
    chargepoint_disconnect,
    chargepoint_heartbeat,
    connector_status_update,
    data_transfer_handler,
    datatransfer_receive,
    metervalues_record,
    transaction_start,
    transaction_stop,
)
from stations.services.data_transfer import data_transfer_unregister
from stations.services.transactions import CONCURRENT_TX
from stations.tests.samples import meter_sample

pytestmark = pytest.mark.django_db

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def charge_point():
    return chargepoint_create(charge_point_id="CP-1", password="s3cret-charge-point")


@pytest.fixture
def tag():
    return IdTag.objects.create(id_tag="TAG-1")


def start(charge_point, *, connector_id=1, id_tag="TAG-1", meter_start=1000, timestamp=T0):
    return transaction_start(
        charge_point_pk=charge_point.pk,
        connector_id=connector_id,
        id_tag=id_tag,
        meter_start=meter_start,
        timestamp=timestamp,
    )


def stop(charge_point, transaction_id, *, meter_stop, **kwargs):
    return transaction_stop(
        charge_point_pk=charge_point.pk,
        transaction_id=transaction_id,
        meter_stop=meter_stop,
        timestamp=kwargs.pop("timestamp", T0 + timedelta(hours=1)),
        **kwargs,
    )


def record(charge_point, *samples, transaction_id=None, connector_id=1):
    return metervalues_record(
        charge_point_pk=charge_point.pk,
        connector_id=connector_id,
        transaction_id=transaction_id,
        samples=list(samples),
    )


# Charge points


def test_create_hashes_the_password(charge_point):
    charge_point.refresh_from_db()
    assert charge_point.password and "s3cret-charge-point" not in charge_point.password
    assert charge_point.check_password("s3cret-charge-point")
    assert not charge_point.check_password("wrong")
    assert charge_point.registration_status == RegistrationStatus.ACCEPTED


def test_connect_known_marks_online(charge_point):
    connected = chargepoint_connect(charge_point_id="CP-1", channel_name="chan-a")
    assert connected.pk == charge_point.pk
    charge_point.refresh_from_db()
    assert charge_point.is_online
    assert charge_point.connection_channel == "chan-a"
    assert charge_point.connected_at is not None
    assert charge_point.last_seen == charge_point.connected_at


def test_connect_unknown_auto_registers(settings):
    settings.OCPP_AUTO_REGISTER = True
    settings.OCPP_DEFAULT_REGISTRATION_STATUS = RegistrationStatus.PENDING
    connected = chargepoint_connect(charge_point_id="NEW-1", channel_name="chan-a")
    stored = ChargePoint.objects.get(charge_point_id="NEW-1")
    assert stored.pk == connected.pk
    assert stored.is_online
    assert stored.registration_status == RegistrationStatus.PENDING
    assert stored.password == ""


def test_connect_unknown_without_auto_register_raises(settings):
    settings.OCPP_AUTO_REGISTER = False
    with pytest.raises(ChargePointUnknown):
        chargepoint_connect(charge_point_id="NEW-1", channel_name="chan-a")
    assert not ChargePoint.objects.filter(charge_point_id="NEW-1").exists()
    chargepoint_create(charge_point_id="CP-1")
    assert chargepoint_connect(charge_point_id="CP-1", channel_name="chan-a").is_online


def test_connect_registration_race_returns_the_winner(settings, monkeypatch):
    settings.OCPP_AUTO_REGISTER = True
    winner = chargepoint_create(charge_point_id="RACE-1")
    # Another socket registered the id after this one looked it up.
    monkeypatch.setattr(QuerySet, "first", lambda self: None)
    connected = chargepoint_connect(charge_point_id="RACE-1", channel_name="chan-b")
    assert connected.pk == winner.pk
    assert ChargePoint.objects.filter(charge_point_id="RACE-1").count() == 1


def test_disconnect_with_the_current_channel(charge_point):
    chargepoint_connect(charge_point_id="CP-1", channel_name="chan-a")
    assert chargepoint_disconnect(charge_point_id="CP-1", channel_name="chan-a") is True
    charge_point.refresh_from_db()
    assert not charge_point.is_online
    assert charge_point.connection_channel == ""


def test_disconnect_of_a_replaced_socket_changes_nothing(charge_point):
    chargepoint_connect(charge_point_id="CP-1", channel_name="chan-a")
    chargepoint_connect(charge_point_id="CP-1", channel_name="chan-b")
    assert chargepoint_disconnect(charge_point_id="CP-1", channel_name="chan-a") is False
    charge_point.refresh_from_db()
    assert charge_point.is_online
    assert charge_point.connection_channel == "chan-b"


def test_boot_stores_every_field(charge_point):
    values = "Acme", "Volt 22", "CPS-1", "CBS-1", "1.2.3", "89490001", "26201001", "MT", "MS"
    info = BootInfo(*values)
    assert not charge_point.is_accepted
    returned = chargepoint_boot(charge_point=charge_point, info=info)
    assert returned.last_boot_at is not None
    charge_point.refresh_from_db()
    assert tuple(getattr(charge_point, name) for name in info.__dict__) == values
    assert charge_point.last_boot_at == returned.last_boot_at
    assert charge_point.last_seen == charge_point.last_boot_at
    assert charge_point.is_accepted


def test_heartbeat_records_time(charge_point):
    now = chargepoint_heartbeat(charge_point_pk=charge_point.pk, channel_name="specific.a!1")
    assert now.tzinfo is not None
    charge_point.refresh_from_db()
    assert charge_point.last_heartbeat == now
    assert charge_point.last_seen == now


def test_heartbeat_brings_back_a_charge_point_the_sweep_took_for_dead(charge_point):
    ChargePoint.objects.filter(pk=charge_point.pk).update(is_online=False, connection_channel="")
    chargepoint_heartbeat(charge_point_pk=charge_point.pk, channel_name="specific.a!1")
    charge_point.refresh_from_db()
    assert charge_point.is_online
    assert charge_point.connection_channel == "specific.a!1"


def test_disconnect_shows_connectors_unavailable(charge_point):
    chargepoint_connect(charge_point_id=charge_point.charge_point_id, channel_name="specific.a!2")
    status(charge_point, "Charging")
    assert chargepoint_disconnect(
        charge_point_id=charge_point.charge_point_id, channel_name="specific.a!2"
    )
    assert list(charge_point.connectors.values_list("status", flat=True)) == ["Unavailable"]


# Connectors


def status(charge_point, status, *, connector_id=1, timestamp=None, **kwargs):
    return connector_status_update(
        charge_point_pk=charge_point.pk,
        connector_id=connector_id,
        status=status,
        error_code=kwargs.pop("error_code", "NoError"),
        timestamp=timestamp,
        **kwargs,
    )


def test_status_update_sets_current_and_logs(charge_point):
    status(charge_point, "Available", timestamp=T0)
    connector = status(
        charge_point,
        "Faulted",
        timestamp=T0 + timedelta(minutes=1),
        error_code="GroundFailure",
        info="leak",
        vendor_id="acme",
        vendor_error_code="E42",
    )
    connector.refresh_from_db()
    reported = "status", "error_code", "info", "vendor_id", "vendor_error_code"
    current = tuple(getattr(connector, name) for name in reported)
    assert current == ("Faulted", "GroundFailure", "leak", "acme", "E42")
    assert connector.status_timestamp == T0 + timedelta(minutes=1)
    log = ConnectorStatusLog.objects.filter(connector=connector).order_by("id")
    assert [entry.status for entry in log] == ["Available", "Faulted"]
    assert log.last().vendor_error_code == "E42"


def test_older_status_is_logged_but_not_current(charge_point):
    status(charge_point, "Charging", timestamp=T0 + timedelta(minutes=5))
    connector = status(charge_point, "Preparing", timestamp=T0)
    connector.refresh_from_db()
    assert connector.status == "Charging"
    assert connector.status_timestamp == T0 + timedelta(minutes=5)
    assert connector.status_log.count() == 2


def test_status_of_connector_zero_without_timestamp(charge_point):
    status(charge_point, "Unavailable", connector_id=0)
    connector = Connector.objects.get(charge_point=charge_point, connector_id=0)
    assert connector.status == "Unavailable"
    assert connector.status_timestamp is not None
    assert connector.status_log.get().timestamp is None
    assert not Connector.objects.filter(charge_point=charge_point, connector_id=1).exists()


# Transactions: start


def test_start_returns_an_integer_id_and_accepts(charge_point, tag):
    started, auth = start(charge_point)
    assert isinstance(started.pk, int)
    assert started.pk > 0
    assert auth.status == AuthorizationStatus.ACCEPTED
    stored = Transaction.objects.get(pk=started.pk)
    assert stored.tag == tag
    assert stored.start_auth_status == AuthorizationStatus.ACCEPTED
    assert stored.connector.connector_id == 1
    assert stored.meter_start == 1000
    assert stored.is_open


def test_start_with_unknown_tag_is_recorded_as_invalid(charge_point):
    started, auth = start(charge_point, id_tag="NOBODY")
    assert auth.status == AuthorizationStatus.INVALID
    assert Transaction.objects.get(pk=started.pk).start_auth_status == "Invalid"


def test_start_concurrent_on_another_connector(charge_point, tag):
    start(charge_point, connector_id=1)
    second, auth = start(charge_point, connector_id=2, timestamp=T0 + timedelta(minutes=1))
    assert auth.status == CONCURRENT_TX
    assert auth.tag == tag
    assert Transaction.objects.get(pk=second.pk).start_auth_status == CONCURRENT_TX
    # A retransmission of that start gets the same transaction and answer.
    again, auth = start(charge_point, connector_id=2, timestamp=T0 + timedelta(minutes=1))
    assert (again.pk, auth.status) == (second.pk, CONCURRENT_TX)


def test_start_concurrent_across_charge_points_and_case(charge_point, tag):
    other = chargepoint_create(charge_point_id="CP-2")
    start(other, connector_id=1, id_tag="tag-1")
    _, auth = start(charge_point, connector_id=1, id_tag="Tag-1")
    assert auth.status == CONCURRENT_TX


def test_start_on_the_same_connector_is_not_concurrent(charge_point, tag):
    first, _ = start(charge_point, connector_id=1)
    second, auth = start(charge_point, connector_id=1, timestamp=T0 + timedelta(minutes=9))
    assert second.pk != first.pk
    assert auth.status == AuthorizationStatus.ACCEPTED


def test_start_after_stop_is_not_concurrent(charge_point, tag):
    first, _ = start(charge_point, connector_id=1)
    stop(charge_point, first.pk, meter_stop=2000)
    _, auth = start(charge_point, connector_id=2, timestamp=T0 + timedelta(hours=2))
    assert auth.status == AuthorizationStatus.ACCEPTED


def test_retransmitted_start_returns_the_same_transaction(charge_point, tag):
    first, first_auth = start(charge_point)
    again, again_auth = start(charge_point)
    assert again.pk == first.pk
    assert again_auth.status == first_auth.status == AuthorizationStatus.ACCEPTED
    assert Transaction.objects.count() == 1


def test_start_id_tag_is_case_insensitive(charge_point, tag):
    started, auth = start(charge_point, id_tag="tag-1")
    assert auth.status == AuthorizationStatus.ACCEPTED
    assert auth.tag == tag
    assert Transaction.objects.get(pk=started.pk).tag_id == tag.pk


# Transactions: stop


def test_stop_computes_energy_from_meter_stop(charge_point, tag):
    started, _ = start(charge_point, meter_start=1000)
    stopped, auth = stop(
        charge_point, started.pk, meter_stop=8500, reason=StopReason.REMOTE, id_tag="TAG-1"
    )
    assert auth.status == AuthorizationStatus.ACCEPTED
    stopped = Transaction.objects.get(pk=started.pk)
    assert stopped.stop_timestamp == T0 + timedelta(hours=1)
    assert (stopped.meter_stop, stopped.energy_wh) == (8500, 7500)
    assert stopped.energy_source == EnergySource.METER_STOP
    assert (stopped.stop_reason, stopped.stop_id_tag) == (StopReason.REMOTE, "TAG-1")


def test_stop_without_reason_is_local(charge_point, tag):
    started, _ = start(charge_point)
    stopped, auth = stop(charge_point, started.pk, meter_stop=1500)
    assert auth is None
    assert Transaction.objects.get(pk=started.pk).stop_reason == StopReason.LOCAL


def test_stop_below_start_falls_back_to_register_values_in_kwh(charge_point, tag):
    started, _ = start(charge_point, meter_start=10000)
    record(charge_point, meter_sample("11.2", unit="kWh"), transaction_id=started.pk)
    at = T0 + timedelta(minutes=59)
    stop(
        charge_point,
        started.pk,
        meter_stop=0,
        samples=[
            meter_sample("12.345", at, unit="kWh"),
            meter_sample("230", at, measurand="Voltage", unit="V"),
        ],
    )
    stopped = Transaction.objects.get(pk=started.pk)
    assert stopped.energy_wh == 2345
    assert stopped.energy_source == EnergySource.METER_VALUES


def test_stop_below_start_without_readings_has_no_energy(charge_point, tag):
    started, _ = start(charge_point, meter_start=10000)
    stop(charge_point, started.pk, meter_stop=500)
    stopped = Transaction.objects.get(pk=started.pk)
    assert stopped.energy_wh == 0
    assert stopped.energy_source == EnergySource.NONE


def test_second_stop_changes_nothing(charge_point, tag):
    started, _ = start(charge_point, meter_start=1000)
    stop(charge_point, started.pk, meter_stop=3000)
    first = Transaction.objects.get(pk=started.pk)
    again, _ = stop(
        charge_point,
        started.pk,
        meter_stop=9000,
        timestamp=T0 + timedelta(hours=5),
        reason=StopReason.REBOOT,
        samples=[meter_sample("99", unit="kWh")],
    )
    assert again.pk == started.pk
    after = Transaction.objects.get(pk=started.pk)
    fields = "meter_stop", "energy_wh", "stop_timestamp", "stop_reason"
    assert [getattr(after, f) for f in fields] == [getattr(first, f) for f in fields]
    assert after.meter_values.count() == 0
    assert not OrphanStopTransaction.objects.exists()


def test_stop_of_unknown_id_is_kept_as_orphan(charge_point):
    samples = [meter_sample("5"), meter_sample("0.1", phase="L2", unit="kWh")]
    stopped, auth = stop(
        charge_point, 424242, meter_stop=5000, id_tag="X", reason="PowerLoss", samples=samples
    )
    assert stopped is None
    assert auth.status == AuthorizationStatus.INVALID
    orphan = OrphanStopTransaction.objects.get()
    assert (orphan.charge_point, orphan.transaction_id) == (charge_point, 424242)
    assert (orphan.id_tag, orphan.meter_stop, orphan.reason) == ("X", 5000, "PowerLoss")
    assert orphan.transaction_data == [
        {
            "timestamp": "2024-05-01T10:30:00+00:00",
            "value": "5",
            "measurand": "Energy.Active.Import.Register",
            "unit": "Wh",
            "context": "Sample.Periodic",
            "location": "Outlet",
            "format": "Raw",
            "phase": "",
        },
        {
            "timestamp": "2024-05-01T10:30:00+00:00",
            "value": "0.1",
            "measurand": "Energy.Active.Import.Register",
            "unit": "kWh",
            "context": "Sample.Periodic",
            "location": "Outlet",
            "format": "Raw",
            "phase": "L2",
        },
    ]
    assert not MeterValue.objects.exists()


def test_stop_of_another_charge_points_transaction_is_an_orphan(charge_point, tag):
    other = chargepoint_create(charge_point_id="CP-2")
    started, _ = start(other)
    stopped, _ = stop(charge_point, started.pk, meter_stop=2000)
    assert stopped is None
    assert Transaction.objects.get(pk=started.pk).is_open
    assert OrphanStopTransaction.objects.filter(charge_point=charge_point).count() == 1


def test_stop_samples_are_saved_as_linked_meter_values(charge_point, tag):
    started, _ = start(charge_point)
    stop(
        charge_point,
        started.pk,
        meter_stop=4000,
        samples=[
            meter_sample("1000", T0, context="Transaction.Begin"),
            meter_sample("4000", T0 + timedelta(hours=1), context="Transaction.End"),
        ],
    )
    values = list(MeterValue.objects.order_by("timestamp"))
    assert [v.value for v in values] == ["1000", "4000"]
    assert [v.context for v in values] == ["Transaction.Begin", "Transaction.End"]
    assert all(v.transaction_id == started.pk for v in values)
    assert all(v.connector_id == started.connector_id for v in values)
    assert values[1].timestamp == datetime(2024, 5, 1, 11, 0, tzinfo=UTC)


# Meter values


def test_meter_values_store_an_energy_register_sample(charge_point):
    count = record(charge_point, meter_sample("1234.5"), connector_id=2)
    assert count == 1
    value = MeterValue.objects.get()
    stored = (value.measurand, value.unit, value.context, value.location, value.format)
    assert stored == ("Energy.Active.Import.Register", "Wh", "Sample.Periodic", "Outlet", "Raw")
    assert value.phase == ""
    assert value.value == "1234.5"
    assert value.numeric_value == Decimal("1234.5")
    assert value.connector.connector_id == 2
    assert value.timestamp == datetime(2024, 5, 1, 10, 30, tzinfo=UTC)


def test_meter_values_keep_every_given_field(charge_point):
    fields = dict(measurand="Current.Import", unit="A", phase="L1", location="Inlet")
    fields["context"] = "Sample.Clock"
    record(charge_point, meter_sample("16.5", datetime(2024, 5, 1, 10, 30, tzinfo=UTC), **fields))
    value = MeterValue.objects.get()
    assert (value.measurand, value.unit, value.phase) == ("Current.Import", "A", "L1")
    assert (value.context, value.location, value.format) == ("Sample.Clock", "Inlet", "Raw")
    assert value.value == "16.5"
    assert value.numeric_value == Decimal("16.5")
    assert value.timestamp == datetime(2024, 5, 1, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "raw, fields",
    [("abc", {}), ("NaN", {}), ("", {}), ("1e30", {}), ("3F2A", {"value_format": "SignedData"})],
)
def test_non_numeric_values_are_stored_without_number(charge_point, raw, fields):
    record(charge_point, meter_sample(raw, **fields))
    value = MeterValue.objects.get()
    assert value.value == raw
    assert value.numeric_value is None


def test_meter_values_link_a_known_transaction(charge_point, tag):
    started, _ = start(charge_point)
    later = meter_sample("1200", datetime(2024, 5, 1, 10, 31, tzinfo=UTC))
    record(charge_point, meter_sample("1100"), later, transaction_id=started.pk)
    assert started.meter_values.count() == 2


def test_meter_values_with_unknown_transaction_are_stored_unlinked(charge_point):
    count = record(charge_point, meter_sample("1100"), transaction_id=987654)
    assert count == 1
    value = MeterValue.objects.get()
    assert value.transaction_id is None
    assert value.charge_point == charge_point


# Data transfer


def test_data_transfer_unknown_vendor(charge_point):
    answer = datatransfer_receive(
        charge_point_pk=charge_point.pk, vendor_id="com.nobody", message_id="m", data="{}"
    )
    assert answer == ("UnknownVendorId", None)
    stored = DataTransferRecord.objects.get()
    assert (stored.vendor_id, stored.message_id, stored.data) == ("com.nobody", "m", "{}")
    assert (stored.response_status, stored.response_data) == ("UnknownVendorId", "")


@pytest.fixture
def echo_vendor():
    calls = []

    @data_transfer_handler("com.example.test")
    def handle(*, charge_point_pk, message_id, data):
        calls.append((charge_point_pk, message_id, data))
        if message_id != "echo":
            return "UnknownMessageId", None
        return "Accepted", f"echo:{data}"

    yield calls
    data_transfer_unregister("com.example.test")


def test_data_transfer_registered_handler_answers(charge_point, echo_vendor):
    answer = datatransfer_receive(
        charge_point_pk=charge_point.pk, vendor_id="com.example.test", message_id="echo", data="hi"
    )
    assert answer == ("Accepted", "echo:hi")
    assert echo_vendor == [(charge_point.pk, "echo", "hi")]
    stored = DataTransferRecord.objects.get()
    assert (stored.response_status, stored.response_data) == ("Accepted", "echo:hi")


def test_data_transfer_handler_unknown_message(charge_point, echo_vendor):
    answer = datatransfer_receive(
        charge_point_pk=charge_point.pk, vendor_id="com.example.test", message_id=None, data=None
    )
    assert answer == ("UnknownMessageId", None)
    stored = DataTransferRecord.objects.get()
    assert (stored.message_id, stored.data, stored.response_status) == ("", "", "UnknownMessageId")


def test_data_transfer_unregister_restores_unknown_vendor(charge_point):
    data_transfer_handler("com.example.gone")(lambda **_: ("Accepted", None))
    data_transfer_unregister("com.example.gone")
    answer = datatransfer_receive(
        charge_point_pk=charge_point.pk, vendor_id="com.example.gone", message_id="m", data=None
    )
    assert answer == ("UnknownVendorId", None)
