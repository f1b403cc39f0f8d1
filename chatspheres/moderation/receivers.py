"""What moderation hears from other apps without them importing it: a report was filed."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from chatspheres.moderation.services import audit_report_filed
from chatspheres.safety.models import Report


@receiver(post_save, sender=Report)
def log_report_filed(sender: type[Report], instance: Report, created: bool, **kwargs: Any) -> None:
    """A new report gets its line in the audit log, in the transaction that saved it."""
    if created:
        audit_report_filed(report=instance)
