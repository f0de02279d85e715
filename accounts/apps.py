from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        from .roles import role_groups_sync

        # After every migrate, so a permission added by a later migration reaches its roles.
        post_migrate.connect(role_groups_sync, dispatch_uid="accounts.role_groups_sync")
