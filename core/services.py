from collections.abc import Iterable

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.models import Heartbeat, Notification


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


def notification_send(
    *, recipients: Iterable, kind: str, message: str, url: str = ""
) -> list[Notification]:
    """Store one in-app notification per recipient; their emails go out after commit."""
    return notification_send_many([(recipients, kind, message, url)])


def notification_send_many(
    items: Iterable[tuple[Iterable, str, str, str]],
) -> list[Notification]:
    """Many notifications in one insert: ``(recipients, kind, message, url)`` per item.
    Emails go out after commit in one task."""
    from core.tasks import notification_email

    rows = [
        Notification(user=user, kind=kind, message=message[:300], url=url)
        for recipients, kind, message, url in items
        for user in {u.pk: u for u in recipients if u is not None}.values()
    ]
    created = Notification.objects.bulk_create(rows, batch_size=2000)
    ids = [n.pk for n in created]
    if ids:
        transaction.on_commit(lambda: notification_email.delay(ids))
    return created


def notification_mark_read(*, user, notification_ids: Iterable[int] | None = None) -> int:
    """Mark the user's notifications read (all unread ones when no ids are given)."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if notification_ids is not None:
        unread = unread.filter(pk__in=list(notification_ids))
    return unread.update(read_at=timezone.now())


def notification_email_send(*, notification_ids: list[int]) -> int:
    """Email each notification once: the conditional update claims it before sending."""
    from django.conf import settings
    from django.core.mail import send_mail

    sent = 0
    for notification in Notification.objects.filter(
        pk__in=notification_ids, emailed_at__isnull=True
    ).select_related("user"):
        claimed = Notification.objects.filter(pk=notification.pk, emailed_at__isnull=True).update(
            emailed_at=timezone.now()
        )
        if not claimed or not notification.user.email:
            continue
        link = f"{settings.SMARKETING['SITE_URL']}{notification.url}" if notification.url else ""
        send_mail(
            subject=f"[smarketing] {notification.get_kind_display()}",
            message=f"{notification.message}\n\n{link}".strip(),
            from_email=None,
            recipient_list=[notification.user.email],
        )
        sent += 1
    return sent
