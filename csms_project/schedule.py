"""The Celery beat schedule: the periodic sweeps, built by the settings.

Plain data, no Django settings imported: the settings module calls it. A
run that finds its worker busy expires instead of piling up behind it.
"""

from celery.schedules import crontab

# How often the stale-session sweep runs at most (it scans open sessions).
STALE_SWEEP_SECONDS = 600


def celery_beat_schedule(
    *,
    sweep_interval: int,
    relay_interval: int,
    load_management_interval: int,
    session_progress_interval: int,
    data_push_interval: int,
) -> dict:
    """Return CELERY_BEAT_SCHEDULE: the sweeps, meter values, load management, roaming.

    `load_management_interval` (LOADMGMT_SWEEP_SECONDS), `session_progress_interval`
    (OCPI_SESSION_UPDATE_SECONDS) and `data_push_interval` (OCPI_DATA_PUSH_SECONDS)
    are the periods of their tasks; the others are those of `beat_schedule`.
    """
    return {
        **beat_schedule(sweep_interval=sweep_interval, relay_interval=relay_interval),
        **meter_values_schedule(),
        "load-management": _every("loadmanagement.tasks.sweep_sites", load_management_interval),
        "roaming-session-progress": _every(
            "roaming.tasks.push_running_sessions", session_progress_interval
        ),
        "roaming-data-push": _every("roaming.tasks.push_data_changes", data_push_interval),
    }


def meter_values_schedule() -> dict:
    """Roll-ups every 5 minutes, the raw retention hourly (docs/METER_VALUES.md)."""
    return {
        "meter-rollups": _every("stations.tasks.rollup_meter_values", 300),
        "meter-values-retention": _every("stations.tasks.prune_meter_values", 3600),
    }


def _every(task: str, seconds: int) -> dict:
    return {"task": task, "schedule": float(seconds), "options": {"expires": seconds}}


def beat_schedule(*, sweep_interval: int, relay_interval: int = 10) -> dict:
    """Return the sweeps' entries; task names are the dotted paths of the tasks.

    `sweep_interval` (SWEEP_INTERVAL_SECONDS) bounds how long a dead charge
    point is still shown online past its heartbeat timeout; `relay_interval`
    (EVENTS_RELAY_INTERVAL) bounds how long a domain event waits for its
    subscribers when nothing nudged the relay (a broker that was down).
    """
    stale_every = max(sweep_interval, STALE_SWEEP_SECONDS)
    return {
        "outbox-relay": {
            "task": "events.tasks.relay_outbox",
            "schedule": float(relay_interval),
            "options": {"expires": relay_interval},
        },
        "outbox-purge": {
            "task": "events.tasks.purge_outbox",
            "schedule": crontab(minute=29),
            "options": {"expires": 3600},
        },
        "heartbeat-timeouts": {
            "task": "stations.tasks.sweep_heartbeat_timeouts",
            "schedule": float(sweep_interval),
            "options": {"expires": sweep_interval},
        },
        "stale-transactions": {
            "task": "stations.tasks.sweep_stale_transactions",
            "schedule": float(stale_every),
            "options": {"expires": stale_every},
        },
        "reservation-expiry": {
            "task": "stations.tasks.sweep_expired_reservations",
            "schedule": float(sweep_interval),
            "options": {"expires": sweep_interval},
        },
        "journal-prune": {
            "task": "ocpp_consumer.tasks.prune_journal",
            "schedule": crontab(minute=17),
            "options": {"expires": 3600},
        },
        "data-transfer-purge": {
            "task": "ocpp_consumer.tasks.purge_data_transfers",
            "schedule": crontab(minute=23),
            "options": {"expires": 3600},
        },
        "idempotency-purge": {
            "task": "api_support.tasks.purge_idempotency_records",
            "schedule": crontab(minute=41),
            "options": {"expires": 3600},
        },
        "invoice-sweep": {
            "task": "billing.tasks.invoice_sweep",
            "schedule": crontab(minute="*/15"),
            "options": {"expires": 900},
        },
        "station-energy-rollup": {
            "task": "billing.tasks.station_energy_rollup",
            "schedule": crontab(minute=5),
            "options": {"expires": 3600},
        },
        "firmware-campaigns": {
            "task": "firmware.tasks.advance_campaigns",
            "schedule": 60.0,
            "options": {"expires": 60},
        },
        "uploads-purge": {
            "task": "firmware.tasks.purge_uploads",
            "schedule": crontab(minute=47),
            "options": {"expires": 3600},
        },
        # CDRs whose sending task gave up or never ran (a broker that was down).
        "roaming-cdr-sweep": {
            "task": "roaming.tasks.send_unsent_cdrs",
            "schedule": crontab(minute="*/5"),
            "options": {"expires": 300},
        },
        "roaming-journal-prune": {
            "task": "roaming.tasks.prune_exchanges",
            "schedule": crontab(minute=53),
            "options": {"expires": 3600},
        },
    }
