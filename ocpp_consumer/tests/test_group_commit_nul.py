"""Group commit: text the database cannot store fails no one (SQLite and PostgreSQL).

A NUL or a lone surrogate in an idTag, a meter value or a status info is
legal JSON; PostgreSQL (NUL) and every driver (lone surrogates) refuse it.
Such a write must neither take the other charge points' writes of its batch
down with it nor leave its own charge point without an answer.
"""

from __future__ import annotations

import pytest
from django.db import connection

from billing.services import transaction_start_priced
from ocpp_consumer.group_commit import Write, commit_batch
from ocpp_consumer.meter_samples import meter_samples_from_ocpp
from stations.models import Connector, MeterValue, Transaction
from stations.services import chargepoint_create, connector_status_update, metervalues_record_many
from stations.services.charge_points import connector_pk_cache_clear
from stations.timestamps import parse_ocpp_datetime

pytestmark = pytest.mark.django_db

REFUSES_NUL = connection.vendor == "postgresql"


@pytest.fixture
def charge_points():
    connector_pk_cache_clear()
    return [
        chargepoint_create(charge_point_id=f"GCN-{n}", password="group-commit-key-16")
        for n in range(4)
    ]


def meter_write(charge_point, value: str) -> Write:
    samples = meter_samples_from_ocpp(
        [{"timestamp": "2024-05-01T10:30:00Z", "sampledValue": [{"value": value}]}]
    )
    kwargs = dict(charge_point_pk=charge_point.pk, connector_id=1, transaction_id=None)
    return Write(metervalues_record_many, {**kwargs, "samples": samples}, grouped=True)


def start_write(charge_point, id_tag: str) -> Write:
    return Write(
        transaction_start_priced,
        dict(
            charge_point_pk=charge_point.pk,
            connector_id=2,
            id_tag=id_tag,
            meter_start=0,
            timestamp=parse_ocpp_datetime("2024-05-01T10:00:00Z"),
        ),
    )


def status_write(charge_point, info: str) -> Write:
    return Write(
        connector_status_update,
        dict(
            charge_point_pk=charge_point.pk,
            connector_id=3,
            status="Faulted",
            error_code="OtherError",
            info=info,
        ),
    )


def test_a_batch_with_nul_and_lone_surrogates_commits_every_write(charge_points):
    plain, nul_meter, nul_tag, odd_info = charge_points
    outcomes = commit_batch(
        [
            meter_write(plain, "100"),
            meter_write(nul_meter, "1\x002"),
            start_write(nul_tag, "TAG\x00"),
            status_write(odd_info, "hot \ud800"),
        ]
    )
    assert [ok for ok, _ in outcomes] == [True, True, True, True], outcomes
    values = dict(MeterValue.objects.values_list("charge_point__charge_point_id", "value"))
    assert values["GCN-0"] == "100"
    # Where the database refuses the character it becomes U+FFFD; SQLite keeps a NUL.
    assert values["GCN-1"] == ("1\ufffd2" if REFUSES_NUL else "1\x002")
    session = Transaction.objects.get(charge_point=nul_tag)
    assert session.id_tag == ("TAG\ufffd" if REFUSES_NUL else "TAG\x00")
    # An id tag that cannot exist is unknown: the session is not authorized.
    assert outcomes[2][1][1].status != "Accepted"
    assert Connector.objects.get(charge_point=odd_info, connector_id=3).info == "hot \ufffd"


def test_other_failures_are_not_retried_and_fail_alone(charge_points):
    calls = []

    def boom(**kwargs):
        calls.append(kwargs)
        raise RuntimeError("not about text")

    outcomes = commit_batch([Write(boom, {"note": "a\x00b"}), meter_write(charge_points[0], "7")])
    assert outcomes[0][0] is False and isinstance(outcomes[0][1], RuntimeError)
    assert outcomes[1] == (True, 1)
    # The batch, the write alone, and once more with U+FFFD: then the failure stands.
    assert [c["note"] for c in calls] == ["a\x00b", "a\x00b", "a\ufffdb"]
