"""The whole beat schedule, as the settings build it."""

from django.conf import settings

from csms_project.celery import app as celery_app
from csms_project.schedule import celery_beat_schedule


def test_every_entry_of_the_settings_schedule_is_a_registered_task():
    celery_app.loader.import_default_modules()
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in celery_app.tasks, (name, entry["task"])


def test_app_entries_run_at_their_configured_intervals():
    schedule = celery_beat_schedule(
        sweep_interval=30,
        relay_interval=5,
        load_management_interval=20,
        session_progress_interval=120,
        data_push_interval=45,
    )
    periods = {
        name: (entry["task"], entry["schedule"], entry["options"]["expires"])
        for name, entry in schedule.items()
    }
    assert periods["meter-rollups"] == ("stations.tasks.rollup_meter_values", 300.0, 300)
    assert periods["meter-values-retention"] == ("stations.tasks.prune_meter_values", 3600.0, 3600)
    assert periods["load-management"] == ("loadmanagement.tasks.sweep_sites", 20.0, 20)
    assert periods["roaming-session-progress"] == (
        "roaming.tasks.push_running_sessions",
        120.0,
        120,
    )
    assert periods["roaming-data-push"] == ("roaming.tasks.push_data_changes", 45.0, 45)
    assert periods["outbox-relay"] == ("events.tasks.relay_outbox", 5.0, 5)
    assert periods["heartbeat-timeouts"][1:] == (30.0, 30)
