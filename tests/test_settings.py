"""Production settings refuse to start without their secrets; local ones need no server."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "x" * 60,
    "DJANGO_ALLOWED_HOSTS": "monitor.example.org",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test",
    "SITE_URL": "https://monitor.example.org",
}


def django_check(**overrides):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.pop("DATABASE_URL", None)
    env.update(overrides)
    env = {k: v for k, v in env.items() if v is not None}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_starts_with_its_settings():
    assert django_check(**PRODUCTION).returncode == 0


def test_production_refuses_to_start_without_a_secret_key():
    finished = django_check(**{**PRODUCTION, "DJANGO_SECRET_KEY": None})
    assert finished.returncode != 0
    assert "ImproperlyConfigured" in finished.stderr
    assert "DJANGO_SECRET_KEY" in finished.stderr


def test_production_refuses_to_start_without_allowed_hosts():
    finished = django_check(**{**PRODUCTION, "DJANGO_ALLOWED_HOSTS": None})
    assert finished.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS" in finished.stderr


def test_production_refuses_an_empty_allowed_hosts():
    finished = django_check(**{**PRODUCTION, "DJANGO_ALLOWED_HOSTS": ""})
    assert finished.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS" in finished.stderr


def test_local_settings_need_nothing_set():
    finished = django_check(DJANGO_SETTINGS_MODULE="config.settings.local")
    assert finished.returncode == 0, finished.stderr


def test_production_refuses_to_start_without_the_site_address_for_email_links():
    finished = django_check(**{**PRODUCTION, "SITE_URL": None})
    assert finished.returncode != 0
    assert "SITE_URL" in finished.stderr


def run_unset(*command):
    """A process started with DJANGO_SETTINGS_MODULE unset and none of production's variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    for name in ("DATABASE_URL", "SITE_URL", "REDIS_URL"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


def test_manage_py_without_a_settings_module_is_production_and_names_what_is_missing():
    finished = run_unset("manage.py", "check")
    assert finished.returncode != 0
    assert "ImproperlyConfigured" in finished.stderr
    for name in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "SITE_URL"):
        assert name in finished.stderr


def test_a_celery_worker_without_a_settings_module_is_production():
    show = "import os, config.celery; print(os.environ['DJANGO_SETTINGS_MODULE'])"
    refused = run_unset("-c", show)
    assert refused.returncode != 0
    assert "config.settings.production" in refused.stderr
    assert "DJANGO_SECRET_KEY" in refused.stderr
    # With production's variables (and still no module named) it starts on those settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update({k: v for k, v in PRODUCTION.items() if k != "DJANGO_SETTINGS_MODULE"})
    started = subprocess.run(
        [sys.executable, "-c", show], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "config.settings.production"


def test_the_wsgi_application_defaults_to_production_too():
    refused = run_unset("-c", "import config.wsgi")
    assert refused.returncode != 0
    assert "DJANGO_SECRET_KEY" in refused.stderr


def test_production_does_not_install_the_demo_or_the_benchmarks():
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.pop("DATABASE_URL", None)
    env.update(PRODUCTION)
    finished = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.apps import apps; "
            "print(','.join(c.label for c in apps.get_app_configs()))",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    labels = finished.stdout.strip().split(",")
    assert "patients" in labels  # the apps were listed at all
    assert "demo" not in labels
    assert "benchmarks" not in labels
