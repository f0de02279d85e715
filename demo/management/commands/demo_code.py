from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from demo.devices import demo_code


class Command(BaseCommand):
    help = "Print the current two-factor code of a demo staff account (debug mode only)."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"username: no account called {username!r}.")
        try:
            self.stdout.write(demo_code(user))
        except PermissionDenied as refused:
            raise CommandError(str(refused)) from None
        except user.totpdevice_set.model.DoesNotExist:
            raise CommandError(f"username: {username!r} has no demo authenticator.") from None
