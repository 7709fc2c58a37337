"""The Celery beat schedule: the periodic sweeps, built by the settings."""


def beat_schedule(*, sweep_interval: int) -> dict:
    """Return CELERY_BEAT_SCHEDULE; task names are the dotted paths of the tasks."""
    return {}
