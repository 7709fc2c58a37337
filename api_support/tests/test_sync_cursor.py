"""Incremental sync: cursor pages and updated_since, with writers committing meanwhile.

The walk a client runs (docs/API.md, Incremental sync) must end with every
row in its latest version, none skipped and none read twice in one version,
also when a write commits long after it stamped its row (a slow transaction)
and when bulk updates and raw SQL change rows (the trigger stamps them).
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from api_support.testing import T0, client_for, make_charge_point, make_operator, make_session
from drivers.models import IdTag
from stations.choices import SessionStatus
from stations.models import ChargePoint, Transaction

VIEW = ("stations.view_transaction", "stations.view_chargepoint", "drivers.view_idtag")
LAG = 1  # seconds: API_SYNC_SAFETY_LAG_SECONDS of these tests


def walk(client, url: str) -> tuple[list[dict], str]:
    """Every page from url until caught up; the rows and the cursor to resume from."""
    rows = []
    while True:
        answer = client.get(url)
        assert answer.status_code == 200, answer.content
        page = answer.json()
        assert page["count"] is None and page["previous"] is None
        rows += page["results"]
        resume = answer["X-Sync-Cursor"]
        if page["next"] is None:
            return rows, resume
        url = page["next"]


@pytest.fixture
def lag(settings):
    settings.API_SYNC_SAFETY_LAG_SECONDS = LAG


@pytest.mark.django_db
def test_a_walk_reads_every_row_once_in_updated_order_and_resumes(lag):
    charge_point = make_charge_point("CP-SYNC", connectors={n: "Available" for n in range(1, 8)})
    sessions = [
        make_session(charge_point, f"T{n}", connector_id=n, energy_wh=100 + n, start=T0)
        for n in range(1, 8)
    ]
    client = client_for(make_operator(*VIEW))
    # Written just now: held back by the lag.
    assert client.get("/api/v1/transactions/?page_mode=cursor").json()["results"] == []
    Transaction.objects.update(updated_at=timezone.now() - timedelta(seconds=10))
    rows, resume = walk(client, "/api/v1/transactions/?page_mode=cursor&page_size=3")
    assert sorted(row["id"] for row in rows) == sorted(s.pk for s in sessions)
    assert len(rows) == len(sessions)
    # Nothing changed: the saved cursor reads nothing more.
    assert walk(client, f"/api/v1/transactions/?cursor={resume}")[0] == []
    # A bulk update (no save(), no auto_now) is a change the next walk reads.
    Transaction.objects.filter(pk=sessions[2].pk).update(stop_reason="Remote")
    time.sleep(LAG + 0.2)
    again, _resume = walk(client, f"/api/v1/transactions/?cursor={resume}")
    assert [row["id"] for row in again] == [sessions[2].pk]
    assert again[0]["stop_reason"] == "Remote"


@pytest.mark.django_db
def test_bad_cursors_and_lists_without_cursors_are_400(lag):
    client = client_for(make_operator(*VIEW, "stations.view_station"))
    answer = client.get("/api/v1/transactions/?cursor=not-a-cursor")
    assert answer.status_code == 400 and "cursor" in answer.json()
    answer = client.get("/api/v1/stations/?page_mode=cursor")
    assert answer.status_code == 400 and "page_mode" in answer.json()
    answer = client.get("/api/v1/transactions/?page_mode=cursor&ordering=-id")
    assert answer.status_code == 400 and "ordering" in answer.json()
    answer = client.get("/api/v1/transactions/?page_mode=sideways")
    assert answer.status_code == 400 and "page_mode" in answer.json()


@pytest.mark.django_db
def test_updated_since_and_before_filter_the_lists():
    charge_point = make_charge_point("CP-WIN")
    old = make_session(charge_point, "OLD", energy_wh=1, start=T0)
    new = make_session(charge_point, "NEW", connector_id=2, energy_wh=1, start=T0)
    Transaction.objects.filter(pk=old.pk).update(updated_at=T0)
    Transaction.objects.filter(pk=new.pk).update(updated_at=T0 + timedelta(days=1))
    client = client_for(make_operator(*VIEW))
    since = (T0 + timedelta(hours=1)).isoformat().replace("+00:00", "Z")

    def ids(query):
        answer = client.get(f"/api/v1/transactions/?{query}")
        assert answer.status_code == 200, answer.content
        return [row["id"] for row in answer.json()["results"]]

    assert ids(f"updated_since={since}") == [new.pk]
    assert ids(f"updated_before={since}") == [old.pk]
    assert client.get("/api/v1/transactions/?updated_since=yesterday").status_code == 400
    for path in ("/api/v1/charge-points/", "/api/v1/id-tags/"):
        assert client.get(f"{path}?updated_since={since}").status_code == 200


@pytest.mark.django_db
def test_the_trigger_stamps_changes_and_ignores_heartbeats():
    charge_point = make_charge_point("CP-HB")
    tag = IdTag.objects.create(id_tag="STAMP")
    ChargePoint.objects.filter(pk=charge_point.pk).update(updated_at=T0)
    IdTag.objects.filter(pk=tag.pk).update(updated_at=T0)
    ChargePoint.objects.filter(pk=charge_point.pk).update(last_heartbeat=timezone.now())
    charge_point.refresh_from_db()
    assert charge_point.updated_at == T0  # a heartbeat is no change to sync
    ChargePoint.objects.filter(pk=charge_point.pk).update(vendor="Acme")
    charge_point.refresh_from_db()
    assert charge_point.updated_at > T0
    with connection.cursor() as cursor:  # raw SQL, as a script or a migration would write
        cursor.execute(
            f"UPDATE {IdTag._meta.db_table} SET status = 'Blocked' WHERE id = %s", [tag.pk]
        )
    tag.refresh_from_db()
    assert tag.updated_at > T0


def _slow_writer(charge_point_pk: int, connector_pk: int, made: list, hold: float) -> None:
    """One session stamped now, committed `hold` seconds later (a slow transaction)."""
    try:
        with transaction.atomic():
            session = Transaction.objects.create(
                charge_point_id=charge_point_pk,
                connector_id=connector_pk,
                id_tag="SLOW",
                meter_start=0,
                start_timestamp=timezone.now(),
                status=SessionStatus.ENDED,
            )
            made.append(session.pk)
            time.sleep(hold)
    finally:
        connections.close_all()


def _busy_writer(charge_point_pk: int, connector_pks: list[int], made: list, stop) -> None:
    """Sessions created and then updated (bulk .update()), quickly, until told to stop."""
    own: list[int] = []
    try:
        number = 0
        while not stop.is_set():
            number += 1
            session = Transaction.objects.create(
                charge_point_id=charge_point_pk,
                connector_id=connector_pks[number % len(connector_pks)],
                id_tag=f"BUSY{number}",
                meter_start=number,
                start_timestamp=timezone.now(),
                status=SessionStatus.ENDED,
            )
            made.append(session.pk)
            own.append(session.pk)
            if number % 3 == 0:  # an earlier session of its own changes again
                Transaction.objects.filter(pk=own[number // 2]).update(energy_wh=number)
            time.sleep(0.02)
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_concurrent_writes_late_commits_included_are_never_skipped_or_repeated(lag):
    charge_point = make_charge_point("CP-RACE", connectors={1: "Available", 2: "Available"})
    connectors = list(charge_point.connectors.values_list("pk", flat=True))
    client = client_for(make_operator(*VIEW))
    made: list[int] = []
    stop = threading.Event()
    busy = threading.Thread(target=_busy_writer, args=(charge_point.pk, connectors, made, stop))
    # Stamped early in the walk, committed well into it: older than rows the walk has
    # already read when it becomes visible.
    slow = threading.Thread(target=_slow_writer, args=(charge_point.pk, connectors[0], made, 0.8))
    writers = [busy, slow]
    seen: dict[int, list[str]] = {}
    url = "/api/v1/transactions/?page_mode=cursor&page_size=4"

    def read_on(url: str) -> str:
        rows, resume = walk(client, url)
        for row in rows:
            seen.setdefault(row["id"], []).append(row["updated_at"])
        return f"/api/v1/transactions/?cursor={resume}&page_size=4"

    url = read_on(url)  # the first request of the process is slow: before the writers
    busy.start()
    time.sleep(0.2)
    slow.start()
    writing_until = time.monotonic() + 2.5
    while time.monotonic() < writing_until:  # an integrator polling while charging goes on
        url = read_on(url)
        time.sleep(0.05)
    stop.set()
    for writer in writers:
        writer.join()
    settled = time.monotonic() + LAG + 0.3
    while time.monotonic() < settled:  # and on, while the last writes age past the lag
        url = read_on(url)
        time.sleep(0.1)
    read_on(url)
    assert len(made) > 10
    assert sorted(seen) == sorted(made)  # none skipped, the slow one included
    for versions in seen.values():
        assert len(versions) == len(set(versions)), versions  # no version read twice
    final = dict(Transaction.objects.values_list("pk", "updated_at"))
    for pk, versions in seen.items():
        assert parse_datetime(versions[-1]) == final[pk]  # the latest version read last
    connections.close_all()
