"""OCPP 2.0.1 DataTransfer from a station: the 1.6 vendor handlers, records and quotas."""

from __future__ import annotations

import pytest

from stations.models import DataTransferRecord
from stations.services.data_transfer import data_transfer_handler, data_transfer_unregister

from .station import answer_201, station_201

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def vendor():
    """A vendor extension answering pong:<data>, or UnknownMessageId for other messages."""

    @data_transfer_handler("com.acme")
    def handle(*, charge_point_pk, message_id, data):
        if message_id != "ping":
            return "UnknownMessageId", None
        return "Accepted", f"pong:{data}"

    yield
    data_transfer_unregister("com.acme")


async def test_an_unknown_vendor_is_answered_unknown_vendor_id(charge_point_socket):
    socket = await station_201(charge_point_socket)
    payload = {"vendorId": "com.nobody", "messageId": "hello", "data": "x"}
    frame = await socket.call("DataTransfer", payload, "dt-1")
    assert frame == [3, "dt-1", {"status": "UnknownVendorId"}]
    record = await DataTransferRecord.objects.aget()
    assert (record.vendor_id, record.message_id, record.data, record.unique_id) == (
        "com.nobody",
        "hello",
        "x",
        "dt-1",
    )


@pytest.mark.usefixtures("vendor")
async def test_a_vendor_handler_answers_and_json_data_reaches_it_as_text(charge_point_socket):
    socket = await station_201(charge_point_socket)
    payload = {"vendorId": "com.acme", "messageId": "ping", "data": {"n": [1, "é"]}}
    frame = await socket.call("DataTransfer", payload, "dt-2")
    assert frame == [3, "dt-2", {"status": "Accepted", "data": 'pong:{"n":[1,"é"]}'}]
    record = await DataTransferRecord.objects.aget()
    assert (record.data, record.response_status) == ('{"n":[1,"é"]}', "Accepted")


@pytest.mark.usefixtures("vendor")
async def test_an_unknown_message_is_answered_unknown_message_id(charge_point_socket):
    socket = await station_201(charge_point_socket)
    result = await answer_201(socket, "DataTransfer", {"vendorId": "com.acme", "messageId": "x"})
    assert result == {"status": "UnknownMessageId"}


@pytest.mark.usefixtures("vendor")
async def test_past_the_rate_limit_it_is_rejected_unstored(charge_point_socket, settings):
    settings.OCPP_DATA_TRANSFER_RATE_LIMIT = 1
    socket = await station_201(charge_point_socket)
    first = {"vendorId": "com.acme", "messageId": "ping", "data": "1"}
    assert (await answer_201(socket, "DataTransfer", first, "a"))["status"] == "Accepted"
    assert await answer_201(socket, "DataTransfer", first, "b") == {"status": "Rejected"}
    assert await DataTransferRecord.objects.acount() == 1
