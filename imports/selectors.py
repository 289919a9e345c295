"""Reads for lead imports."""

from django.contrib.auth.models import User
from django.db.models import QuerySet

from core.roles import is_manager
from imports.models import ImportBatch


def import_batches_visible(*, user: User) -> QuerySet[ImportBatch]:
    """The batches a user may open: their own; managers see everyone's."""
    batches = ImportBatch.objects.select_related("created_by")
    return batches if is_manager(user) else batches.filter(created_by=user)


def import_batches_recent(*, user: User, limit: int = 10) -> list[ImportBatch]:
    """The latest batches for the upload page, without their files."""
    return list(import_batches_visible(user=user).defer("content", "outcomes")[:limit])
