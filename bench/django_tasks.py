"""Django-side steps of the benchmark, run in the environment of the server under test.

    python -m bench.django_tasks prepare --tags 1000     # migrate, id tags, empty big tables
    python -m bench.django_tasks online --prefix ST-     # how many of those are online
    python -m bench.django_tasks command --ids A,B --count 300 --concurrency 1 --json out.json

`command` sends Reset commands through `ocpp_consumer.commands.command_send`
(the one way the project reaches a charge point: a Command row, the channel
layer, the consumer holding the socket, the answer recorded) or, with
`--via api` (or `auto`, when the endpoint exists), through the REST API
`POST /api/v1/charge-points/{id}/commands/reset/` with token authentication.
It only measures; it never fails on time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csms_project.settings")
    import django

    django.setup()


def prepare(tags: int, tag_format: str) -> dict:
    from django.core.management import call_command
    from django.db import connection

    from drivers.models import IdTag
    from ocpp_consumer.models import Command, JournalEntry
    from stations.models import (
        ChargePoint,
        ConnectorStatusLog,
        MeterValue,
        OrphanStopTransaction,
        Transaction,
    )

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    from events.models import OutboxMessage

    big = [JournalEntry, MeterValue, ConnectorStatusLog, OrphanStopTransaction, Command]
    big.append(OutboxMessage)  # a run's invoicing backlog must not carry over
    if connection.vendor == "postgresql":
        tables = ", ".join(model._meta.db_table for model in [*big, Transaction])
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {tables} CASCADE")
    else:
        for model in big:
            model.objects.all()._raw_delete(model.objects.db)
        try:
            Transaction.objects.all().delete()
        except Exception:  # protected by invoices: keep them, the runs still work
            pass
    # No server runs yet: whatever an earlier (perhaps collapsed) run left "online" is not.
    ChargePoint.objects.update(is_online=False, connection_channel="")
    IdTag.objects.bulk_create(
        [IdTag(id_tag=tag_format.format(i), note="benchmark") for i in range(tags)],
        ignore_conflicts=True,
        batch_size=1000,
    )
    _default_tariff()
    return {
        "database": connection.vendor,
        "id_tags": IdTag.objects.filter(note="benchmark").count(),
        "seconds": round(time.perf_counter() - started, 2),
        "commit_probe": commit_probe(),
    }


def _default_tariff() -> None:
    """A default tariff, so that every ended benchmark session is billable (as deployed)."""
    from decimal import Decimal

    from billing.models import Tariff

    if not Tariff.objects.filter(is_default=True).exists():
        Tariff.objects.create(
            name="Benchmark default", is_default=True, price_per_kwh=Decimal("0.30")
        )


def invoicing() -> dict:
    """Sessions ended, invoices issued, and the outbox backlog and lag, now."""
    from django.db.models import F
    from django.utils import timezone

    from bench.loadgen import latency_summary
    from billing.models import BillingFailure, Invoice
    from events.models import OutboxMessage
    from stations.models import Transaction

    now = timezone.now()
    pending = OutboxMessage.objects.filter(handled_at__isnull=True, expired=False)
    by_subscriber: dict[str, int] = {}
    for name in pending.values_list("subscriber", flat=True):
        by_subscriber[name] = by_subscriber.get(name, 0) + 1
    oldest = pending.order_by("created_at").values_list("created_at", flat=True).first()
    handled = OutboxMessage.objects.filter(subscriber="invoicing", handled_at__isnull=False)
    lags = [
        lag.total_seconds() * 1000
        for lag in handled.annotate(lag=F("handled_at") - F("created_at")).values_list(
            "lag", flat=True
        )
    ]
    return {
        "sessions_ended": Transaction.objects.filter(stop_timestamp__isnull=False).count(),
        # The plausibility rules dispute a session instead of billing it (no invoice).
        "sessions_disputed": Transaction.objects.filter(
            stop_timestamp__isnull=False, disputed_at__isnull=False
        ).count(),
        "invoices": Invoice.objects.count(),
        "billing_failures": BillingFailure.objects.count(),
        "outbox_pending": by_subscriber,
        "outbox_oldest_pending_s": round((now - oldest).total_seconds(), 1) if oldest else None,
        "invoicing_lag": latency_summary(lags),
    }


def fleet_stored(prefix: str, transaction_ids: list[int | str]) -> dict:
    """What the database holds of a fleet run, per OCPP version: the sessions of the
    answered transaction ids (1.6: our numbers, the primary key; 2.0.1: the stations'
    own, ocpp_transaction_id), how many ended, and the periodic meter value rows."""
    from django.db.models import Q

    from stations.models import MeterValue, Transaction

    ours = Transaction.objects.filter(charge_point__charge_point_id__startswith=prefix)
    periodic = MeterValue.objects.filter(
        charge_point__charge_point_id__startswith=prefix, context="Sample.Periodic"
    )
    # A 2.0.1 session is the one with the station's transaction id.
    of_201 = ~Q(ocpp_transaction_id="")
    by_version = {
        "1.6": (
            ours.exclude(of_201),
            "pk",
            periodic.exclude(transaction__isnull=False, transaction__ocpp_transaction_id__gt=""),
            [i for i in transaction_ids if isinstance(i, int)],
        ),
        "2.0.1": (
            ours.filter(of_201),
            "ocpp_transaction_id",
            periodic.filter(transaction__ocpp_transaction_id__gt=""),
            [i for i in transaction_ids if isinstance(i, str)],
        ),
    }
    result = {}
    for version, (sessions, key, rows, ids) in by_version.items():
        found = set()
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            found.update(sessions.filter(**{f"{key}__in": chunk}).values_list(key, flat=True))
        result[version] = {
            "sessions_found": len(found),
            "missing_transaction_ids": sorted(set(ids) - found)[:50],
            "sessions_total": sessions.count(),
            "sessions_ended": sessions.filter(stop_timestamp__isnull=False).count(),
            "meter_values_periodic": rows.count(),
        }
    return result


def _transaction_id(line: str) -> int | str:
    """A 1.6 transactionId is a number, a 2.0.1 one the station's string."""
    return int(line) if line.isdigit() else line


