from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.models import Heartbeat


@transaction.atomic
def heartbeat_record(*, process: str, hostname: str = "") -> Heartbeat:
    """Upsert the process's row: one row per process, a counter that only grows."""
    now = timezone.now()
    updated = Heartbeat.objects.filter(process=process).update(
        beats=F("beats") + 1, seen_at=now, hostname=hostname
    )
    if not updated:
        Heartbeat.objects.get_or_create(
            process=process, defaults={"hostname": hostname, "seen_at": now, "beats": 1}
        )
    return Heartbeat.objects.get(process=process)
