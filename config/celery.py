"""The Celery application. Tasks live in each app's tasks.py; the periodic schedule is kept in code."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("safetrain")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