def commit_probe(n: int = 200) -> dict:
    """Latency of a one-row UPDATE committed on its own (the disk's fsync shows here).

    A server that commits once per message on one thread cannot exceed
    1000 / p50 messages per second, whatever its CPU.
    """
    from django.db import connection

    from bench.loadgen import latency_summary

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_commit_probe (id integer PRIMARY KEY, n integer)"
        )
        cursor.execute("DELETE FROM bench_commit_probe")
        cursor.execute("INSERT INTO bench_commit_probe VALUES (1, 0)")
        timings = []
        for _ in range(n):
            started = time.perf_counter()
            cursor.execute("UPDATE bench_commit_probe SET n = n + 1 WHERE id = 1")
            timings.append((time.perf_counter() - started) * 1000)
    summary = latency_summary(timings)
    return {k: summary[k] for k in ("p50_ms", "p99_ms", "mean_ms")}


def online(prefix: str, count: int) -> dict:
    """How many of this run's charge points the database shows online (and others too)."""
    from stations.models import ChargePoint

    ids = [f"{prefix}{i:05d}" for i in range(count)]
    ours = ChargePoint.objects.filter(charge_point_id__in=ids)
    others = ChargePoint.objects.filter(charge_point_id__startswith=prefix).exclude(
        charge_point_id__in=ids
    )
    return {
        "total": ours.count(),
        "online": ours.filter(is_online=True).count(),
        "others_online": others.filter(is_online=True).count(),
    }


def _api_token() -> str:
    from rest_framework.authtoken.models import Token

    from drivers.models import User

    user, created = User.objects.get_or_create(
        username="bench-operator", defaults={"is_staff": True, "is_superuser": True}
    )
    if created:
        user.set_unusable_password()
        user.save()
    return Token.objects.get_or_create(user=user)[0].key


def _percentiles(values: list[float]) -> dict:
    from bench.loadgen import latency_summary

    return latency_summary(values)


