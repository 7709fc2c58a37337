"""Start the project's ASGI app under Daphne or uvicorn with experimental patches.

Only for measuring what a change to the project *would* gain, without
changing the project: each patch is applied in this process at start-up,
and README/results say which project change it stands for.

    python -m bench.serve --patch gc,nohealth -- daphne -p 8000 csms_project.asgi:application
    python -m bench.serve -- uvicorn csms_project.asgi:application --ws websockets-sansio

Patches:
  gc          gc.collect(); gc.freeze(); gen-0 threshold BENCH_GC_GEN0 (50000) after start-up
  nohealth    CONN_HEALTH_CHECKS off (Django then skips the `SELECT 1` it runs before the
              first query of every database_sync_to_async call)
  threadfree  database_sync_to_async(..., thread_sensitive=False): ORM calls run on the
              default executor's threads (each its own DB connection) instead of one thread
  hbnodb      Heartbeat answered without a database write (last-seen kept in memory and
              written in batches: the consumer already writes last_seen every 60 s)
  sqlitepersist  CONN_MAX_AGE=60 on SQLite too (settings.py sets it for PostgreSQL only, so on
              SQLite every ORM call opens a connection and closing the last one checkpoints
              the WAL with an fsync)
  nodispatchclose  no `aclose_old_connections()` thread hop before each consumer event
              (Channels 4.2+ AsyncConsumer.dispatch does one per received frame; every ORM
              call through database_sync_to_async already closes stale connections)
  switch      sys.setswitchinterval(BENCH_SWITCH_INTERVAL, default 0.0005 s instead of 0.005):
              the ORM thread, back from PostgreSQL, waits up to the switch interval for the
              GIL while the event loop thread runs
  pgpool      Django 5.1+'s psycopg pool for PostgreSQL (OPTIONS pool, min 2 / max 20,
              CONN_MAX_AGE 0, as Django's docs advise under ASGI): no new connection per
              API request thread
  ssbinding   psycopg server-side parameter binding (DATABASES OPTIONS server_side_binding):
              parameters are sent apart instead of being quoted into the SQL text in Python
  nojsonvalid skip the jsonschema validation of incoming CALL payloads (upper bound of what
              a compiled validator could save; NOT a proposal to stop validating)
"""

from __future__ import annotations

import gc
import os
import sys

PATCHES = (
    "gc",
    "nohealth",
    "threadfree",
    "hbnodb",
    "nojsonvalid",
    "sqlitepersist",
    "nodispatchclose",
    "switch",
    "pgpool",
    "ssbinding",
)


def _patch_threadfree() -> None:
    from channels.db import DatabaseSyncToAsync

    original = DatabaseSyncToAsync.__init__

    def __init__(self, func, thread_sensitive=True, executor=None, **kwargs):
        original(self, func, thread_sensitive=False, executor=executor, **kwargs)

    DatabaseSyncToAsync.__init__ = __init__


def _patch_nohealth() -> None:
    from django.conf import settings
    from django.db import connections

    settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    connections["default"].settings_dict["CONN_HEALTH_CHECKS"] = False


def _patch_sqlitepersist() -> None:
    from django.conf import settings
    from django.db import connections

    settings.DATABASES["default"]["CONN_MAX_AGE"] = 60
    connections["default"].settings_dict["CONN_MAX_AGE"] = 60


def _patch_nodispatchclose() -> None:
    from channels.consumer import get_handler_name

    from ocpp_consumer.consumer import OcppConsumer

    async def dispatch(self, message):
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    OcppConsumer.dispatch = dispatch


def _patch_pgpool() -> None:
    from django.conf import settings
    from django.db import connections

    for target in (settings.DATABASES["default"], connections["default"].settings_dict):
        if "postgresql" not in target["ENGINE"]:
            return
        target["CONN_MAX_AGE"] = 0
        target["CONN_HEALTH_CHECKS"] = False
        target.setdefault("OPTIONS", {})["pool"] = {"min_size": 2, "max_size": 20, "timeout": 10}


def _patch_ssbinding() -> None:
    from django.conf import settings
    from django.db import connections

    for target in (settings.DATABASES["default"], connections["default"].settings_dict):
        if "postgresql" in target["ENGINE"]:
            target.setdefault("OPTIONS", {})["server_side_binding"] = True


def _patch_hbnodb() -> None:
    from django.utils import timezone

    from ocpp_consumer.handlers import HANDLERS
    from stations.timestamps import format_ocpp_datetime

    async def heartbeat(session, payload):
        return {"currentTime": format_ocpp_datetime(timezone.now())}

    HANDLERS["Heartbeat"] = heartbeat


def _patch_nojsonvalid() -> None:
    from ocpp_consumer import framing

    framing._validate = lambda message_type_id, action, payload: None


def main() -> int:
    argv = sys.argv[1:]
    patches: list[str] = []
    if argv[:1] == ["--patch"]:
        patches = [p for p in argv[1].split(",") if p]
        argv = argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    unknown = set(patches) - set(PATCHES)
    if unknown or not argv:
        print(__doc__, file=sys.stderr)
        return 2
    server, server_args = argv[0], argv[1:]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csms_project.settings")
    if server == "daphne":
        import daphne.cli  # installs Twisted's asyncio reactor before anything else

    if "threadfree" in patches:
        _patch_threadfree()
    import csms_project.asgi  # noqa: F401  (django.setup(), the application)

    if "nohealth" in patches:
        _patch_nohealth()
    if "sqlitepersist" in patches:
        _patch_sqlitepersist()
    if "pgpool" in patches:
        _patch_pgpool()
    if "ssbinding" in patches:
        _patch_ssbinding()
    if "hbnodb" in patches:
        _patch_hbnodb()
    if "nodispatchclose" in patches:
        _patch_nodispatchclose()
    if "nojsonvalid" in patches:
        _patch_nojsonvalid()
    print(f"bench.serve: {server} with patches {patches or 'none'}", file=sys.stderr, flush=True)
    if "switch" in patches:
        sys.setswitchinterval(float(os.environ.get("BENCH_SWITCH_INTERVAL", "0.0005")))
    if "gc" in patches:
        gc.collect()
        gc.freeze()
        gc.set_threshold(int(os.environ.get("BENCH_GC_GEN0", "50000")))
    if server == "daphne":
        sys.argv = ["daphne", *server_args]
        daphne.cli.CommandLineInterface.entrypoint()
    elif server == "uvicorn":
        import uvicorn.main

        sys.argv = ["uvicorn", *server_args]
        uvicorn.main.main()
    else:
        print(f"unknown server {server!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
