"""DataTransfer limits: size, rate per charge point, storage once, retention."""

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from stations.models import DataTransferRecord, SecurityEvent
from stations.services import chargepoint_create
from stations.services.data_transfer import (
    RATE_EVENT_TYPE,
    data_transfer_handler,
    data_transfer_unregister,
    datatransfer_purge,
    datatransfer_receive,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def charge_point():
    return chargepoint_create(charge_point_id="CP-Q", password="s3cret-charge-point")


@pytest.fixture
def vendor():
    calls = []

    @data_transfer_handler("com.example.quota")
    def handle(*, charge_point_pk, message_id, data):
        calls.append(data)
        return "Accepted", "ok"

    yield calls
    data_transfer_unregister("com.example.quota")


def receive(charge_point, data, *, vendor_id="com.example.quota", limits=None):
    return datatransfer_receive(
        charge_point_pk=charge_point.pk,
        vendor_id=vendor_id,
        message_id="m",
        data=data,
        unique_id="uid-1",
        on_limit=None if limits is None else limits.append,
    )


def test_data_within_the_limits_is_stored_once_with_size_hash_and_unique_id(charge_point, vendor):
    assert receive(charge_point, "héllo") == ("Accepted", "ok")
    record = DataTransferRecord.objects.get()
    assert (record.data, record.unique_id, record.data_bytes) == ("héllo", "uid-1", 6)
    assert record.data_sha256 == hashlib.sha256("héllo".encode()).hexdigest()
    assert not record.data_omitted


def test_data_over_the_size_limit_is_rejected_and_only_described(charge_point, vendor, settings):
    settings.OCPP_DATA_TRANSFER_MAX_BYTES = 10
    limits = []
    assert receive(charge_point, "x" * 11, limits=limits) == ("Rejected", None)
    assert vendor == []  # its handler never saw it
    assert limits == ["data_transfer_too_large"]
    record = DataTransferRecord.objects.get()
    assert (record.data, record.data_bytes, record.data_omitted) == ("", 11, True)
    assert record.data_sha256 == hashlib.sha256(b"x" * 11).hexdigest()
    assert record.response_status == "Rejected"


def test_an_unknown_vendor_over_the_limit_is_still_told_unknown(charge_point, settings):
    settings.OCPP_DATA_TRANSFER_MAX_BYTES = 10
    answer = receive(charge_point, "x" * 11, vendor_id="com.nobody")
    assert answer == ("UnknownVendorId", None)


def test_past_the_rate_limit_messages_are_refused_unstored(charge_point, vendor, settings):
    settings.OCPP_DATA_TRANSFER_RATE_LIMIT = 3
    limits = []
    answers = [receive(charge_point, f"d{n}", limits=limits) for n in range(6)]
    assert answers == [("Accepted", "ok")] * 3 + [("Rejected", None)] * 3
    assert DataTransferRecord.objects.count() == 3
    assert limits == ["data_transfer_rate"] * 3
    # One security event for the flood, not one per message.
    event = SecurityEvent.objects.get(event_type=RATE_EVENT_TYPE)
    assert event.charge_point == charge_point and event.origin == "csms"


def test_the_rate_limit_is_per_charge_point_and_per_hour(charge_point, vendor, settings):
    settings.OCPP_DATA_TRANSFER_RATE_LIMIT = 1
    other = chargepoint_create(charge_point_id="CP-R", password="s3cret-charge-point")
    assert receive(charge_point, "a") == ("Accepted", "ok")
    assert receive(other, "b") == ("Accepted", "ok")
    assert receive(charge_point, "c") == ("Rejected", None)
    DataTransferRecord.objects.update(received_at=timezone.now() - timedelta(minutes=61))
    assert receive(charge_point, "d") == ("Accepted", "ok")


def test_purge_deletes_records_past_the_retention(charge_point, vendor, settings):
    settings.OCPP_DATA_TRANSFER_RETENTION_DAYS = 30
    for data in ("old", "older", "new"):
        receive(charge_point, data)
    DataTransferRecord.objects.filter(data__startswith="old").update(
        received_at=timezone.now() - timedelta(days=31)
    )
    assert datatransfer_purge(batch=1) == 2
    assert list(DataTransferRecord.objects.values_list("data", flat=True)) == ["new"]
    assert datatransfer_purge() == 0


def test_the_purge_task_is_scheduled_and_runs(charge_point, vendor):
    from csms_project.celery import app
    from csms_project.schedule import beat_schedule
    from ocpp_consumer.tasks import purge_data_transfers

    entry = beat_schedule(sweep_interval=30)["data-transfer-purge"]
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks
    receive(charge_point, "x")
    DataTransferRecord.objects.update(received_at=timezone.now() - timedelta(days=400))
    assert purge_data_transfers() == 1