async def _via_shell(ids: list[str], count: int, concurrency: int, timeout: float) -> dict:
    from ocpp_consumer import commands

    latencies: list[float] = []
    outcomes: dict[str, int] = {}

    async def worker(own_ids: list[str], n: int) -> None:
        for i in range(n):
            started = time.perf_counter()
            try:
                command = await commands.command_send(
                    charge_point_id=own_ids[i % len(own_ids)],
                    action="Reset",
                    payload={"type": "Soft"},
                    source="bench",
                    timeout=timeout,
                )
                outcome = command.status
            except commands.CommandError as exc:
                outcome = type(exc).__name__
            latencies.append((time.perf_counter() - started) * 1000)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1

    # Warm-up: the first command of a process opens connections and caches.
    await worker(ids[:1], 3)
    latencies.clear()
    outcomes.clear()
    shares = [ids[w::concurrency] for w in range(concurrency)]
    started = time.perf_counter()
    await asyncio.gather(*(worker(share, count // concurrency) for share in shares if share))
    seconds = time.perf_counter() - started
    return {
        "via": "command_send",
        "commands": len(latencies),
        "commands_per_s": round(len(latencies) / seconds, 1),
        "outcomes": outcomes,
        "latency": _percentiles(latencies),
    }


def _via_api(base: str, ids: list[str], count: int, concurrency: int, timeout: float) -> dict:
    import http.client
    from concurrent.futures import ThreadPoolExecutor
    from urllib.parse import quote, urlsplit

    token = _api_token()
    parts = urlsplit(base)
    latencies: list[float] = []
    outcomes: dict[str, int] = {}

    def worker(own_ids: list[str], n: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout + 10)
        for i in range(n):
            path = f"/api/v1/charge-points/{quote(own_ids[i % len(own_ids)])}/commands/reset/"
            started = time.perf_counter()
            conn.request(
                "POST",
                path,
                body=json.dumps({"type": "Soft"}),
                headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
            )
            response = conn.getresponse()
            body = response.read()
            latencies.append((time.perf_counter() - started) * 1000)
            key = str(response.status)
            try:
                key += " " + str(json.loads(body).get("status", ""))
            except (ValueError, AttributeError):
                pass
            outcomes[key] = outcomes.get(key, 0) + 1
        conn.close()

    worker(ids[:1], 3)
    latencies.clear()
    outcomes.clear()
    shares = [ids[w::concurrency] for w in range(concurrency)]
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda share: worker(share, count // concurrency), [s for s in shares if s]))
    seconds = time.perf_counter() - started
    return {
        "via": "api",
        "commands": len(latencies),
        "commands_per_s": round(len(latencies) / seconds, 1),
        "outcomes": outcomes,
        "latency": _percentiles(latencies),
    }


def api_available(base: str, charge_point_id: str) -> bool:
    """True when POST .../commands/reset/ is routed (anything but 404/405 without auth)."""
    import http.client
    from urllib.parse import quote, urlsplit

    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request(
        "POST", f"/api/v1/charge-points/{quote(charge_point_id)}/commands/reset/", body=b"{}"
    )
    status = conn.getresponse().status
    conn.close()
    return status not in (404, 405)


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="task", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--tags", type=int, default=1000)
    p.add_argument("--tag-format", default="BENCHTAG{:05d}")
    p = sub.add_parser("online")
    p.add_argument("--prefix", required=True)
    p.add_argument("--count", type=int, required=True)
    sub.add_parser("invoicing")
    p = sub.add_parser("fleet-stored")
    p.add_argument("--prefix", required=True)
    p.add_argument("--ids-file", required=True, help="transaction ids (1.6 and 2.0.1), one a line")
    p = sub.add_parser("command")
    p.add_argument("--ids", required=True, help="comma-separated charge point ids")
    p.add_argument("--count", type=int, default=300)
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--via", choices=["shell", "api", "auto"], default="auto")
    p.add_argument("--base", default="http://127.0.0.1:8000", help="server, for --via api")
    p.add_argument("--json")
    args = parser.parse_args()
    _setup()
    if args.task == "prepare":
        result = prepare(args.tags, args.tag_format)
    elif args.task == "online":
        result = online(args.prefix, args.count)
    elif args.task == "invoicing":
        result = invoicing()
    elif args.task == "fleet-stored":
        with open(args.ids_file) as ids:
            lines = (line.strip() for line in ids)
            result = fleet_stored(args.prefix, [_transaction_id(line) for line in lines if line])
    else:
        ids = args.ids.split(",")
        via = args.via
        if via == "auto":
            via = "api" if api_available(args.base, ids[0]) else "shell"
        if via == "api" and not api_available(args.base, ids[0]):
            result = {"unavailable": True, "via": "api"}
        elif via == "api":
            result = _via_api(args.base, ids, args.count, args.concurrency, args.timeout)
        else:
            result = asyncio.run(_via_shell(ids, args.count, args.concurrency, args.timeout))
        result["concurrency"] = args.concurrency
        result["api_available"] = via == "api" and not result.get("unavailable")
    text = json.dumps(result, indent=2)
    if getattr(args, "json", None):
        with open(args.json, "w") as out:
            out.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
