"""What `bin/run` prints once the CSMS is up: the URLs, the mode, the next steps.

    python -m csms_project.first_screen --port 8000 --celery-pid 123 --run-pid 122

Waits until the server answers /healthz and the Celery worker has registered
(so that this comes after their own start-up messages), then prints, last on
the screen: where everything is, how to stop, which registration mode is
active, and the steps of a first session, marking the ones already done.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.request

import django

# How long the server and the worker may take to start before the screen is
# printed anyway (it then says which one has not answered).
START_TIMEOUT = 120.0
WORKER_TIMEOUT = 30.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--public-host", default="127.0.0.1", help="host name shown in URLs")
    parser.add_argument("--celery-pid", type=int, help="the worker to wait for")
    parser.add_argument("--run-pid", type=int, help="bin/run's pid, for the stop line")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csms_project.settings")
    django.setup()

    local = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    problems = []
    if not _wait_for_health(f"http://{local}:{args.port}/healthz", START_TIMEOUT):
        problems.append(f"the server did not answer /healthz within {START_TIMEOUT:.0f} s")
    if args.celery_pid and not _wait_for_worker(args.celery_pid, WORKER_TIMEOUT):
        problems.append(f"the Celery worker did not report ready within {WORKER_TIMEOUT:.0f} s")
    sys.stdout.write(first_screen(args, problems))
    sys.stdout.flush()
    return 0


def _wait_for_health(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def _wait_for_worker(pid: int, timeout: float) -> bool:
    """The worker registers in the node registry when ready (monitoring.signals)."""
    from django.db import connection

    from monitoring.models import Node, NodeKind

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if Node.objects.filter(kind=NodeKind.CELERY, pid=pid, stopped_at__isnull=True).exists():
                # Its "ready" line is logged right after the signal that registers it.
                time.sleep(0.3)
                return True
        except Exception:  # the database is being migrated or locked: ask again
            connection.close()
        time.sleep(0.3)
    return False


def first_screen(args, problems: list[str]) -> str:
    from django.conf import settings
    from django.urls import reverse

    base = f"http://{args.public_host}:{args.port}"
    done = _done()

    def url(name: str, query: str = "") -> str:
        return base + reverse(name) + query

    def step(number: int, text: str, key: str | None = None) -> str:
        mark = f"  [{done[key]}]" if key and done.get(key) else ""
        return f"    {number}. {text}{mark}\n"

    stop = f"Ctrl-C here, or kill {args.run_pid}" if args.run_pid else "Ctrl-C here"
    lines = ["", "=" * 78, "\n"]
    lines.append(f"  CSMS is running on {args.host}:{args.port}   (stop: {stop})\n")
    for problem in problems:
        lines.append(f"  !! {problem}: see the messages above\n")
    lines.append(
        f"    Operator console : {url('admin:index')}\n"
        f"    Live dashboard   : {url('monitoring_dashboard')}\n"
        f"    API docs         : {base}/api/docs/\n"
        f"    OCPP             : ws://{args.public_host}:{args.port}/ocpp/{{charge_point_id}}"
        "  (subprotocol ocpp2.0.1 or ocpp1.6)\n"
        f"    Health           : {base}/healthz  /readyz  /metrics\n\n"
    )
    lines.append(f"  {registration_mode(settings)}\n\n")
    lines.append("  Next steps (in another terminal, in this folder):\n")
    lines.append(
        step(1, "Create the operator account:", "operator")
        + "         DJANGO_SUPERUSER_USERNAME=admin DJANGO_SUPERUSER_PASSWORD='choose-one' \\\n"
        "         DJANGO_SUPERUSER_EMAIL=admin@example.com"
        " .venv/bin/python manage.py createsuperuser --noinput\n"
    )
    lines.append(
        step(2, f"Add an id tag (a driver's card): {url('admin:drivers_idtag_add')}", "id_tag")
    )
    lines.append(
        step(
            3,
            f"Price the Default tariff (it starts at 0): {url('admin:billing_tariff_changelist')}",
        )
    )
    lines.append(
        step(4, f"Connect a charger to ws://<this host>:{args.port}/ocpp/<its id>, or simulate:")
        + f"         .venv/bin/python manage.py simulate --url ws://127.0.0.1:{args.port}/ocpp/"
        " --charge-points 2 \\\n"
        "           --sessions-per-hour 60 --session-minutes 1 --meter-interval 10"
        " --duration 180\n"
        "         (it registers its charge points Accepted and creates its id tag SIMTAG)\n"
    )
    pending = url("admin:stations_chargepoint_changelist", "?registration_status__exact=Pending")
    lines.append(step(5, f"Accept charge points waiting as Pending: {pending}", "pending"))
    lines.append(
        step(6, "Watch it: the live dashboard (above); sessions, then their invoices:")
        + f"         {url('admin:stations_transaction_changelist')}\n"
        f"         {url('admin:billing_invoice_changelist')}\n"
        "       Send a command: .venv/bin/python manage.py ocpp_command <id> Reset"
        """ '{"type": "Soft"}'\n"""
    )
    if settings.DEBUG:
        lines.append(
            "\n  This is a development set-up (DJANGO_DEBUG=1"
            + (", SQLite" if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") else "")
            + (", no Redis" if not getattr(settings, "REDIS_URL", "") else "")
            + "). For production: docs/DEPLOYMENT.md\n"
        )
    lines.append("=" * 78 + "\n\n")
    return "".join(lines)


def registration_mode(settings) -> str:
    """One line on what happens to a charge point nobody registered."""
    if not settings.OCPP_AUTO_REGISTER:
        return (
            "Unknown charge points are refused (OCPP_AUTO_REGISTER=0): "
            "add each one in the console first."
        )
    status = settings.OCPP_DEFAULT_REGISTRATION_STATUS
    if status == "Accepted":
        return (
            "LAB MODE: unknown charge points are accepted at once "
            "(OCPP_DEFAULT_REGISTRATION_STATUS=Accepted): any charger that reaches this "
            "port can charge."
        )
    if status == "Pending":
        return (
            "Unknown charge points are registered as Pending: they wait until an operator "
            "accepts them (step 5).\n  Lab mode (accept at once): "
            "OCPP_DEFAULT_REGISTRATION_STATUS=Accepted."
        )
    return (
        f"Unknown charge points are registered as {status} "
        "(OCPP_DEFAULT_REGISTRATION_STATUS): an operator must accept them."
    )


def _done() -> dict[str, str]:
    """What the first steps have already produced, to mark them done (best effort)."""
    from django.contrib.auth import get_user_model

    from drivers.models import IdTag
    from stations.models import ChargePoint

    try:
        operators = get_user_model().objects.filter(is_staff=True, is_active=True).count()
        tags = IdTag.objects.count()
        pending = ChargePoint.objects.filter(registration_status="Pending").count()
    except Exception:  # a database that does not answer now: show the steps plainly
        return {}
    return {
        "operator": f"done: {operators} operator account(s)" if operators else "",
        "id_tag": f"done: {tags} id tag(s)" if tags else "",
        "pending": f"{pending} waiting now" if pending else "",
    }


if __name__ == "__main__":
    sys.exit(main())
