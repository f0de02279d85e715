"""The Celery application. Tasks are discovered in each app's tasks.py."""

import os

from celery import Celery

# Production unless told otherwise: those settings refuse to start without their variables,
# where the development ones would quietly write alerts to var/mail/ instead of sending them.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The embedded file-system broker (no REDIS_URL) needs its folders before the first message.
for _option in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
    _folder = app.conf.broker_transport_options.get(_option)
    if _folder:
        os.makedirs(_folder, exist_ok=True)
