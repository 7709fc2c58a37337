"""The Celery app: `celery -A csms_project worker -B` runs tasks and the beat schedule."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csms_project.settings")

app = Celery("csms_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
