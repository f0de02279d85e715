"""gunicorn's settings for production: `gunicorn -c config/gunicorn.py config.wsgi`.

Each setting can still be changed from the environment: GUNICORN_BIND, WEB_CONCURRENCY (worker
processes) and GUNICORN_TIMEOUT; FORWARDED_ALLOW_IPS names the proxies whose X-Forwarded-Proto
gunicorn believes (gunicorn reads it itself)."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Pages wait on PostgreSQL more than on the CPU, so a few more processes than cores.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
# A worker is replaced after this many requests (at a jittered point, so not all at once): a
# slow leak in any library never grows without bound.
max_requests = 2000
max_requests_jitter = 200
accesslog = "-"
errorlog = "-"
