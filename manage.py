#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main():
    # Production unless told otherwise: those settings refuse to start without their variables,
    # where the development ones would quietly write alerts to var/mail/ instead of sending them.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018 - load the settings now, to report a refusal plainly
    except ImproperlyConfigured as refused:
        # Django would bury this under a traceback ending in an unrelated "apps aren't loaded".
        sys.exit(f"ImproperlyConfigured: {refused}")

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
