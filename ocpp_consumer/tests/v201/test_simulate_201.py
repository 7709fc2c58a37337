"""`manage.py simulate --ocpp-version 2.0.1` (and mixed fleets) against the project's own
Daphne, a real process on 127.0.0.1 sharing the test database.

The simulator drives, and this CSMS is checked: what it stored for sessions
told as TransactionEvents is what it stores for 1.6 sessions (the simulator
app imports nothing of the CSMS, so the test lives with the adapter's).
"""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from csms_project import testing
from drivers.models import IdTag
from stations.models import ChargePoint, MeterValue, Transaction

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SESSIONS = (
    *("--sessions-per-hour", "7200", "--session-minutes", "0.02", "--meter-interval", "0.3"),
    *("--heartbeat-interval", "1", "--seed", "5", "--quiet", "--no-setup"),
)


@pytest.fixture
def ws_url(tmp_path):
    """Daphne on 127.0.0.1 (in-memory channel layer, Celery broker in memory)."""
    env = testing.process_env(CELERY_BROKER_URL="memory://")
    env.pop("REDIS_URL", None)
    with testing.daphne_node(env, tmp_path) as base_url:
        yield base_url.replace("http://", "ws://") + "/ocpp/"


def simulate(tmp_path, *args: str) -> dict:
    path = tmp_path / "report.json"
    call_command("simulate", *args, *SESSIONS, "--json", str(path), stdout=io.StringIO())
    return json.loads(path.read_text())


def test_a_2_0_1_fleet_boots_heartbeats_and_charges(ws_url, tmp_path):
    IdTag.objects.bulk_create([IdTag(id_tag=f"SIMTAG{n:04d}") for n in range(1, 9)])
    report = simulate(
        tmp_path,
        *("--url", ws_url, "--ocpp-version", "2.0.1", "--charge-points", "2"),
        *("--duration", "4", "--id-tag-count", "8"),
    )

    sent = report["sent"]
    assert sent["BootNotification"]["answered"] == 2
    assert sent["Heartbeat"]["answered"] > 0
    assert sent["StatusNotification"]["answered"] > 0
    assert sent["Authorize"]["answered"] > 0
    assert sent["TransactionEvent"]["answered"] > 0
    assert report["totals"]["errors"] == 0, report
    assert report["boots_not_accepted"] == {}
    sessions = report["sessions"]
    assert sessions["started"] == sessions["completed"] >= 1
    assert sessions["refused"] == sessions["failed"] == 0
    assert list(report["versions"]) == ["2.0.1"]

    charge_points = ChargePoint.objects.filter(charge_point_id__startswith="SIM-")
    assert {cp.ocpp_version for cp in charge_points} == {"2.0.1"}
    transactions = Transaction.objects.filter(charge_point__in=charge_points)
    assert transactions.count() == sessions["started"]
    assert all(len(t.ocpp_transaction_id) == 36 for t in transactions)  # the uuid4s
    assert not transactions.filter(stop_timestamp__isnull=True).exists()
    assert {t.stop_reason for t in transactions} == {"Local"}
    assert all(t.meter_stop >= t.meter_start for t in transactions)
    assert MeterValue.objects.filter(
        transaction__in=transactions, measurand="Energy.Active.Import.Register"
    ).exists()


def test_a_mixed_fleet_charges_in_both_versions(ws_url, tmp_path):
    IdTag.objects.bulk_create([IdTag(id_tag=f"SIMTAG{n:04d}") for n in range(1, 9)])
    report = simulate(
        tmp_path,
        *("--url", ws_url, "--ocpp-version", "mixed", "--charge-points", "4"),
        *("--duration", "4", "--id-tag-count", "8"),
    )

    assert report["totals"]["errors"] == 0, report
    versions = report["versions"]
    assert list(versions) == ["1.6", "2.0.1"]
    for part in versions.values():
        assert part["connections"]["connected_at_end"] == 2
        assert part["sessions"]["started"] == part["sessions"]["completed"] >= 1
    by_version = dict(
        ChargePoint.objects.filter(charge_point_id__startswith="SIM-").values_list(
            "charge_point_id", "ocpp_version"
        )
    )
    assert by_version == {
        "SIM-00001": "1.6",
        "SIM-00002": "2.0.1",
        "SIM-00003": "1.6",
        "SIM-00004": "2.0.1",
    }
    for version in ("1.6", "2.0.1"):
        done = Transaction.objects.filter(
            charge_point__ocpp_version=version, stop_timestamp__isnull=False
        )
        assert done.count() == versions[version]["sessions"]["completed"]
