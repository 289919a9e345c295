from django.conf import settings
from django.db import models
from django.db.models import Q


class ImportBatch(models.Model):
    """An uploaded CSV of leads, kept between its preview and its import so the file is never
    lost: the marketer reviews the per-row report, then imports the valid rows; what the import
    did per row stays on the batch (``outcomes``) with the file, for the errors download."""

    class Status(models.TextChoices):
        PREVIEW = "preview", "Awaiting review"
        IMPORTED = "imported", "Imported"

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="import_batches"
    )
    file_name = models.CharField(max_length=255)
    # The file decoded (UTF-8); at most 5 MB, checked on upload.
    content = models.TextField()
    row_count = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PREVIEW)
    created_at = models.DateTimeField(auto_now_add=True)
    imported_at = models.DateTimeField(null=True, blank=True)
    created_count = models.PositiveIntegerField(default=0)
    matched_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    # Per data row at import time: {"line", "email", "outcome", "filled", "errors", "lead"}.
    outcomes = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["preview", "imported"]), name="importbatch_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="preview", imported_at__isnull=True)
                | Q(status="imported", imported_at__isnull=False),
                name="importbatch_imported_at_matches_status",
            ),
        ]
        indexes = [
            models.Index(fields=["created_by", "-created_at"], name="importbatch_user_time_idx")
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"

    @property
    def is_imported(self) -> bool:
        return self.status == self.Status.IMPORTED
