from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        from .middleware import sign_in_remember
        from .roles import role_groups_sync

        # After every migrate, so a permission added by a later migration reaches its roles.
        post_migrate.connect(role_groups_sync, dispatch_uid="accounts.role_groups_sync")
        user_logged_in.connect(sign_in_remember, dispatch_uid="accounts.sign_in_remember")
