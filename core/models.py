from django.db import models


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Heartbeat(models.Model):
    """Last time a background process proved it runs (beat schedules, the worker executes)."""

    process = models.CharField(max_length=40, unique=True)
    hostname = models.CharField(max_length=255, blank=True)
    beats = models.PositiveBigIntegerField(default=0)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.process} @ {self.seen_at:%Y-%m-%d %H:%M:%S}"
