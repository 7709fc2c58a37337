"""Inside Django: the durable writes of many charge points, batch by batch, as the writers run them.

Run by `bench.scenarios.writer` in its own process (DJANGO_SETTINGS_MODULE
and DATABASE_URL set). It drives the group commit's `commit_batch` with the
handlers' own service calls: for each cycle, one batch of StartTransaction
(one per charge point), `--meter-values` batches of MeterValues (three
sampled values each) and one batch of StopTransaction. It measures, per
message type, the CPU time of this process (the writer's work: building
and compiling queries, model instances, psycopg; not PostgreSQL's) and the
queries sent. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import timedelta
from decimal import Decimal

import django

MEASURANDS = (
    ("Energy.Active.Import.Register", "Wh"),
    ("Power.Active.Import", "W"),
    ("Current.Import", "A"),
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--charge-points", type=int, default=100)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--meter-values", type=int, default=5)
    args = parser.parse_args()
    django.setup()
    print(json.dumps(measure(args)))


def measure(args) -> dict:
    import events.relay

    # The relay's nudge queues a Celery task per commit in production: not the writer's work.
    nudge, events.relay._nudge = events.relay._nudge, lambda subscriber: None
    try:
        return _measure(args)
    finally:
        events.relay._nudge = nudge


def _measure(args) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from billing.models import Tariff
    from billing.services import transaction_start_priced
    from drivers.models import IdTag
    from ocpp_consumer.group_commit import Write, commit_batch
    from stations.models import ChargePoint, Connector
    from stations.services import transaction_stop
    from stations.services.meter_values import MeterSample, metervalues_record_many

    Tariff.objects.get_or_create(
        name="bench-writer", is_default=True, defaults={"price_per_kwh": Decimal("0.30")}
    )
    registered = timezone.now() - timedelta(days=1)
    charge_points = []
    for number in range(args.charge_points):
        charge_point, _ = ChargePoint.objects.get_or_create(
            charge_point_id=f"WRITER-{number:05d}",
            defaults={"registration_status": "Accepted"},
        )
        ChargePoint.objects.filter(pk=charge_point.pk).update(created_at=registered)
        Connector.objects.get_or_create(charge_point=charge_point, connector_id=1)
        IdTag.objects.get_or_create(
            id_tag=f"WRITER-TAG-{number:05d}", defaults={"status": "Accepted"}
        )
        charge_points.append(charge_point.pk)

    cpu = {"StartTransaction": 0.0, "MeterValues": 0.0, "StopTransaction": 0.0}
    queries = dict.fromkeys(cpu, 0)
    counts = dict.fromkeys(cpu, 0)

    def run(action: str, writes: list) -> list:
        with CaptureQueriesContext(connection) as captured:
            started = time.process_time()
            outcomes = commit_batch(writes)
            cpu[action] += time.process_time() - started
        queries[action] += len(captured)
        counts[action] += len(writes)
        failed = [value for ok, value in outcomes if not ok]
        if failed:
            raise SystemExit(f"{action} failed: {failed[0]!r}")
        return [value for _, value in outcomes]

    base = timezone.now() - timedelta(hours=2)
    meter = 0
    for cycle in range(args.cycles + 1):  # the first cycle warms up and is not counted
        if cycle == 1:
            for table in (cpu, queries, counts):
                table.update(dict.fromkeys(table, 0))
        start = base + timedelta(seconds=cycle * 60 + 1)
        started = run(
            "StartTransaction",
            [
                Write(
                    transaction_start_priced,
                    dict(
                        charge_point_pk=pk,
                        connector_id=1,
                        id_tag=f"WRITER-TAG-{number:05d}",
                        meter_start=meter,
                        timestamp=start,
                    ),
                )
                for number, pk in enumerate(charge_points)
            ],
        )
        sessions = [session.pk for session, _ in started]
        for sample in range(args.meter_values):
            meter += 100
            at = start + timedelta(seconds=sample + 1)
            run(
                "MeterValues",
                [
                    Write(
                        metervalues_record_many,
                        dict(
                            charge_point_pk=pk,
                            connector_id=1,
                            transaction_id=sessions[number],
                            samples=[
                                MeterSample(
                                    timestamp=at,
                                    value=str(meter) if unit == "Wh" else "7000",
                                    measurand=measurand,
                                    unit=unit,
                                    context="Sample.Periodic",
                                    location="Outlet",
                                    value_format="Raw",
                                )
                                for measurand, unit in MEASURANDS
                            ],
                        ),
                        grouped=True,
                    )
                    for number, pk in enumerate(charge_points)
                ],
            )
        meter += 100
        run(
            "StopTransaction",
            [
                Write(
                    transaction_stop,
                    dict(
                        charge_point_pk=pk,
                        transaction_id=sessions[number],
                        meter_stop=meter,
                        timestamp=start + timedelta(seconds=30),
                    ),
                )
                for number, pk in enumerate(charge_points)
            ],
        )
    per_action = {
        action: {
            "messages": counts[action],
            "cpu_us_per_message": round(cpu[action] / counts[action] * 1e6, 1),
            "queries_per_message": round(queries[action] / counts[action], 2),
        }
        for action in cpu
    }
    total = sum(counts.values())
    return {
        "actions": per_action,
        "cpu_us_per_message": round(sum(cpu.values()) / total * 1e6, 1),
        "queries_per_message": round(sum(queries.values()) / total, 2),
        "charge_points": args.charge_points,
        "cycles": args.cycles,
        "meter_values": args.meter_values,
    }


if __name__ == "__main__":
    main()
