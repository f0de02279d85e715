from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring protocols and schedules"

    def ready(self) -> None:
        from .results.rule_cache import invalidation_connect

        # The flag rules each process keeps are read again once a lead changes one.
        invalidation_connect()
