from django.db.models import QuerySet

from core.models import Heartbeat, Notification


def heartbeat_list() -> QuerySet[Heartbeat]:
    return Heartbeat.objects.order_by("process")


# --- notifications (the header bell and /notifications/)
def notification_unread_count(*, user) -> int:
    """One COUNT on the partial index of unread notifications."""
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def notification_page(*, user, page: int = 1, limit: int = 30) -> tuple[list, bool]:
    """One page of the user's notifications, newest first, and whether another follows
    (no COUNT over the table: one more row than shown is fetched)."""
    offset = (max(page, 1) - 1) * limit
    rows = list(Notification.objects.filter(user=user)[offset : offset + limit + 1])
    return rows[:limit], len(rows) > limit
