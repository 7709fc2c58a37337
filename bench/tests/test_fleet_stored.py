"""The fleet's nothing-lost query (bench/django_tasks.py fleet-stored) on a database:
1.6 sessions by our transaction id, 2.0.1 ones by the station's, rows per version."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from bench.django_tasks import _transaction_id, fleet_stored
from stations.choices import SessionStatus
from stations.models import ChargePoint, Connector, MeterValue, Transaction

pytestmark = pytest.mark.django_db
AT = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
# A connector holds one session start and one sample per instant: each row its own second.
SECONDS = itertools.count()


def _session(cp_id: str, *, station_tx: str = "", ended: bool = False, rows: int = 0):
    cp, _ = ChargePoint.objects.get_or_create(charge_point_id=cp_id)
    connector, _ = Connector.objects.get_or_create(charge_point=cp, connector_id=1)
    session = Transaction.objects.create(
        charge_point=cp,
        connector=connector,
        id_tag="BENCHTAG00001",
        meter_start=0,
        start_timestamp=AT + timedelta(seconds=next(SECONDS)),
        stop_timestamp=AT + timedelta(hours=1) if ended else None,
        status=SessionStatus.ENDED if ended else SessionStatus.RUNNING,
        ocpp_transaction_id=station_tx,
    )
    for _ in range(rows):
        MeterValue.objects.create(
            charge_point=cp,
            connector=connector,
            transaction=session,
            timestamp=AT + timedelta(seconds=next(SECONDS)),
            value="1",
            measurand="Energy.Active.Import.Register",
            unit="Wh",
            context="Sample.Periodic",
            location="Outlet",
            format="Raw",
        )
    return session


def test_sessions_ends_and_rows_are_counted_per_version():
    old = _session("FLEET-00000", ended=True, rows=3)
    running = _session("FLEET-00000", rows=3)
    _session("FLEET-00001", station_tx="tx-a", ended=True, rows=6)
    _session("FLEET-00001", station_tx="tx-b")
    _session("OTHER-1", station_tx="tx-c", ended=True, rows=3)  # not the fleet's
    stored = fleet_stored("FLEET-", [old.pk, running.pk, 999_999, "tx-a", "tx-b", "tx-gone"])
    assert stored["1.6"] == {
        "sessions_found": 2,
        "missing_transaction_ids": [999_999],
        "sessions_total": 2,
        "sessions_ended": 1,
        "meter_values_periodic": 6,
    }
    assert stored["2.0.1"] == {
        "sessions_found": 2,
        "missing_transaction_ids": ["tx-gone"],
        "sessions_total": 2,
        "sessions_ended": 1,
        "meter_values_periodic": 6,
    }


def test_the_ids_file_tells_the_versions_apart():
    assert _transaction_id("41") == 41
    assert _transaction_id("0b5e3c1a-8f0e-4c1e-9d1a-2f6b7c8d9e0f") == (
        "0b5e3c1a-8f0e-4c1e-9d1a-2f6b7c8d9e0f"
    )
