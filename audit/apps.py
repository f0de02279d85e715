from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from auditlog import get_logentry_model
        from auditlog.signals import post_log
        from django.db.models.signals import pre_delete, pre_save

        from .entries import refuse_change, refuse_delete, subject_link
        from .models import EntrySubject
        from .registry import audited_models_register

        audited_models_register()
        post_log.connect(subject_link, dispatch_uid="audit.subject_link")
        # The trail is append-only through the ORM too; on PostgreSQL a trigger also refuses
        # UPDATE and DELETE from any SQL (migration 0002).
        for model in (get_logentry_model(), EntrySubject):
            label = model._meta.label_lower
            pre_save.connect(refuse_change, sender=model, dispatch_uid=f"audit.keep.{label}")
            pre_delete.connect(refuse_delete, sender=model, dispatch_uid=f"audit.keep.{label}")
